// The local scheduler loop: take up the trials an earlier scheduler left running, start what fits, wait
// for a trial to end or a stop signal, record, repeat.
#include "normscale/study/local_backend.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"
#include "normscale/study/child_process.hpp"
#include "normscale/study/signal_watch.hpp"
#include "normscale/study/trial_lifecycle.hpp"
#include "normscale/study/trial_packing.hpp"
#include "normscale/study/trial_process.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"
#include "normscale/train/run_directory_lock.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <thread>
#include <vector>

namespace normscale {
namespace {

using Clock = std::chrono::steady_clock;

// How often one `study run` runs a trial again after a signal from outside ended it; after that it is failed (a
// trial the OOM killer ends every time).
constexpr int kRunsAgainAfterKills = 2;

struct RunningTrial {
  const Trial* trial = nullptr;
  pid_t pid = 0;                          // the process group too (spawn_child makes the child its leader)
  std::int64_t cores = 0;
  Clock::time_point start;
  double earlier_seconds = 0.0;           // an adopted trial's wall time before this scheduler
  std::optional<TrialProcess> adopted;    // started by an earlier scheduler (pid 0: known by its lock only)
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double wall_seconds(const RunningTrial& r) { return r.earlier_seconds + seconds_since(r.start); }

// Seconds from a store timestamp (UTC, "%Y-%m-%dT%H:%M:%SZ") to now; 0 when it does not parse.
double seconds_since_utc(const std::string& timestamp) {
  std::tm utc{};
  if (strptime(timestamp.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc) == nullptr) return 0.0;
  return std::max(0.0, std::difftime(std::time(nullptr), timegm(&utc)));
}

// Something of the trial still runs: its recorded process (mpirun, or a 1-rank trial's trainer), or any
// process holding its trial.lock (which it inherited from spawn_child; that also covers a scheduler killed
// before it recorded the pid).
bool trial_alive(const std::optional<TrialProcess>& process, const std::filesystem::path& dir) {
  if (process && process_alive(*process)) return true;
  std::error_code error;
  return std::filesystem::exists(dir / "trial.lock", error) && !wait_for_lock(dir / "trial.lock", 0.0);
}

// Whether the trial has ended: a child by waitpid (its exit code); an adopted trial, not this process's
// child, when nothing of it runs any more: then only its run directory can tell how it ended, and only
// a completed run leaves finished.json (exit code 0). `ended` with no exit code: the trial died.
std::optional<int> poll_trial(const RunningTrial& r, const StudyLayout& layout, bool& ended) {
  if (!r.adopted) {
    const std::optional<int> code = poll_child(r.pid);
    ended = code.has_value();
    return code;
  }
  const std::filesystem::path dir = layout.trial_dir(r.trial->id);
  ended = !trial_alive(r.adopted, dir);
  if (ended && std::filesystem::exists(finished_marker(dir))) return 0;
  return std::nullopt;
}

// Sends `signal` to the trial's process group: a child's always, an adopted one's only while the
// recorded process is still that very one (a reused pid belongs to someone else).
void signal_trial(const RunningTrial& r, int signal) {
  if (r.pid <= 0) return;  // never kill(0, ...): that is this scheduler's own group
  if (!r.adopted || process_alive(*r.adopted)) kill(-r.pid, signal);
}

// `signal` to each trial's process group (the trainer, or mpirun, which forwards SIGTERM and SIGUSR2 to its ranks),
// SIGKILL to those still there after `grace_seconds`; waits for all of them.
void stop_trials(const std::vector<RunningTrial>& running, const StudyLayout& layout, int signal,
                 double grace_seconds) {
  for (const RunningTrial& r : running) signal_trial(r, signal);
  const auto deadline = Clock::now() + std::chrono::duration<double>(grace_seconds);
  for (const RunningTrial& r : running) {
    if (r.pid <= 0) continue;  // adopted by its lock alone: nothing to signal, left to the next scheduler
    for (bool ended = false;;) {
      poll_trial(r, layout, ended);
      if (ended) break;
      if (Clock::now() >= deadline) {
        signal_trial(r, SIGKILL);
        if (!r.adopted) wait_child(r.pid);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// A trial's process ended by a signal someone else sent (an operator's kill, scancel's SIGTERM, the OOM killer's
// SIGKILL, a closed terminal), not by its own error or crash (SIGSEGV, SIGABRT): 128 + the signal, as the shell (and
// mpirun for its ranks) reports it.
bool killed_from_outside(int exit_code) {
  return exit_code == 128 + SIGKILL || exit_code == 128 + SIGTERM || exit_code == 128 + SIGINT ||
         exit_code == 128 + SIGHUP;
}

}  // namespace

std::optional<int> run_local(std::span<const Trial* const> queue, std::span<const Trial* const> left_running,
                             TrialStore& store, const StudyLayout& layout, const LocalOptions& options,
                             StudyHeartbeat& heartbeat, StudyProgress& progress, StudyCounts& counts) {
  NS_CHECK(options.cores >= 1, "study run: --cores {}; expected >= 1", options.cores);
  // Before the first child: a stop must not be lost in between. SIGUSR2 (a time limit or preemption ahead, e.g.
  // `sbatch --signal=B:USR2@120` around this scheduler) stops the trials at a checkpoint.
  SignalWatch signals({kCheckpointSignal});
  std::deque<const Trial*> pending(queue.begin(), queue.end());
  std::vector<RunningTrial> running;
  std::int64_t finished = 0;
  std::int64_t free_cores = options.cores;
  std::map<std::string, int> kills;  // ends by a signal from outside, by trial

  const auto record_end = [&](const Trial& trial, int code, double wall, std::optional<std::time_t> ended = {}) {
    const TrialState state = record_trial_end(store, layout, trial.id, code, wall, options.target, ended);
    --counts.running;
    ++(state == TrialState::kDone ? counts.done : counts.failed);
    ++finished;
    if (state == TrialState::kFailed) {
      progress.message(fmt::format("normscale study: trial {} failed (exit code {}): {}; log: {}", trial.id, code,
                                   describe_trial(trial), (layout.trial_dir(trial.id) / "log.txt").string()));
    }
    if (!options.after_trial_end) return;
    const std::vector<const Trial*> again = options.after_trial_end();
    // Ahead of the rest: a promoted trial's next rung is what the trials behind it are measured against.
    pending.insert(pending.begin(), again.begin(), again.end());
    counts.done -= static_cast<std::int64_t>(again.size());
    counts.pending += static_cast<std::int64_t>(again.size());
  };
  // A trial whose process ended without finishing goes first in the queue, to resume from its checkpoint.
  const auto requeue_died = [&](const Trial& trial, const std::string& why) {
    store.set_state(trial.id, TrialState::kPending);
    pending.push_front(&trial);
    --counts.running;
    ++counts.pending;
    progress.message(fmt::format("normscale study: trial {} {}; running it again (from its newest checkpoint, if "
                                 "any)", trial.id, why));
  };

  for (const Trial* trial : left_running) {
    const TrialRecord record = store.trial(trial->id).value();
    const std::filesystem::path dir = layout.trial_dir(trial->id);
    if (record.process && record.process->pid > 0 && record.process->host != host_name()) {
      NS_FAIL("trial {}: the scheduler that started it ran on host {} (pid {} there); run the study on {} to take "
              "it up, or stop that trial there first",
              trial->id, record.process->host, record.process->pid, record.process->host);
    }
    const double earlier = seconds_since_utc(record.started);
    if (trial_alive(record.process, dir)) {
      RunningTrial adopted;
      adopted.trial = trial;
      adopted.adopted = record.process.value_or(TrialProcess{});
      adopted.pid = static_cast<pid_t>(adopted.adopted->pid);
      adopted.cores = cores_held(trial_cores(trial->ranks, threads_per_rank(trial->config.threads)), options.cores);
      adopted.start = Clock::now();
      adopted.earlier_seconds = earlier;
      free_cores -= adopted.cores;
      running.push_back(std::move(adopted));
      progress.message(fmt::format("normscale study: trial {} is still running (pid {}); following it", trial->id,
                                   record.process ? std::to_string(record.process->pid) : "unknown"));
    } else if (std::filesystem::exists(finished_marker(dir))) {
      progress.message(fmt::format("normscale study: trial {} finished while no scheduler was following it",
                                   trial->id));
      // It ended when it wrote finished.json, not now (the time no scheduler ran is not the trial's).
      struct stat marker {};
      const bool written = stat(finished_marker(dir).c_str(), &marker) == 0;
      const double since_finished = written ? std::max(0.0, std::difftime(std::time(nullptr), marker.st_mtime)) : 0.0;
      record_end(*trial, 0, std::max(0.0, earlier - since_finished),
                 written ? std::optional<std::time_t>(marker.st_mtime) : std::nullopt);
    } else {
      requeue_died(*trial, "ended without finishing while no scheduler was following it");
    }
  }

  const auto start_trial = [&](const Trial& trial) {
    const PreparedTrial prepared = prepare_trial(layout, trial);
    NS_CHECK(wait_for_lock(prepared.lock, options.lock_wait_seconds),
             "trial {}: {} is still held by a previous run of the trial after {} s; stop that run "
             "(its mpirun) and run the study again",
             trial.id, prepared.lock.string(), options.lock_wait_seconds);
    ChildSpec child;
    child.argv = local_trial_argv(options.launcher, prepared.invocation);
    child.environment = trial_environment(prepared.invocation);
    child.removed = trial_environment_removed(prepared.invocation);
    child.output = prepared.log;
    child.lock_file = prepared.lock;
    store.set_state(trial.id, TrialState::kRunning);
    const std::int64_t cores =
        cores_held(trial_cores(trial.ranks, prepared.invocation.threads_per_rank), options.cores);
    const pid_t pid = spawn_child(child);
    running.push_back({&trial, pid, cores, Clock::now(), 0.0, std::nullopt});
    free_cores -= cores;
    --counts.pending;
    ++counts.running;
    // Killed between the spawn and this, a scheduler leaves the trial known by its trial.lock alone.
    store.set_process(trial.id, identify_process(pid));
  };

  try {
    for (;;) {
      if (!signals.stop_signal()) {
        std::vector<std::int64_t> demands;
        for (const Trial* trial : pending) {
          demands.push_back(trial_cores(trial->ranks, threads_per_rank(trial->config.threads)));
        }
        const std::vector<std::size_t> picks = trials_to_start(free_cores, options.cores, demands);
        for (const std::size_t pick : picks) start_trial(*pending[pick]);
        for (auto pick = picks.rbegin(); pick != picks.rend(); ++pick) {
          pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(*pick));
        }
      }
      progress.update(counts, finished);
      if (running.empty() || signals.stop_signal()) break;
      // A child's end wakes the wait (SIGCHLD); an adopted trial's is only seen by polling.
      const bool adopted = std::any_of(running.begin(), running.end(), [](const auto& r) { return r.adopted; });
      signals.wait(adopted ? 0.2 : 1.0);
      if (signals.stop_signal()) break;
      heartbeat.beat();
      for (auto r = running.begin(); r != running.end();) {
        bool ended = false;
        const std::optional<int> code = poll_trial(*r, layout, ended);
        if (!ended) {
          heartbeat.progress(r->trial->id, layout.trial_dir(r->trial->id));
          ++r;
          continue;
        }
        heartbeat.restart(r->trial->id);
        free_cores += r->cores;
        // Out of `running` first: should recording throw, the catch below must not wait for a reaped child.
        const RunningTrial finished_trial = *r;
        r = running.erase(r);
        if (code == kCheckpointedExitCode) {
          requeue_died(*finished_trial.trial, fmt::format("stopped at a checkpoint (exit code {}: it was sent {})",
                                                          *code, strsignal(kCheckpointSignal)));
        } else if (code && killed_from_outside(*code) && ++kills[finished_trial.trial->id] <= kRunsAgainAfterKills) {
          // As one that died while no scheduler followed it: a halving rung must not be decided without it.
          requeue_died(
              *finished_trial.trial,
              fmt::format("was ended by a signal from outside ({}, exit code {}; {} of {} such ends run again before "
                          "it counts as failed)",
                          strsignal(*code - 128), *code, kills[finished_trial.trial->id], kRunsAgainAfterKills));
        } else if (code) {
          if (killed_from_outside(*code)) {
            progress.message(
                fmt::format("normscale study: trial {} was ended by a signal from outside ({}) {} times; "
                            "it counts as failed (out of memory? its log says no more than that it "
                            "started)",
                            finished_trial.trial->id, strsignal(*code - 128), kRunsAgainAfterKills + 1));
          }
          record_end(*finished_trial.trial, *code, wall_seconds(finished_trial));
        } else {
          requeue_died(*finished_trial.trial, fmt::format("(pid {}, started by an earlier scheduler) ended without "
                                                          "finishing", finished_trial.pid));
        }
      }
    }
  } catch (...) {
    // A scheduler that cannot go on (the database failed) does not leave trials running unrecorded.
    stop_trials(running, layout, SIGTERM, 10.0);
    throw;
  }

  if (!signals.stop_signal()) {
    progress.finish();
    return std::nullopt;
  }
  // One adopted by its trial.lock alone has no pid to signal: said, not counted as stopped.
  std::vector<std::string> unstoppable;
  for (const RunningTrial& r : running) {
    if (r.pid <= 0) unstoppable.push_back(r.trial->id);
  }
  const bool at_checkpoint = *signals.stop_signal() == kCheckpointSignal;
  progress.message(
      fmt::format("normscale study: {} received; stopping {} running trial(s){}{}", strsignal(*signals.stop_signal()),
                  running.size() - unstoppable.size(), at_checkpoint ? " at a checkpoint" : "",
                  unstoppable.empty() ? std::string()
                                      : fmt::format("; {} known by its trial.lock alone (no pid recorded) cannot be "
                                                    "stopped from here and stays running, for the next scheduler to "
                                                    "follow: {}",
                                                    unstoppable.size(), fmt::join(unstoppable, ", "))));
  // A checkpoint waits for the step in progress (the ranks agree on the next step boundary) and the write.
  if (at_checkpoint) {
    stop_trials(running, layout, kCheckpointSignal, options.checkpoint_grace_seconds);
  } else {
    stop_trials(running, layout, SIGTERM, 20.0);
  }
  for (const RunningTrial& r : running) {
    // One adopted by its lock alone could not be stopped: it stays running, for the next scheduler.
    if (r.pid <= 0) continue;
    store.set_state(r.trial->id, TrialState::kPending);
    --counts.running;
    ++counts.pending;
  }
  progress.finish();
  return signals.stop_signal();
}

}  // namespace normscale
