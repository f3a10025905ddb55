// The SLURM backend: submits the trials as job arrays (one per rank count), polls squeue (sacct, or
// the trial's own exit_code file, when the job has left the queue) and records the results.
#pragma once

#include "normscale/study/study_file.hpp"
#include "normscale/study/study_heartbeat.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/study/study_progress.hpp"
#include "normscale/study/trial_store.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace normscale {

struct SlurmOptions {
  std::string trainer;             // absolute path of normscale
  std::string srun_mpi = "pmix";   // srun --mpi=<this>; "": plain srun
  std::string partition;
  std::string time_limit;          // sbatch --time ("": the partition's default)
  std::int64_t signal_seconds = 120;  // SIGUSR2 this long before the time limit: checkpoint and requeue
  double stall_seconds = 3600.0;   // listed as RUNNING without progress this long: cancelled, failed (0: never)
  double poll_seconds = 5.0;
  std::optional<MetricTarget> target;
  // Called after each trial's end is recorded (successive halving: halving_run.hpp); the trials it returns
  // were done and are pending again, and are submitted as soon as the poll that saw the end is through.
  std::function<std::vector<const Trial*>()> after_trial_end;
};

// Array task ids ("123_4") and their state from `squeue -h -r -o %i|%T` output.
std::map<std::string, std::string> parse_squeue(std::string_view output);
// A trial's wait in SLURM's queue as the scheduler last saw it, in its run directory (`study status` shows it in
// place of a running trial's progress): "PENDING (Resources)", "PENDING (JobHeldAdmin)", ...; absent while SLURM
// runs the task.
inline constexpr const char* kSlurmQueueFile = "slurm_queue";
// Each run of a trial's job script appends its own seconds here (one line per run: a requeued task runs again), so
// that the trial's wall time counts its runs and not its waits in the queue; removed when the trial is submitted.
inline constexpr const char* kSlurmRunSecondsFile = "slurm_run_seconds";
// The sum of kSlurmRunSecondsFile's lines in `dir`; nullopt when it holds none (a job killed before it could write).
std::optional<double> slurm_run_seconds(const std::filesystem::path& dir);
// What kSlurmQueueFile says for a task in `state` (squeue's %T) for `reason` (%r); empty when SLURM runs it.
std::string slurm_queue_note(std::string_view state, std::string_view reason);
// Whether a wait is more than the queue's ordinary one (resources, priority, a begin time, a dependency): a hold, a
// drained or down node, a failed launch, a suspension. The scheduler says so when a task starts waiting so.
bool slurm_wait_needs_attention(std::string_view state, std::string_view reason);

// Whether a trial's log shows its job script started ("=== normscale study: SLURM job") since the scheduler last
// prepared the trial (its last "starting trial" / "resuming trial" line).
bool job_script_started(const std::filesystem::path& log);

// The exit code from `sacct -n -P -X -o State,ExitCode` output ("FAILED|1:0" -> 1, a signal -> 128+s);
// nullopt when it says nothing usable (accounting disabled, job unknown).
std::optional<int> parse_sacct_exit_code(std::string_view output);

// JobState and ExitCode from `scontrol -o show job` output; nullopt when it says neither.
std::optional<std::pair<std::string, std::string>> parse_scontrol_job(std::string_view output);
// Whether a SLURM job state is one the job can still run from (pending, running, being requeued, ...).
bool slurm_state_active(std::string_view state);
// The array task at `index` of the queued job that runs `script` (matched by file name), from `squeue -h -r -o
// %i|%o` output (task ids and commands); empty when no queued job runs it.
std::string task_running_script(std::string_view squeue_commands, const std::filesystem::path& script,
                                std::string_view index);

// Submits `queue`, and follows `submitted_before` (trials left running by an earlier scheduler: still
// in the queue, finished with an exit_code file, or else submitted again). A trial is failed when its task
// left the queue without an exit code (scancel, a node failure: sacct's code, else 255) or when SLURM
// lists it as running but its run directory has not grown for stall_seconds (then it is cancelled, exit
// code kStalledExitCode). Returns the stop signal (the jobs were cancelled and the trials set pending) or
// nullopt when every trial ended.
std::optional<int> run_slurm(std::span<const Trial* const> queue, std::span<const Trial* const> submitted_before,
                             TrialStore& store, const StudyLayout& layout, const SlurmOptions& options,
                             StudyHeartbeat& heartbeat, StudyProgress& progress, StudyCounts& counts);

// The exit code recorded for a trial cancelled for making no progress (as timeout(1) exits).
inline constexpr int kStalledExitCode = 124;

}  // namespace normscale
