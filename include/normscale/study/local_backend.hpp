// The local backend: each trial as `mpirun -np p normscale train ...` on this machine, packed onto its
// cores, with a progress display; SIGINT / SIGTERM stop the trials and leave them pending, SIGUSR2 stops them at a
// checkpoint (and a trial stopped at a checkpoint by SIGUSR2 of its own runs again from it).
#pragma once

#include "normscale/study/study_file.hpp"
#include "normscale/study/study_heartbeat.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/study/study_progress.hpp"
#include "normscale/study/trial_command.hpp"
#include "normscale/study/trial_store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace normscale {

struct LocalOptions {
  LocalLauncher launcher;
  std::int64_t cores = 1;                // cores the trials may occupy together
  std::optional<MetricTarget> target;    // the study's target (steps and seconds to it are recorded)
  double lock_wait_seconds = 60.0;       // for a previous run of a trial to let go of its directory
  double checkpoint_grace_seconds = 90.0;  // after SIGUSR2, for the trials to checkpoint before SIGKILL
  // Called after each trial's end is recorded (successive halving: halving_run.hpp); the trials it returns
  // were done and are pending again, and run next (before the rest of the queue).
  std::function<std::vector<const Trial*>()> after_trial_end;
};

// Runs `queue` (trials in the store, not done) in order, after taking up `left_running`: trials an
// earlier scheduler (killed, crashed) left in state running. Each of those is found again from its
// recorded process (host, boot, pid, start time) or its held trial.lock: one still running is adopted
// (waited for by polling, as it is not this process's child), one that finished meanwhile (its
// finished.json) is recorded, one that died is resumed from its checkpoint. `counts` are the study's
// counts at the start and are kept up to date. Returns the signal that stopped it (its running trials
// were stopped, at a checkpoint where it was SIGUSR2, and set pending again), or nullopt when every trial ended.
// `heartbeat` is kept beating, for the scheduler and its running trials.
std::optional<int> run_local(std::span<const Trial* const> queue, std::span<const Trial* const> left_running,
                             TrialStore& store, const StudyLayout& layout, const LocalOptions& options,
                             StudyHeartbeat& heartbeat, StudyProgress& progress, StudyCounts& counts);

}  // namespace normscale
