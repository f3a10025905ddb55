// The SLURM backend's job script (one job array per rank count) and its sbatch argument vector. Every
// value from the study reaches the script single-quoted (shell_quote); nothing else of it is text.
#pragma once

#include "normscale/study/trial_command.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace normscale {

struct SlurmArrayJob {
  std::string job_name;            // slurm_job_name(study name)
  std::string trainer;             // absolute path of normscale on the compute nodes
  std::string srun_mpi;            // srun --mpi=<this>; "": plain srun
  std::int64_t ranks = 1;          // tasks per trial
  std::int64_t threads_per_rank = 1;
  std::string time_limit;          // sbatch --time (e.g. "4:00:00"); "": the partition's default
  // SLURM signals the job script this long before the time limit (or at a preemption); it forwards SIGUSR2 to
  // the trainer, which checkpoints, and requeues the job. Leave the trainer time to write one checkpoint.
  std::int64_t signal_seconds = 120;
  std::vector<TrialInvocation> trials;  // array task i runs trials[i]
};

// A job name of safe characters only ([A-Za-z0-9._-], at most 64): "normscale-" + the study name.
std::string slurm_job_name(std::string_view study);

// The sh script run for every array task: picks its trial by SLURM_ARRAY_TASK_ID, appends everything
// to <out>/log.txt, runs `srun [--mpi=M] trainer train --config C --out D --resume-or-start` (a requeued
// task continues from its checkpoint), then writes the exit code to <out>/exit_code (through a rename),
// which the scheduler reads when sacct cannot say. SIGUSR2 (SLURM's warning, --signal=B:USR2) is passed
// on to srun; a trainer that stopped at its checkpoint (exit code 75) has the job requeued instead, and
// no exit code is written unless the requeue fails.
std::string slurm_job_script(const SlurmArrayJob& job);

// sbatch --parsable --job-name --array=0-(n-1) --ntasks --cpus-per-task --output=/dev/null --requeue
// --signal=B:USR2@signal_seconds [--time] [--partition] SCRIPT (the script redirects its own output).
std::vector<std::string> sbatch_argv(const SlurmArrayJob& job, const std::filesystem::path& script,
                                     const std::string& partition);

}  // namespace normscale
