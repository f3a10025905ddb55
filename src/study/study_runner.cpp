// study run / status: expansion and validation first, the database and the lock, then a backend.
#include "normscale/study/study_runner.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/holder_lock.hpp"
#include "normscale/core/host_name.hpp"
#include "normscale/data/data_source_registry.hpp"
#include "normscale/study/halving_run.hpp"
#include "normscale/study/local_backend.hpp"
#include "normscale/study/rung_schedule.hpp"
#include "normscale/study/selection.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/signal_watch.hpp"
#include "normscale/study/slurm_backend.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/study_heartbeat.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/study/study_progress.hpp"
#include "normscale/study/trial_command.hpp"
#include "normscale/study/trial_packing.hpp"
#include "normscale/study/trial_process.hpp"
#include "normscale/study/trial_store.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"
#include "normscale/train/run_directory_lock.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

namespace normscale {
namespace {

std::string this_executable() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  NS_CHECK(!error, "study run: cannot find the normscale binary (/proc/self/exe: {}); pass --trainer",
           error.message());
  return self.string();
}

std::string batch_text(std::int64_t batch) { return batch == kFullBatch ? "full" : std::to_string(batch); }

// Whether a generated data source makes regression targets (probed once per source, at a few examples); nullopt
// for a file source, whose kind is known only once its files are read.
// What a generated source makes, probed once per source at a few examples; nullopt for a file source (or settings the
// trainer will refuse with its own message).
struct GeneratedSplits {
  bool targets = false;     // regression targets, not class labels
  bool validation = false;  // a validation split
};
std::optional<GeneratedSplits> generated_splits(const DataConfig& data, std::map<std::string, GeneratedSplits>& known) {
  const DataSourceEntry* entry = data_source_registry().find(data.source);
  if (entry == nullptr || entry->reads_files()) return std::nullopt;
  if (const auto found = known.find(data.source); found != known.end()) return found->second;
  DataConfig probe = data;
  probe.synthetic_examples = std::min<Index>(data.synthetic_examples, 8);
  try {
    const DataSplits splits = entry->generate(probe);
    return known[data.source] = {!splits.train.targets.empty(), splits.validation.rows > 0};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Whether a grid point is selected among others of the same regime, batch, ranks and seed.
bool selects_grid_points(const std::vector<Trial>& trials) {
  std::set<std::tuple<std::string, std::int64_t, std::int64_t, std::uint64_t>> seen;
  return std::any_of(trials.begin(), trials.end(), [&seen](const Trial& t) {
    return !seen.insert({t.regime, t.batch, t.ranks, t.seed}).second;
  });
}

// Checks what expand() cannot or leaves to a run: trials that would train alike; the rank count must divide
// virtual_shards (the trainer would refuse); a target or halving needs trials with a validation split; and a
// regression trial records losses and no error, so a study with a validation-error target could time none of them
// (found out only by status and report, after every trial ran). Returns a note for a study whose grid points cannot
// be selected (no validation split): it runs, and the report lists every trial.
std::string validate_for_running(const StudySpec& spec, const std::vector<Trial>& trials) {
  refuse_trials_that_train_alike(spec, trials);
  std::map<std::string, GeneratedSplits> generated;
  const bool error_target = spec.target && spec.target->metric == StudyMetric::kValidationError;
  const bool selects = selects_grid_points(trials);
  std::string note;
  for (const Trial& trial : trials) {
    NS_CHECK(trial.config.virtual_shards % trial.ranks == 0,
             "{}: ranks: {} ranks do not divide virtual_shards = {} (trial {}); use a rank count that divides "
             "it or set base.virtual_shards",
             spec.source, trial.ranks, trial.config.virtual_shards, describe_trial(trial));
    const DataConfig& data = trial.config.data;
    const std::optional<GeneratedSplits> made = generated_splits(data, generated);
    const bool task = trial.config.objective.task == "regression";
    NS_CHECK(!error_target || (!task && !(made && made->targets)),
             "{}: target_validation_error: trial {} trains a regression ({}), whose runs record losses and no error; "
             "hint: select_by = \"validation_loss\" and target_validation_loss",
             spec.source, describe_trial(trial),
             task ? "objective.task = \"regression\""
                  : fmt::format("data.source = \"{}\" makes regression targets", data.source));
    if (made ? made->validation : data.validation > 0) continue;
    const std::string why =
        made ? fmt::format("data.source = \"{}\" generates none", data.source) : std::string("data.validation = 0");
    const std::string_view figure = spec.metric == StudyMetric::kValidationError ? "error" : "loss";
    NS_CHECK(!spec.target && !spec.halving,
             "{}: trial {} has no validation split ({}), but the study {} by the validation {}, which it would never "
             "record; hint: hold out validation examples of data files (data.validation = N), or leave out {}",
             spec.source, describe_trial(trial), why,
             spec.target ? "is timed to a target" : "promotes trials (halving)", figure,
             spec.target ? "the target" : "[halving]");
    if (note.empty() && selects) {
      note = fmt::format(
          "normscale study: note: trial {} has no validation split ({}), so its grid points cannot be "
          "selected by the validation {}: the report lists every trial (all_trials.csv) and selects "
          "none; hint: hold out validation examples of data files (data.validation = N)\n",
          describe_trial(trial), why, figure);
    }
  }
  return note;
}

StudyCounts count_states(const std::vector<Trial>& trials, const std::map<std::string, TrialRecord>& records) {
  StudyCounts counts;
  counts.total = static_cast<std::int64_t>(trials.size());
  for (const Trial& trial : trials) {
    const auto record = records.find(trial.id);
    switch (record == records.end() ? TrialState::kPending : record->second.state) {
      case TrialState::kPending: ++counts.pending; break;
      case TrialState::kRunning: ++counts.running; break;
      case TrialState::kDone: ++counts.done; break;
      case TrialState::kFailed: ++counts.failed; break;
    }
  }
  return counts;
}

std::map<std::string, TrialRecord> records_by_id(const TrialStore& store) {
  std::map<std::string, TrialRecord> records;
  for (TrialRecord& record : store.trials()) records.emplace(record.id, std::move(record));
  return records;
}

std::string dry_run_listing(const StudySpec& spec, const std::vector<Trial>& trials, const StudyLayout& layout,
                            const StudyRunOptions& options, const LocalLauncher& launcher) {
  std::string text = fmt::format("study {} ({}): {} trial(s), backend {}; nothing is run (--dry-run)\n", spec.name,
                                 layout.study_file.string(), trials.size(), options.backend);
  if (spec.halving) {
    text += fmt::format("halving ({}): rungs {} {}, reduction {}; every trial first runs to {} {}, the commands "
                        "below are its runs (resumed at the next rung when promoted)\n",
                        halving_mode_name(spec.halving->mode), fmt::join(spec.halving->rungs, ", "),
                        spec.steps > 0 ? "steps" : "epochs", spec.halving->reduction, spec.halving->rungs.front(),
                        spec.steps > 0 ? "steps" : "epochs");
  }
  for (const Trial& trial : trials) {
    TrialInvocation invocation;
    invocation.ranks = trial.ranks;
    invocation.threads_per_rank = threads_per_rank(trial.config.threads);
    invocation.out = layout.trial_dir(trial.id);
    invocation.config = invocation.out / "config.toml";
    const std::vector<std::string> argv = options.backend == "local" ? local_trial_argv(launcher, invocation)
                                                                     : trainer_argv(launcher.trainer, invocation);
    text += fmt::format("{}  {}  ({} core(s))\n    {}\n", trial.id, describe_trial(trial),
                        trial_cores(trial.ranks, invocation.threads_per_rank), shell_join(argv));
  }
  return text;
}

}  // namespace

int run_study(const StudyRunOptions& options) {
  NS_CHECK(options.backend == "local" || options.backend == "slurm",
           "study run: --backend {}: expected local or slurm", options.backend);
  const StudySpec spec = read_study_file(options.study_file);
  // Every trial is validated before any starts.
  const std::vector<Trial> trials = expand(spec);
  const std::string unselectable = validate_for_running(spec, trials);
  const StudyLayout layout = study_layout(options.study_file);

  LocalOptions local;
  local.cores = options.cores > 0 ? options.cores : std::max<long>(1, sysconf(_SC_NPROCESSORS_ONLN));
  local.launcher.mpiexec = options.mpiexec;
  local.launcher.trainer = options.trainer.empty() ? this_executable() : options.trainer;
  local.launcher.slots = std::min(local.cores, physical_cores());
  local.launcher.as_root = geteuid() == 0;
  local.target = spec.target;
  if (!unselectable.empty()) fmt::print(stderr, "{}", unselectable);
  if (options.dry_run) {
    fmt::print("{}", dry_run_listing(spec, trials, layout, options, local.launcher));
    return 0;
  }

  std::error_code error;
  std::filesystem::create_directories(layout.runs, error);
  NS_CHECK(!error, "study run: cannot create {}: {}", layout.runs.string(), error.message());
  // The one scheduler of a study: STUDY.runs/scheduler.lock (close-on-exec, so trials never hold it).
  const HolderLock lock(layout.scheduler_lock());
  NS_CHECK(lock.held(), "study {}: another `normscale study run` is running this study ({}, per {}); wait for it (or "
           "stop it) and run again", layout.study_file.string(), lock.holder(), layout.scheduler_lock().string());
  TrialStore store(layout.database);
  // Another rung schedule than the recorded one (or none) would reinterpret the recorded rungs: refused before any
  // change.
  check_rung_schedule(spec, trials, store);
  // The claim in the database also keeps off a scheduler on another host, where the flock may not reach.
  StudyHeartbeat heartbeat(store, layout.study_file, std::max(300.0, 10.0 * options.poll_seconds));
  // A study without [halving] records an empty schedule: [halving] added later is then told from a database of
  // before schema 6.
  store.adopt_rung_schedule(spec.halving ? rung_schedule_of(spec) : RungSchedule{{}, "steps"});
  store.upsert_trials(trials);
  std::map<std::string, TrialRecord> records = records_by_id(store);

  // With halving, a trial runs at its rung's budget (its record's rung), and decisions an earlier scheduler
  // did not get to make are made now.
  std::optional<HalvingRun> halving;
  if (spec.halving) halving.emplace(spec, trials);
  const auto as_run = [&](const Trial& trial) {
    return halving ? &halving->at_rung(trial, records.at(trial.id).rung) : &trial;
  };
  // This process holds the study lock, so a trial marked running was left by a scheduler that is gone;
  // the backend finds it again (it may still run, have finished meanwhile, or have died).
  std::vector<const Trial*> queue;
  std::vector<const Trial*> left_running;
  for (const Trial& trial : trials) {
    const TrialState state = records.at(trial.id).state;
    if (state == TrialState::kRunning) {
      left_running.push_back(as_run(trial));
    } else if (state == TrialState::kFailed && options.retry_failed) {
      store.set_state(trial.id, TrialState::kPending);
      queue.push_back(as_run(trial));
    } else if (state == TrialState::kPending) {
      queue.push_back(as_run(trial));
    }
  }
  std::vector<std::string> halving_notes;
  if (halving) {
    HalvingStep step = halving->advance(store);
    queue.insert(queue.begin(), step.promoted.begin(), step.promoted.end());
    halving_notes = std::move(step.notes);
  }
  records = records_by_id(store);
  StudyCounts counts = count_states(trials, records);
  fmt::print(stderr, "normscale study: {} ({} trial(s): {} done, {} failed, {} to run); database {}\n", spec.name,
             counts.total, counts.done, counts.failed, queue.size() + left_running.size(),
             layout.database.string());
  // Trials of an earlier version of the file (a changed [base] or budget gives every trial a new id): said, so that
  // a rerun of everything is no surprise.
  std::set<std::string> ids;
  for (const Trial& trial : trials) ids.insert(trial.id);
  const auto stale = std::count_if(records.begin(), records.end(), [&](const auto& entry) {
    return entry.second.study == spec.name && !ids.contains(entry.first);
  });
  if (stale > 0) {
    fmt::print(stderr,
               "normscale study: {} trial(s) of study {} in the database are not in the current study file (its "
               "settings changed since they ran: a changed [base] or budget makes new trials); they are kept, not "
               "run, and left out of status and report\n",
               stale, spec.name);
  }
  // Another study's trials: a second study file of the same stem (x.toml beside x.study) shares x.db.
  std::set<std::string> other_studies;
  for (const auto& [id, record] : records) {
    if (record.study != spec.name && !ids.contains(id)) other_studies.insert(record.study);
  }
  if (!other_studies.empty()) {
    fmt::print(stderr,
               "normscale study: the database also holds trials of study {} (another study file named {}.*?); a "
               "trial of the same settings is shared, the rest are kept and left out\n",
               fmt::join(other_studies, ", "), layout.study_file.stem().string());
  }

  StudyProgress progress(spec.name, stderr, isatty(STDERR_FILENO) != 0);
  for (const std::string& note : halving_notes) progress.message(note);
  // Either backend asks after each trial's end which trials go on (promoted: pending again, at the next rung).
  // A study timed to a validation-error target stops at the first trial that ended as a regression (no error at all:
  // data read from files with real targets, which validate_for_running could not see): none could be timed.
  const bool error_target = spec.target && spec.target->metric == StudyMetric::kValidationError;
  std::set<std::string> checked;  // done trials seen to record errors
  std::function<std::vector<const Trial*>()> after_trial_end;
  if (halving || error_target) {
    after_trial_end = [&]() -> std::vector<const Trial*> {
      for (const TrialRecord& record : error_target ? store.trials(TrialState::kDone) : std::vector<TrialRecord>{}) {
        if (checked.contains(record.id) || !ids.contains(record.id)) continue;  // this study file's trials
        const std::map<std::string, double> results = store.results(record.id);
        NS_CHECK(results.contains("validation_error") || results.contains("train_error"),
                 "{}: target_validation_error: trial {} ended without a validation error (its records hold losses: "
                 "its data have regression targets); hint: select_by = \"validation_loss\" and "
                 "target_validation_loss",
                 spec.source, record.id);
        checked.insert(record.id);
      }
      if (!halving) return {};
      HalvingStep step = halving->advance(store);
      for (const std::string& note : step.notes) progress.message(note);
      return step.promoted;
    };
  }
  local.after_trial_end = after_trial_end;
  std::optional<int> stopped;
  if (options.backend == "local") {
    stopped = run_local(queue, left_running, store, layout, local, heartbeat, progress, counts);
  } else {
    SlurmOptions slurm;
    slurm.trainer = local.launcher.trainer;
    slurm.srun_mpi = options.srun_mpi;
    slurm.partition = options.partition;
    slurm.time_limit = options.time_limit;
    slurm.signal_seconds = options.signal_seconds;
    slurm.stall_seconds = options.stall_seconds;
    slurm.poll_seconds = options.poll_seconds;
    slurm.target = spec.target;
    slurm.after_trial_end = after_trial_end;
    stopped = run_slurm(queue, left_running, store, layout, slurm, heartbeat, progress, counts);
  }
  if (stopped) {
    const std::size_t still_running = store.trials(TrialState::kRunning).size();
    fmt::print(stderr, "normscale study: stopped by {}; the unfinished trials are pending{}. Run the study again to "
                       "finish it.\n", strsignal(*stopped),
               still_running == 0 ? std::string()
                                  : fmt::format(" ({} still running: the next run follows it)", still_running));
    // Stopped at checkpoints (a time limit ahead): "try again later", as the trainer says it, for a job script to
    // requeue on.
    return *stopped == kCheckpointSignal ? kCheckpointedExitCode : 128 + *stopped;
  }

  records = records_by_id(store);
  std::vector<const Trial*> failed;
  for (const Trial& trial : trials) {
    if (records.at(trial.id).state == TrialState::kFailed) failed.push_back(&trial);
  }
  counts = count_states(trials, records);
  fmt::print(stderr, "normscale study: {}: {} of {} trial(s) done, {} failed\n", spec.name, counts.done, counts.total,
             counts.failed);
  for (const Trial* trial : failed) {
    const TrialRecord& record = records.at(trial->id);
    fmt::print(stderr, "  failed: {} (exit code {}): {}; log: {}\n", trial->id,
               record.exit_code ? std::to_string(*record.exit_code) : "?", describe_trial(*trial),
               (layout.trial_dir(trial->id) / "log.txt").string());
  }
  return failed.empty() ? 0 : 1;
}

std::string study_status(const std::filesystem::path& study_file) {
  const StudySpec spec = read_study_file(study_file);
  const std::vector<Trial> trials = expand(spec);
  const StudyLayout layout = study_layout(study_file);
  NS_CHECK(std::filesystem::exists(layout.database),
           "study status: no database {} yet; start the study with `normscale study run {}`",
           layout.database.string(), study_file.string());
  const TrialStore store(layout.database);
  const std::map<std::string, TrialRecord> records = records_by_id(store);
  const StudyCounts counts = count_states(trials, records);
  std::string text = fmt::format("study {} ({})\ndatabase {}\n{} trial(s): {} done, {} running, {} failed, {} pending",
                                 spec.name, layout.study_file.string(), layout.database.string(), counts.total,
                                 counts.done, counts.running, counts.failed, counts.pending);
  // Running in the database but waiting in SLURM's queue, as the scheduler last saw it: not running yet.
  std::map<std::string, std::string> queued;
  for (const Trial& trial : trials) {
    const auto record = records.find(trial.id);
    if (record == records.end() || record->second.state != TrialState::kRunning || !record->second.process ||
        record->second.process->job.empty()) {
      continue;
    }
    std::ifstream file(layout.trial_dir(trial.id) / kSlurmQueueFile);
    std::string note;
    if (std::getline(file, note) && !note.empty()) queued[trial.id] = note;
  }
  if (!queued.empty()) text += fmt::format(" ({} of them waiting in SLURM's queue)", queued.size());
  // The ETA as the scheduler would see it: the trials left at the mean wall time of those done, as many
  // at once as run now.
  double done_seconds = 0.0;
  for (const auto& [id, record] : records) {
    if (record.state == TrialState::kDone && record.wall_seconds) done_seconds += *record.wall_seconds;
  }
  const std::int64_t running_now = counts.running - static_cast<std::int64_t>(queued.size());
  if (counts.done > 0 && running_now > 0) {
    const double left = static_cast<double>(counts.pending + counts.running) * done_seconds /
                        static_cast<double>(counts.done) / static_cast<double>(running_now);
    text += fmt::format(", ETA {:.0f} s", left);
  }
  text += "\n";
  const std::optional<SchedulerRecord> scheduler = store.scheduler();
  // A scheduler of this host is looked up: one killed (or lost with its node's reboot) left its claim and its
  // trials' "running" behind until the next `study run`.
  const bool scheduler_gone = scheduler && scheduler->host == host_name() && scheduler->pid > 0 &&
                              kill(static_cast<pid_t>(scheduler->pid), 0) != 0 && errno == ESRCH;
  text += scheduler ? fmt::format("scheduler: host {}, pid {}, since {}, last seen {:.0f} s ago{}\n", scheduler->host,
                                  scheduler->pid, scheduler->started, scheduler->seconds_since_seen,
                                  scheduler_gone ? fmt::format(": gone (no process {} on this host); `normscale study "
                                                               "run` takes up its trials",
                                                               scheduler->pid)
                                                 : std::string())
                    : std::string("scheduler: none is running this study\n");
  // The running trials as far as they have got: their last evaluation and their last progress.
  for (const Trial& trial : trials) {
    const auto record = records.find(trial.id);
    if (record == records.end() || record->second.state != TrialState::kRunning) continue;
    if (const auto wait = queued.find(trial.id); wait != queued.end()) {
      text += fmt::format("  queued  {}  SLURM task {}: {}  {}\n", trial.id, record->second.process->job, wait->second,
                          describe_trial(trial));
      continue;
    }
    const nlohmann::json last = last_evaluation_record(layout.trial_dir(trial.id));
    const auto number = [&](const char* key, const char* format) {
      return last.contains(key) && last[key].is_number() ? fmt::format(fmt::runtime(format), last[key].get<double>())
                                                         : std::string("-");
    };
    const std::optional<double> idle = record->second.seconds_since_heartbeat;
    const std::optional<double> validation = metric_of(last, spec.metric);
    const std::optional<TrialProcess>& process = record->second.process;
    const bool ended = process && process->pid > 0 && on_this_machine(*process) && !process_alive(*process);
    text += fmt::format("  running {}  step {}  epoch {}  {} {}  last progress {}  {}{}\n", trial.id,
                        number("step", "{:.0f}"), number("epoch", "{:.2f}"), metric_name(spec.metric),
                        validation ? metric_value_text(spec.metric, *validation) : std::string("-"),
                        idle ? fmt::format("{:.0f} s ago", *idle) : std::string("-"), describe_trial(trial),
                        ended ? fmt::format("  (its process {} has ended, not yet recorded{})", process->pid,
                                            scheduler_gone || !scheduler ? ": `normscale study run` records it or "
                                                                           "resumes it from its checkpoint"
                                                                         : "")
                              : std::string());
  }
  std::set<std::string> ids;
  std::vector<TrialSummary> summaries;
  const std::size_t last_rung = spec.halving ? spec.halving->rungs.size() - 1 : 0;
  bool any_has_metric = false, any_has_other = false;  // among the done trials
  text += fmt::format("{:<16}  {:<7}  {:>4}  {:>8}  {}\n", "trial", "state", "exit", "wall", "settings");
  for (const Trial& trial : trials) {
    ids.insert(trial.id);
    const auto record = records.find(trial.id);
    const bool stored = record != records.end();
    const TrialState state = stored ? record->second.state : TrialState::kPending;
    const std::string exit = stored && record->second.exit_code ? std::to_string(*record->second.exit_code) : "-";
    const std::string wall =
        stored && record->second.wall_seconds ? fmt::format("{:.1f}s", *record->second.wall_seconds) : "-";
    std::string rung;
    if (spec.halving && stored) {
      const std::int64_t at = record->second.rung;
      const std::int64_t budget = spec.halving->rungs[static_cast<std::size_t>(
          std::clamp<std::int64_t>(at, 0, static_cast<std::int64_t>(spec.halving->rungs.size()) - 1))];
      rung = fmt::format("  ({} rung {}, {} {})", record->second.stopped_early ? "stopped early at" : "at", at,
                         budget, spec.steps > 0 ? "steps" : "epochs");
    }
    text += fmt::format("{:<16}  {:<7}  {:>4}  {:>8}  {}{}\n", trial.id, trial_state_name(state), exit, wall,
                        describe_trial(trial), rung);
    if (state == TrialState::kFailed) {  // diverged or crashed: its point does not reach the target
      summaries.push_back(TrialSummary{trial.id, trial.regime, trial.batch, grid_point_json(trial), std::nullopt,
                                       std::nullopt, true});
    }
    // As the report: a trial halving stopped at a lower rung has a lower budget's figures.
    if (state != TrialState::kDone || short_of_budget(record->second, last_rung)) continue;
    std::map<std::string, double> figures = store.results(trial.id);
    // A trial's metrics are read only when its results were timed to another target (status --watch repeats this).
    if (!timed_to(figures, spec.target)) retime_to_target(figures, store.metrics(trial.id), spec.target);
    const auto figure = [&](const std::string& key) {
      const auto found = figures.find(key);
      return found == figures.end() ? std::nullopt : std::optional<double>(found->second);
    };
    TrialSummary summary{trial.id, trial.regime, trial.batch, grid_point_json(trial),
                         figure(metric_key(spec.metric)), std::nullopt};
    any_has_metric = any_has_metric || summary.value.has_value();
    any_has_other = any_has_other || figure(metric_key(other_metric(spec.metric))).has_value();
    const auto steps = figure("steps_to_target");
    const auto seconds = figure("seconds_to_target");
    if (steps && seconds) summary.to_target = TimeToTarget{static_cast<std::int64_t>(*steps), *seconds};
    summaries.push_back(std::move(summary));
  }
  const std::size_t others = std::count_if(records.begin(), records.end(),
                                           [&](const auto& entry) { return !ids.contains(entry.first); });
  if (others > 0) text += fmt::format("({} trial(s) in the database are no longer in the study file)\n", others);
  const std::vector<Selection> selections = select_hyperparameters(summaries);
  if (const std::string note = missing_metric_note(spec.metric, any_has_metric, any_has_other); !note.empty()) {
    text += note + "\n";
  }
  if (!selections.empty()) {
    text += fmt::format("best grid point per (regime, batch) by {} (mean over its trials):\n",
                        metric_name(spec.metric));
    for (const Selection& s : selections) {
      text += fmt::format("  regime={} batch={}: {} {} {} ({} trial(s){})", s.regime, batch_text(s.batch), s.best_grid,
                          metric_name(spec.metric), metric_value_text(spec.metric, s.best_value), s.best_trials.size(),
                          s.best_failed > 0 ? fmt::format(", {} failed", s.best_failed) : "");
      if (spec.target) {
        text += s.steps_to_target ? fmt::format("; fastest to {}: {} in {:.0f} steps, {:.2f} s",
                                                target_text(*spec.target), *s.fastest_grid, *s.steps_to_target,
                                                *s.seconds_to_target)
                                  : fmt::format("; no grid point reaches {}", target_text(*spec.target));
      }
      text += "\n";
    }
  }
  return text;
}

int watch_study_status(const std::filesystem::path& study_file, double interval_seconds, std::int64_t count) {
  SignalWatch signals;  // Ctrl-C ends the view, not the process mid-print
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  for (std::int64_t shown = 0; count == 0 || shown < count; ++shown) {
    const std::string text = study_status(study_file);
    // In place on a terminal (also over SSH: plain ANSI, home and clear); one block after another elsewhere.
    if (terminal) {
      fmt::print("\033[H\033[2J{}(refreshed every {:g} s; Ctrl-C to stop)\n", text, interval_seconds);
    } else {
      fmt::print("{}\n", text);
    }
    std::fflush(stdout);
    if (count != 0 && shown + 1 == count) break;
    if (signals.wait(interval_seconds)) break;
  }
  return 0;
}

}  // namespace normscale
