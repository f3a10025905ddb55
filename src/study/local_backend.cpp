// The local scheduler loop: start what fits, wait for a trial to end or a stop signal, record, repeat.
#include "normscale/study/local_backend.hpp"

#include "normscale/core/error.hpp"
#include "normscale/study/child_process.hpp"
#include "normscale/study/signal_watch.hpp"
#include "normscale/study/trial_lifecycle.hpp"
#include "normscale/study/trial_packing.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

namespace normscale {
namespace {

using Clock = std::chrono::steady_clock;

struct RunningTrial {
  const Trial* trial = nullptr;
  pid_t pid = 0;
  std::int64_t cores = 0;
  Clock::time_point start;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// SIGTERM to each trial's process group (mpirun forwards it to its ranks), SIGKILL to those still
// there after `grace_seconds`; waits for all of them.
void stop_trials(const std::vector<RunningTrial>& running, double grace_seconds) {
  for (const RunningTrial& r : running) kill(-r.pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::duration<double>(grace_seconds);
  for (const RunningTrial& r : running) {
    while (!poll_child(r.pid)) {
      if (Clock::now() >= deadline) {
        kill(-r.pid, SIGKILL);
        wait_child(r.pid);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

std::optional<int> run_local(std::span<const Trial* const> queue, TrialStore& store, const StudyLayout& layout,
                             const LocalOptions& options, StudyProgress& progress, StudyCounts& counts) {
  NS_CHECK(options.cores >= 1, "study run: --cores {}; expected >= 1", options.cores);
  SignalWatch signals;  // before the first child: a stop must not be lost in between
  std::deque<const Trial*> pending(queue.begin(), queue.end());
  std::vector<RunningTrial> running;
  std::int64_t finished = 0;
  std::int64_t free_cores = options.cores;

  const auto start_trial = [&](const Trial& trial) {
    const PreparedTrial prepared = prepare_trial(layout, trial);
    NS_CHECK(wait_for_lock(prepared.lock, options.lock_wait_seconds),
             "trial {}: {} is still held by a previous run of the trial after {} s; stop that run "
             "(its mpirun) and run the study again",
             trial.id, prepared.lock.string(), options.lock_wait_seconds);
    ChildSpec child;
    child.argv = local_trial_argv(options.launcher, prepared.invocation);
    child.environment = trial_environment(prepared.invocation);
    child.output = prepared.log;
    child.lock_file = prepared.lock;
    store.set_state(trial.id, TrialState::kRunning);
    const std::int64_t cores =
        cores_held(trial_cores(trial.ranks, prepared.invocation.threads_per_rank), options.cores);
    running.push_back({&trial, spawn_child(child), cores, Clock::now()});
    free_cores -= cores;
    --counts.pending;
    ++counts.running;
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
      signals.wait(1.0);
      if (signals.stop_signal()) break;
      for (auto r = running.begin(); r != running.end();) {
        const std::optional<int> code = poll_child(r->pid);
        if (!code) {
          ++r;
          continue;
        }
        const TrialState state =
            record_trial_end(store, layout, r->trial->id, *code, seconds_since(r->start), options.target);
        --counts.running;
        ++(state == TrialState::kDone ? counts.done : counts.failed);
        ++finished;
        free_cores += r->cores;
        if (state == TrialState::kFailed) {
          progress.message(fmt::format("normscale study: trial {} failed (exit code {}): {}; log: {}",
                                       r->trial->id, *code, describe_trial(*r->trial),
                                       (layout.trial_dir(r->trial->id) / "log.txt").string()));
        }
        r = running.erase(r);
      }
    }
  } catch (...) {
    // A scheduler that cannot go on (the database failed) does not leave trials running unrecorded.
    stop_trials(running, 10.0);
    throw;
  }

  if (!signals.stop_signal()) {
    progress.finish();
    return std::nullopt;
  }
  progress.message(fmt::format("normscale study: {} received; stopping {} running trial(s)",
                               strsignal(*signals.stop_signal()), running.size()));
  stop_trials(running, 20.0);
  for (const RunningTrial& r : running) store.set_state(r.trial->id, TrialState::kPending);
  counts.pending += counts.running;
  counts.running = 0;
  progress.finish();
  return signals.stop_signal();
}

}  // namespace normscale
