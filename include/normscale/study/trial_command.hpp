// The argument vector and environment that start one trial: `mpirun -np p ... normscale train`, or the
// trainer alone for one rank.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace normscale {

// What the trainer needs to run one trial from its run directory.
struct TrialInvocation {
  std::int64_t ranks = 1;
  std::int64_t threads_per_rank = 1;      // BLAS threads of each rank
  std::filesystem::path config;           // <dir>/config.toml (to_toml of the trial's config)
  std::filesystem::path out;              // the trial's run directory
  bool resume = false;                    // continue from its newest checkpoint
};

// How this machine starts MPI jobs.
struct LocalLauncher {
  std::string mpiexec = "mpirun";         // found on PATH unless absolute
  std::string trainer;                    // absolute path of the normscale binary
  std::int64_t slots = 1;                 // ranks Open MPI places without --oversubscribe
  bool as_root = false;                   // Open MPI refuses root without --allow-run-as-root
};

// `trainer train --config C --out D [--resume]`: the part shared by every backend.
std::vector<std::string> trainer_argv(const std::string& trainer, const TrialInvocation& trial);

// mpirun -np p --bind-to none [--oversubscribe] [--allow-run-as-root] -x OPENBLAS_NUM_THREADS
// -x OMP_NUM_THREADS <trainer_argv>. Unbound: two trials side by side must not both be pinned to
// core 0 by their own mpirun. --oversubscribe only when the ranks exceed the slots. A 1-rank trial is
// <trainer_argv> alone: it trains without MPI, ~0.5 s sooner (mpirun's start and MPI_Init's).
std::vector<std::string> local_trial_argv(const LocalLauncher& launcher, const TrialInvocation& trial);

// Variables the trainer's ranks get: one BLAS pool of threads_per_rank threads, no OpenMP pool.
std::vector<std::pair<std::string, std::string>> trial_environment(const TrialInvocation& trial);

// Variables a local trial must not inherit from the scheduler: for a trial started without mpirun, the
// MPI launchers' (a scheduler that srun or mpirun started would otherwise make it join that job).
std::vector<std::string> trial_environment_removed(const TrialInvocation& trial);

// The BLAS threads a rank of this config uses (config `threads`; 0, automatic, means 1 here).
std::int64_t threads_per_rank(std::int64_t config_threads);

// Cores Open MPI counts as slots here: physical cores (it does not count hardware threads), read
// from sysfs; the number of online CPUs when sysfs says nothing.
std::int64_t physical_cores();

}  // namespace normscale
