// `normscale study run` and `normscale study status`: expand and validate the study, keep the database
// beside it in step, and hand the trials still to run to a backend.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace normscale {

struct StudyRunOptions {
  std::filesystem::path study_file;
  std::string backend = "local";      // "local" or "slurm"
  std::int64_t cores = 0;             // local: cores for the trials together (0: online CPUs)
  bool dry_run = false;               // list the trials and their commands, run nothing, write nothing
  bool retry_failed = false;          // run failed trials again
  std::string mpiexec = "mpirun";     // local: the MPI launcher
  std::string trainer;                // the normscale binary (absolute; "": this executable)
  // slurm
  std::string srun_mpi = "pmix";      // srun --mpi=<this> ("" : plain srun)
  std::string partition;              // sbatch --partition ("" : the default partition)
  std::string time_limit;             // sbatch --time ("" : the partition's default)
  std::int64_t signal_seconds = 120;  // SIGUSR2 to the job this long before its time limit
  double stall_seconds = 3600.0;      // a trial listed as running without progress this long is cancelled (0: never)
  double poll_seconds = 5.0;          // between squeue polls
};

// Runs the study to its end (with [halving], through halving_run.hpp: each trial at its rung's budget, the
// promoted ones again at the next). Returns 0 when every trial is done, 1 when some failed (each named on
// stderr), 128 + the signal when SIGINT / SIGTERM stopped it (its running trials are pending again), or 75 when
// SIGUSR2 stopped the local scheduler (its running trials were stopped at a checkpoint and are pending again).
int run_study(const StudyRunOptions& options);

// The study's progress: counts by state with an ETA, the scheduler that holds it (host, pid, last seen),
// each running trial's last evaluation (step, epoch, the study metric) and last progress, one line per
// trial (id, state, exit code, wall time, the trial; with [halving] its rung, or the rung it stopped early at),
// then the best grid point per (regime, batch).
std::string study_status(const std::filesystem::path& study_file);
// `study status --watch`: study_status every `interval_seconds`, redrawn in place on a terminal, until
// Ctrl-C (or `count` times, when not 0).
int watch_study_status(const std::filesystem::path& study_file, double interval_seconds, std::int64_t count);

}  // namespace normscale
