// Submitting job arrays with sbatch and following them with squeue / sacct.
#include "normscale/study/slurm_backend.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/atomic_file.hpp"
#include "normscale/core/host_name.hpp"
#include "normscale/study/child_process.hpp"
#include "normscale/study/signal_watch.hpp"
#include "normscale/study/slurm_script.hpp"
#include "normscale/study/trial_lifecycle.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace normscale {
namespace {

using Clock = std::chrono::steady_clock;

struct TrackedTrial {
  const Trial* trial = nullptr;
  std::string task;                // "<array job id>_<index>"
  Clock::time_point submitted;
  int missing_polls = 0;           // polls in a row that did not list the task
  Clock::time_point missing_since;  // the first of them
  std::optional<std::string> queue_note;  // its wait in the queue as last written (kSlurmQueueFile; "": none)
};

// How long a task must stay out of squeue, with slurmctld calling it ended, before its trial is failed: during a
// requeue (a trainer stopped at its checkpoint) slurmctld may show the job FAILED for a moment before it is
// PENDING again (seen on SLURM 22.05 after `scontrol requeue` at a time limit's warning).
constexpr double kVanishedSeconds = 10.0;
// ... and when the job script said it is requeueing the job: a loaded slurmctld took more than 10 s to list the
// requeued job again (a fresh-clone CI run, 2026-12-04).
constexpr double kRequeueSeconds = 300.0;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Whether the job script's last word in the trial's log is that it is requeueing the job (its last
// "=== normscale study:" line; a requeued job that starts again writes another).
bool requeue_announced(const std::filesystem::path& log) {
  const std::string text = read_text(log);
  const auto last = text.rfind("=== normscale study:");
  return last != std::string::npos && text.find("requeueing job", last) != std::string::npos;
}

std::optional<int> read_exit_code(const std::filesystem::path& path) {
  std::ifstream file(path);
  int code = 0;
  if (file >> code) return code;
  return std::nullopt;
}

}  // namespace

std::optional<double> slurm_run_seconds(const std::filesystem::path& dir) {
  std::ifstream file(dir / kSlurmRunSecondsFile);
  std::optional<double> total;
  double seconds = 0.0;
  while (file >> seconds) {
    if (seconds >= 0.0) total = total.value_or(0.0) + seconds;
  }
  return total;
}

namespace {

std::string trim(std::string text) {
  text.erase(0, text.find_first_not_of(" \t\r\n"));
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  return text;
}

struct QueuedTask {
  std::string state;   // squeue's %T
  std::string reason;  // %r: why a pending task waits
};

// The queue now; nullopt when squeue itself failed (a controller restarting): then nothing is concluded.
std::optional<std::map<std::string, QueuedTask>> squeue_snapshot() {
  const CapturedRun run = run_captured({"squeue", "-h", "-r", "--me", "-o", "%i|%T|%r"});
  if (run.exit_code != 0) return std::nullopt;
  std::map<std::string, QueuedTask> tasks;
  for (const auto& [task, rest] : parse_squeue(run.output)) {
    const auto bar = rest.find('|');
    tasks[task] = {trim(rest.substr(0, bar)), bar == std::string::npos ? std::string() : trim(rest.substr(bar + 1))};
  }
  return tasks;
}

// How long a scheduler waits for an sbatch that the scheduler before it left running (orphaned when that one was
// killed; sbatch keeps retrying while slurmctld does not answer) before it gives up with an error.
constexpr double kEarlierSbatchSeconds = 300.0;

// Waits until no sbatch of `script` that an earlier scheduler started on this host runs any more: the job it
// submits shows in squeue only after that, and a look before would submit the trials a second time.
void wait_for_earlier_sbatch(const std::string& script, StudyProgress& progress) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(kEarlierSbatchSeconds);
  for (bool told = false;; told = true) {
    const std::vector<pid_t> running = processes_with_last_argument(script);
    if (running.empty()) return;
    NS_CHECK(Clock::now() < deadline,
             "study run --backend slurm: sbatch {} (pid {}), started by a scheduler that stopped, still runs after "
             "{:g} s (is slurmctld answering?); wait for it to end or stop it, then run the study again",
             script, running.front(), kEarlierSbatchSeconds);
    if (!told) {
      progress.message(fmt::format("normscale study: waiting for sbatch {} (pid {}), left running by the scheduler "
                                   "that stopped, before looking for its job", script, running.front()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The trial's task in the job array an earlier scheduler submitted just before it died, before it could record
// the job id: `submission` (written ahead of sbatch) names the script, the trial's index in the array and the
// scheduler's host, and squeue's commands name the job that runs that script. Empty when no queued job runs it.
// `waited`: the scripts whose sbatch was already waited for (each is, once).
std::string task_of_submission(const std::filesystem::path& submission, std::set<std::string>& waited,
                               StudyProgress& progress) {
  std::istringstream text(read_text(submission));
  std::string script;
  std::string index;
  std::string host;
  if (!std::getline(text, script) || !std::getline(text, index) || script.empty()) return {};
  std::getline(text, host);  // absent in a file an older scheduler wrote
  host = trim(host);
  const bool elsewhere = !host.empty() && host != host_name();
  if (waited.insert(script).second && !elsewhere) wait_for_earlier_sbatch(script, progress);
  const auto find = [&] {
    const CapturedRun run = run_captured({"squeue", "-h", "-r", "--me", "-o", "%i|%o"});
    return run.exit_code == 0 ? task_running_script(run.output, script, trim(index)) : std::string();
  };
  std::string task = find();
  if (!task.empty() || !elsewhere) return task;
  // An sbatch left running on another host cannot be seen from here: its job may still appear, for as long as that
  // sbatch could still run (kEarlierSbatchSeconds from the submission, as on this host).
  const auto written = std::filesystem::last_write_time(submission);
  const auto deadline = written + std::chrono::duration_cast<std::filesystem::file_time_type::duration>(
                                      std::chrono::duration<double>(kEarlierSbatchSeconds));
  for (bool told = false; task.empty() && std::filesystem::file_time_type::clock::now() < deadline; told = true) {
    if (!told) {
      progress.message(fmt::format("normscale study: {} was submitted from {}, where an sbatch may still run: "
                                   "looking for its job in squeue until {:g} s after the submission",
                                   script, host, kEarlierSbatchSeconds));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    task = find();
  }
  return task;
}

}  // namespace

std::map<std::string, std::string> parse_squeue(std::string_view output) {
  std::map<std::string, std::string> tasks;
  std::istringstream lines{std::string(output)};
  for (std::string line; std::getline(lines, line);) {
    const auto bar = line.find('|');
    if (bar == std::string::npos) continue;
    tasks[trim(line.substr(0, bar))] = trim(line.substr(bar + 1));
  }
  return tasks;
}

std::string task_running_script(std::string_view squeue_commands, const std::filesystem::path& script,
                                std::string_view index) {
  for (const auto& [task, command] : parse_squeue(squeue_commands)) {
    if (std::filesystem::path(command).filename() == script.filename()) {
      return fmt::format("{}_{}", task.substr(0, task.find('_')), index);
    }
  }
  return {};
}

bool job_script_started(const std::filesystem::path& log) {
  const std::string text = read_text(log);
  const auto started = text.rfind("=== normscale study: SLURM job");
  if (started == std::string::npos) return false;
  for (const char* prepared : {"=== normscale study: starting trial", "=== normscale study: resuming trial"}) {
    const auto at = text.rfind(prepared);
    if (at != std::string::npos && at > started) return false;
  }
  return true;
}

std::string slurm_queue_note(std::string_view state, std::string_view reason) {
  if (state == "RUNNING" || state == "COMPLETING" || state == "CONFIGURING" || state == "COMPLETED") return {};
  return reason.empty() || reason == "None" ? std::string(state) : fmt::format("{} ({})", state, reason);
}

bool slurm_wait_needs_attention(std::string_view state, std::string_view reason) {
  if (slurm_queue_note(state, reason).empty()) return false;
  // A requeue passes through REQUEUED on its way back to PENDING; suspended, held for a requeue, ... need attention.
  if (state != "PENDING") return state != "REQUEUED" && state != "REQUEUE_FED";
  for (const char* ordinary : {"None", "Resources", "Priority", "BeginTime", "Dependency", "QOSResourceLimit"}) {
    if (reason == ordinary) return false;
  }
  return !reason.empty();
}

std::optional<int> parse_sacct_exit_code(std::string_view output) {
  std::istringstream lines{std::string(output)};
  for (std::string line; std::getline(lines, line);) {
    const auto bar = line.find('|');
    if (bar == std::string::npos) continue;
    const std::string state = trim(line.substr(0, bar));
    const std::string exit = trim(line.substr(bar + 1));
    const auto colon = exit.find(':');
    if (colon == std::string::npos) continue;
    try {
      const int code = std::stoi(exit.substr(0, colon));
      const int signal = std::stoi(exit.substr(colon + 1));
      if (signal != 0) return 128 + signal;
      if (code != 0 || state.starts_with("COMPLETED")) return code;
      // Cancelled or timed out before the script could exit on its own.
      return 128 + SIGTERM;
    } catch (const std::exception&) {
      continue;
    }
  }
  return std::nullopt;
}

std::optional<std::pair<std::string, std::string>> parse_scontrol_job(std::string_view output) {
  const auto field = [&](std::string_view key) -> std::optional<std::string> {
    const std::string needle = fmt::format(" {}=", key);
    const std::string text = fmt::format(" {}", output);
    const auto at = text.find(needle);
    if (at == std::string::npos) return std::nullopt;
    const auto begin = at + needle.size();
    return text.substr(begin, text.find_first_of(" \n", begin) - begin);
  };
  const auto state = field("JobState");
  const auto exit = field("ExitCode");
  if (!state || !exit) return std::nullopt;
  return std::pair{*state, *exit};
}

bool slurm_state_active(std::string_view state) {
  for (const char* active : {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING",
                             "COMPLETING", "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"}) {
    if (state == active) return true;
  }
  return false;
}

std::optional<int> run_slurm(std::span<const Trial* const> queue, std::span<const Trial* const> submitted_before,
                             TrialStore& store, const StudyLayout& layout, const SlurmOptions& options,
                             StudyHeartbeat& heartbeat, StudyProgress& progress, StudyCounts& counts) {
  SignalWatch signals;
  std::vector<TrackedTrial> tracked;
  std::vector<const Trial*> to_submit;
  std::int64_t finished = 0;
  const auto job_file = [&](const Trial& trial) { return layout.trial_dir(trial.id) / "slurm_job"; };
  // A task's wait in the queue, kept in its run directory for `study status`, and said when it is out of the ordinary
  // (a hold, a drained node): it would otherwise pass for a trial that runs.
  const auto note_queue_wait = [&](TrackedTrial& t, const QueuedTask& task) {
    const std::string note = slurm_queue_note(task.state, task.reason);
    if (t.queue_note == note) return;
    const std::filesystem::path file = layout.trial_dir(t.trial->id) / kSlurmQueueFile;
    std::error_code ignored;
    if (note.empty()) {
      std::filesystem::remove(file, ignored);
    } else {
      write_file_atomically(file.string(), note + "\n");
    }
    if (slurm_wait_needs_attention(task.state, task.reason)) {
      progress.message(
          fmt::format("normscale study: trial {} (SLURM task {}) waits in the queue: {}; it runs once "
                      "SLURM lets it (a held task: scontrol release {})",
                      t.trial->id, t.task, note, t.task));
    }
    t.queue_note = note;
  };
  const auto submission_file = [&](const Trial& trial) { return layout.trial_dir(trial.id) / "slurm_submission"; };

  // A trial an earlier scheduler submitted is followed when its job is queued or has finished.
  if (!submitted_before.empty()) {
    const auto queued = squeue_snapshot();
    std::set<std::string> waited;
    NS_CHECK(queued.has_value(), "study run --backend slurm: squeue failed; is SLURM reachable (SLURM_CONF)?");
    for (const Trial* trial : submitted_before) {
      // The task recorded in the store; an older scheduler kept it only in the run directory's file.
      const std::optional<TrialRecord> record = store.trial(trial->id);
      std::string task = record && record->process ? record->process->job : std::string();
      if (task.empty()) task = trim(read_text(job_file(*trial)));
      // Marked running just before an sbatch whose job id was never recorded: found by its script, or submitted.
      const bool found =
          task.empty() && !(task = task_of_submission(submission_file(*trial), waited, progress)).empty();
      const bool exited = std::filesystem::exists(layout.trial_dir(trial->id) / "exit_code");
      if ((!task.empty() && (queued->contains(task) || found)) || exited) {
        if (found) {
          write_file_atomically(job_file(*trial).string(), task + "\n");
          TrialProcess process;
          process.job = task;
          store.set_process(trial->id, process);
          progress.message(fmt::format("normscale study: trial {} is SLURM task {}, found by its job script (the "
                                       "scheduler that submitted it stopped before recording it)", trial->id, task));
        }
        tracked.push_back({trial, task, Clock::now(), 0, {}, std::nullopt});
      } else {
        store.set_state(trial->id, TrialState::kPending);
        to_submit.push_back(trial);
        --counts.running;
        ++counts.pending;
      }
    }
  }
  to_submit.insert(to_submit.end(), queue.begin(), queue.end());

  // One job array per (ranks, threads per rank), in order of first appearance; with halving, again for the
  // trials each poll promotes (numbered, so a second submission within the second keeps its own script).
  std::int64_t submissions = 0;
  const auto submit = [&](std::span<const Trial* const> trials) {
    std::vector<SlurmArrayJob> jobs;
    std::vector<std::vector<const Trial*>> job_trials;
    for (const Trial* trial : trials) {
      const std::int64_t threads = threads_per_rank(trial->config.threads);
      std::size_t j = 0;
      while (j < jobs.size() && !(jobs[j].ranks == trial->ranks && jobs[j].threads_per_rank == threads)) ++j;
      if (j == jobs.size()) {
        jobs.push_back({slurm_job_name(trial->study), options.trainer, options.srun_mpi, trial->ranks, threads,
                        options.time_limit, options.signal_seconds, {}});
        job_trials.emplace_back();
      }
      jobs[j].trials.push_back(prepare_trial(layout, *trial).invocation);
      // An earlier submission's runs (an earlier rung, a failed try) are not this one's.
      std::error_code ignored;
      std::filesystem::remove(layout.trial_dir(trial->id) / kSlurmRunSecondsFile, ignored);
      job_trials[j].push_back(trial);
    }
    std::filesystem::create_directories(layout.slurm_dir());
    const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      const std::string again = submissions > 0 ? fmt::format("-{}", submissions) : std::string();
      const std::filesystem::path script =
          layout.slurm_dir() /
          fmt::format("{}-r{}t{}-{}{}.sh", jobs[j].job_name, jobs[j].ranks, jobs[j].threads_per_rank, stamp, again);
      write_file_atomically(script.string(), slurm_job_script(jobs[j]));
      chmod(script.c_str(), 0755);
      // Ahead of sbatch: a scheduler killed between sbatch and recording the job id leaves these trials running
      // with their script and index, and the next one finds the job (task_of_submission) instead of submitting
      // the trials a second time (two jobs in one run directory: the second fails on its lock).
      for (std::size_t i = 0; i < job_trials[j].size(); ++i) {
        const Trial& trial = *job_trials[j][i];
        write_file_atomically(submission_file(trial).string(),
                              fmt::format("{}\n{}\n{}\n", script.string(), i, host_name()));
        store.set_process(trial.id, TrialProcess{});
        store.set_state(trial.id, TrialState::kRunning);
      }
      const CapturedRun sbatch = run_captured(sbatch_argv(jobs[j], script, options.partition));
      NS_CHECK(sbatch.exit_code == 0, "study run --backend slurm: sbatch {} failed (exit code {}): {}",
               script.string(), sbatch.exit_code, trim(sbatch.output));
      const std::string job_id = trim(sbatch.output.substr(0, sbatch.output.find(';')));
      NS_CHECK(!job_id.empty() && job_id.find_first_not_of("0123456789") == std::string::npos,
               "study run --backend slurm: sbatch printed '{}', expected a job id (--parsable)", trim(sbatch.output));
      for (std::size_t i = 0; i < job_trials[j].size(); ++i) {
        const Trial& trial = *job_trials[j][i];
        const std::string task = fmt::format("{}_{}", job_id, i);
        write_file_atomically(job_file(trial).string(), task + "\n");
        store.set_state(trial.id, TrialState::kRunning);
        TrialProcess process;
        process.job = task;
        store.set_process(trial.id, process);
        tracked.push_back({&trial, task, Clock::now(), 0, {}, std::nullopt});
        --counts.pending;
        ++counts.running;
      }
      progress.message(fmt::format("normscale study: submitted job array {} ({} trial(s) of {} rank(s)): {}", job_id,
                                   job_trials[j].size(), jobs[j].ranks, script.string()));
    }
    ++submissions;
  };
  submit(to_submit);

  while (!tracked.empty()) {
    std::vector<const Trial*> again;  // promoted by successive halving: submitted after this poll
    counts.queued = std::count_if(tracked.begin(), tracked.end(),
                                  [](const TrackedTrial& t) { return t.queue_note && !t.queue_note->empty(); });
    progress.update(counts, finished);
    if (signals.wait(options.poll_seconds)) break;
    heartbeat.beat();
    const auto queued = squeue_snapshot();
    for (auto t = tracked.begin(); t != tracked.end();) {
      const std::filesystem::path dir = layout.trial_dir(t->trial->id);
      std::optional<int> code = read_exit_code(dir / "exit_code");
      // The task's state in this poll's squeue: nullptr when not listed (or squeue failed).
      const auto listed = queued ? queued->find(t->task) : std::map<std::string, QueuedTask>::const_iterator{};
      const QueuedTask* in_queue = queued && listed != queued->end() ? &listed->second : nullptr;
      const std::string* slurm_state = in_queue != nullptr ? &in_queue->state : nullptr;
      if (in_queue != nullptr) note_queue_wait(*t, *in_queue);
      const bool missing = !code && queued && slurm_state == nullptr;
      if (missing && t->missing_polls++ == 0) t->missing_since = Clock::now();
      if (missing && t->missing_polls >= 2) {
        // Not listed: the job ended without an exit_code file (cancelled, its node failed), or squeue's default
        // states hide it for a moment (a requeue in progress). slurmctld still knows it for a while (MinJobAge).
        const CapturedRun shown = run_captured({"scontrol", "-o", "show", "job", t->task});
        const auto job = shown.exit_code == 0 ? parse_scontrol_job(shown.output) : std::nullopt;
        if (job && slurm_state_active(job->first)) {
          t->missing_polls = 0;
          ++t;
          continue;
        }
        // A cancelled job does not come back, whatever its script announced: its trial fails now.
        const bool cancelled = job && job->first.rfind("CANCELLED", 0) == 0;
        const double grace = cancelled                             ? 0.0
                             : requeue_announced(dir / "log.txt") ? kRequeueSeconds
                                                                  : kVanishedSeconds;
        if (std::chrono::duration<double>(Clock::now() - t->missing_since).count() < grace) {
          ++t;  // ended, says slurmctld: unless it comes back (a requeue), failed once the grace has passed
          continue;
        }
        if (job) code = parse_sacct_exit_code(job->first + "|" + job->second);
        if (!code) {
          const CapturedRun sacct = run_captured({"sacct", "-n", "-P", "-X", "-j", t->task, "-o", "State,ExitCode"});
          code = sacct.exit_code == 0 ? parse_sacct_exit_code(sacct.output) : std::nullopt;
        }
        // No record and never started: slurmctld lost the job (restarted without its saved state).
        const bool lost = !code && !job && !job_script_started(dir / "log.txt");
        if (!code) code = 255;
        std::ofstream(dir / "log.txt", std::ios::app) << fmt::format(
            "normscale study: SLURM task {} left the queue without writing {}/exit_code{}\n", t->task, dir.string(),
            job    ? " (SLURM: " + job->first + ")"
            : lost ? "; SLURM keeps no record of it and its job script never started (slurmctld restarted without its "
                     "saved state?): `study run --retry-failed` submits it again"
                   : std::string());
      }
      if (slurm_state != nullptr) t->missing_polls = 0;
      // Progress is due only while SLURM runs the task, not while it waits in the queue (e.g. requeued).
      const bool running = slurm_state != nullptr && *slurm_state == "RUNNING";
      if (!code && running) {
        const double idle = heartbeat.progress(t->trial->id, dir);
        if (options.stall_seconds > 0 && idle > options.stall_seconds) {
          run_captured({"scancel", t->task});
          std::ofstream(dir / "log.txt", std::ios::app) << fmt::format(
              "normscale study: trial {} made no progress for {:.0f} s while SLURM listed task {} as running (a hung "
              "trainer or a lost node); cancelled it (study run --stall-seconds {:g})\n",
              t->trial->id, idle, t->task, options.stall_seconds);
          code = kStalledExitCode;
        }
      } else if (!code) {
        heartbeat.restart(t->trial->id);
      }
      if (!code) {
        ++t;
        continue;
      }
      heartbeat.restart(t->trial->id);
      note_queue_wait(*t, QueuedTask{});  // out of the queue: no wait left to show
      // The job's own runs (their sum, as the job script wrote them); since its submission where it wrote none.
      const double wall =
          slurm_run_seconds(dir).value_or(std::chrono::duration<double>(Clock::now() - t->submitted).count());
      const TrialState state = record_trial_end(store, layout, t->trial->id, *code, wall, options.target);
      --counts.running;
      ++(state == TrialState::kDone ? counts.done : counts.failed);
      ++finished;
      if (state == TrialState::kFailed) {
        progress.message(fmt::format("normscale study: trial {} failed (exit code {}): {}; log: {}", t->trial->id,
                                     *code, describe_trial(*t->trial), (dir / "log.txt").string()));
      }
      t = tracked.erase(t);
      if (!options.after_trial_end) continue;
      const std::vector<const Trial*> promoted = options.after_trial_end();
      again.insert(again.end(), promoted.begin(), promoted.end());
      counts.done -= static_cast<std::int64_t>(promoted.size());
      counts.pending += static_cast<std::int64_t>(promoted.size());
    }
    if (!again.empty()) submit(again);
  }
  if (!signals.stop_signal()) {
    progress.update(counts, finished);
    progress.finish();
    return std::nullopt;
  }
  std::set<std::string> arrays;
  for (const TrackedTrial& t : tracked) arrays.insert(t.task.substr(0, t.task.find('_')));
  progress.message(fmt::format("normscale study: {} received; cancelling {} job array(s)",
                               strsignal(*signals.stop_signal()), arrays.size()));
  for (const std::string& array : arrays) run_captured({"scancel", array});
  for (const TrackedTrial& t : tracked) store.set_state(t.trial->id, TrialState::kPending);
  counts.pending += counts.running;
  counts.running = 0;
  progress.finish();
  return signals.stop_signal();
}

}  // namespace normscale
