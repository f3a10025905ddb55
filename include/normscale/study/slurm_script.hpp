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
  std::vector<TrialInvocation> trials;  // array task i runs trials[i]
};

// A job name of safe characters only ([A-Za-z0-9._-], at most 64): "normscale-" + the study name.
std::string slurm_job_name(std::string_view study);

// The sh script run for every array task: picks its trial by SLURM_ARRAY_TASK_ID, appends everything
// to <out>/log.txt, runs `srun [--mpi=M] trainer train --config C --out D [--resume]`, then writes the
// exit code to <out>/exit_code (through a rename), which the scheduler reads when sacct cannot say.
std::string slurm_job_script(const SlurmArrayJob& job);

// sbatch --parsable --job-name --array=0-(n-1) --ntasks --cpus-per-task --output=/dev/null
// [--partition] SCRIPT (the script redirects its own output to the trial's log).
std::vector<std::string> sbatch_argv(const SlurmArrayJob& job, const std::filesystem::path& script,
                                     const std::string& partition);

}  // namespace normscale
