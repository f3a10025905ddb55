// Writing a SLURM job-array script with every value quoted.
#include "normscale/study/slurm_script.hpp"

#include "normscale/core/error.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/slurm_backend.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"

#include <fmt/format.h>

#include <cctype>

namespace normscale {

std::string slurm_job_name(std::string_view study) {
  std::string name = "normscale-";
  for (const char ch : study) {
    const bool safe = std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '_' || ch == '-';
    name += safe ? ch : '_';
    if (name.size() >= 64) break;
  }
  return name;
}

std::string slurm_job_script(const SlurmArrayJob& job) {
  NS_CHECK(!job.trials.empty(), "slurm job {}: no trials", job.job_name);
  std::string script = "#!/bin/sh\n";
  script += fmt::format("# Written by `normscale study run --backend slurm`: trials of {} rank(s) x {} thread(s),\n"
                        "# one per array task. Every value below is single-quoted.\n",
                        job.ranks, job.threads_per_rank);
  script += "case \"${SLURM_ARRAY_TASK_ID:-}\" in\n";
  for (std::size_t i = 0; i < job.trials.size(); ++i) {
    const TrialInvocation& trial = job.trials[i];
    script += fmt::format("  {}) out={}; config={} ;;\n", i, shell_quote(trial.out.string()),
                          shell_quote(trial.config.string()));
  }
  script += "  *) echo \"normscale study: no trial for array task ${SLURM_ARRAY_TASK_ID:-(unset)}\" >&2; exit 2 ;;\n";
  script += "esac\n";
  script += "exec >>\"$out/log.txt\" 2>&1\n";
  script += fmt::format("export OPENBLAS_NUM_THREADS={}\n", shell_quote(std::to_string(job.threads_per_rank)));
  script += "export OMP_NUM_THREADS=1\n";
  script += "echo \"=== normscale study: SLURM job ${SLURM_JOB_ID:-?} (array task $SLURM_ARRAY_TASK_ID) on $(hostname)\"\n";
  script += fmt::format("set -- {} train --config \"$config\" --out \"$out\" --resume-or-start\n",
                        shell_quote(job.trainer));
  // srun runs in the background so that the shell can take SLURM's SIGUSR2 while it trains (a shell runs
  // a trap only between commands) and pass it on; wait returns early (> 128) when the trap ran.
  script += "signalled=; pid=\n";
  script += "trap 'signalled=1; echo \"=== normscale study: SIGUSR2 (time limit or preemption ahead)\"; "
            "[ -z \"$pid\" ] || kill -USR2 \"$pid\"' USR2\n";
  // This run's own time goes to kSlurmRunSecondsFile (GNU date's %N; elsewhere whole seconds).
  script += "start=$(date +%s.%N)\n";
  script += job.srun_mpi.empty() ? "srun \"$@\" &\n" : fmt::format("srun --mpi={} \"$@\" &\n", shell_quote(job.srun_mpi));
  script += "pid=$!\n";
  script += "[ -z \"$signalled\" ] || kill -USR2 \"$pid\"\n";  // it came before srun was there
  script += "wait \"$pid\"\n";
  script += "code=$?\n";
  script += "while [ \"$code\" -gt 128 ] && [ -n \"$signalled\" ]; do signalled=; wait \"$pid\"; code=$?; done\n";
  script += std::string("awk -v a=\"$start\" -v b=\"$(date +%s.%N)\" 'BEGIN { printf \"%.3f\\n\", b - a }' >>\"$out/") +
            kSlurmRunSecondsFile + "\"\n";
  script += fmt::format("if [ \"$code\" -eq {} ]; then\n", kCheckpointedExitCode);
  script += "  echo \"=== normscale study: the trainer stopped at its checkpoint; requeueing job ${SLURM_JOB_ID:-?}\"\n";
  script += "  scontrol requeue \"$SLURM_JOB_ID\" && exit 0\n";
  script += "  echo \"=== normscale study: scontrol requeue failed; the trial ends here (study run --retry-failed resumes "
            "it from its checkpoint)\"\n";
  script += "fi\n";
  script += "printf '%s\\n' \"$code\" >\"$out/exit_code.tmp\" && mv -f \"$out/exit_code.tmp\" \"$out/exit_code\"\n";
  script += "exit \"$code\"\n";
  return script;
}

std::vector<std::string> sbatch_argv(const SlurmArrayJob& job, const std::filesystem::path& script,
                                     const std::string& partition) {
  std::vector<std::string> argv = {"sbatch",
                                   "--parsable",
                                   "--job-name=" + job.job_name,
                                   fmt::format("--array=0-{}", job.trials.size() - 1),
                                   fmt::format("--ntasks={}", job.ranks),
                                   fmt::format("--cpus-per-task={}", job.threads_per_rank),
                                   "--output=/dev/null",
                                   "--requeue",
                                   fmt::format("--signal=B:USR2@{}", job.signal_seconds)};
  if (!job.time_limit.empty()) argv.push_back("--time=" + job.time_limit);
  if (!partition.empty()) argv.push_back("--partition=" + partition);
  argv.push_back(script.string());
  return argv;
}

}  // namespace normscale
