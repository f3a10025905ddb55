// Whether this process was started by an MPI launcher (mpirun / mpiexec, srun, Hydra), read from the
// variables launchers set for the processes they start. `normscale train` initialises MPI only then: a
// process started alone is one rank whatever MPI says, and Open MPI's singleton start costs ~0.5 s.
#pragma once

#include <array>
#include <string_view>

namespace normscale {

// Open MPI's mpirun (OMPI_COMM_WORLD_*), PMIx (Open MPI 4+, srun --mpi=pmix), PMI-1/2 (MPICH's Hydra, Intel
// MPI, srun --mpi=pmi2), MVAPICH, and any srun job step (SLURM_STEP_ID: also one without an MPI plugin).
inline constexpr std::array<std::string_view, 7> kMpiLauncherVariables = {
    "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "PMI_FD", "MV2_COMM_WORLD_RANK", "SLURM_STEP_ID"};

// `environment`: a null-terminated array of "NAME=value" strings, as environ.
bool started_by_mpi_launcher(const char* const* environment);
// This process's own environment.
bool started_by_mpi_launcher();

}  // namespace normscale
