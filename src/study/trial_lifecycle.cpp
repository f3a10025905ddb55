// Preparing a trial's run directory and recording its end.
#include "normscale/study/trial_lifecycle.hpp"

#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/atomic_file.hpp"
#include "normscale/study/trial_results.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/run_directory_lock.hpp"

#include <fmt/format.h>

#include <ctime>
#include <fstream>

namespace normscale {
namespace {

// As the store writes its timestamps: UTC, "%Y-%m-%dT%H:%M:%SZ".
std::string utc_timestamp(std::time_t time) {
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc));
}

}  // namespace

bool has_checkpoint(const std::filesystem::path& run_dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(run_dir / "checkpoints", error)) return false;
  return !list_checkpoints(run_dir.string()).empty();
}

PreparedTrial prepare_trial(const StudyLayout& layout, const Trial& trial) {
  const std::filesystem::path dir = layout.trial_dir(trial.id);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  NS_CHECK(!error, "trial {}: cannot create its run directory {}: {}", trial.id, dir.string(), error.message());
  PreparedTrial prepared;
  prepared.log = dir / "log.txt";
  prepared.lock = dir / "trial.lock";
  prepared.exit_code = dir / "exit_code";
  // What an earlier run of the trial left for the scheduler is stale now.
  std::filesystem::remove(prepared.exit_code, error);
  std::filesystem::remove(dir / "slurm_job", error);

  TrainConfig config = trial.config;
  config.out = dir.string();
  config.progress = false;
  config.resume = false;
  config.overwrite = true;  // the trial's directory is the scheduler's: without a checkpoint it starts over
  const std::filesystem::path config_path = dir / "config.toml";
  write_file_atomically(config_path.string(), to_toml(config));

  prepared.invocation.ranks = trial.ranks;
  prepared.invocation.threads_per_rank = threads_per_rank(trial.config.threads);
  prepared.invocation.config = config_path;
  prepared.invocation.out = dir;
  prepared.invocation.resume = has_checkpoint(dir);
  // A finished marker there is an earlier run's (a fresh start's predecessor, or a halving rung's run with a
  // smaller budget) and must not vouch for this one; a run that had in fact finished this budget writes its
  // outputs again from its final checkpoint and marks itself finished anew.
  std::filesystem::remove(finished_marker(dir), error);

  std::ofstream log(prepared.log, std::ios::app);
  NS_CHECK(log.is_open(), "trial {}: cannot write its log {}", trial.id, prepared.log.string());
  log << fmt::format("=== normscale study: {} trial {} ({}){}\n", prepared.invocation.resume ? "resuming" : "starting",
                     trial.id, describe_trial(trial), prepared.invocation.resume ? " from its newest checkpoint" : "");
  return prepared;
}

TrialState record_trial_end(TrialStore& store, const StudyLayout& layout, const std::string& trial_id, int exit_code,
                            double run_seconds, std::optional<MetricTarget> target,
                            std::optional<std::time_t> finished) {
  const std::filesystem::path dir = layout.trial_dir(trial_id);
  // A promoted trial's time counts its earlier rungs too.
  const std::optional<TrialRecord> record = store.trial(trial_id);
  const double wall_seconds = run_seconds + (record ? record->earlier_seconds : 0.0);
  TrialOutcome outcome;
  outcome.exit_code = exit_code;
  outcome.wall_seconds = wall_seconds;
  if (finished) outcome.finished = utc_timestamp(*finished);
  TrialResults results;
  std::string problem;
  try {
    results = read_trial_results(dir, target);
  } catch (const Error& error) {
    problem = error.what();
  }
  if (problem.empty() && exit_code == 0 && results.rows.empty()) {
    problem = fmt::format("the trainer exited 0 but {}/metrics.jsonl has no evaluation", dir.string());
  }
  outcome.log_tail = log_tail(dir / "log.txt");
  if (!problem.empty()) outcome.log_tail += "\nnormscale study: " + problem;
  results.figures.emplace_back("wall_seconds", wall_seconds);
  const TrialState state = exit_code == 0 && problem.empty() ? TrialState::kDone : TrialState::kFailed;
  store.finish_trial(trial_id, state, outcome, results.figures, results.rows);
  return state;
}

}  // namespace normscale
