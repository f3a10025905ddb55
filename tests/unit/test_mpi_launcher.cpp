// Whether a process was started by an MPI launcher, from its environment: each launcher's variable alone
// says so, a process started alone (or with look-alike names) is not.
#include "normscale/comm/mpi_launcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace normscale {
namespace {

bool launched_with(const std::vector<std::string>& variables) {
  std::vector<const char*> environment;
  for (const std::string& variable : variables) environment.push_back(variable.c_str());
  environment.push_back(nullptr);
  return started_by_mpi_launcher(environment.data());
}

TEST(MpiLauncher, EachLaunchersVariableAloneMeansLaunched) {
  for (const std::string_view name : kMpiLauncherVariables) {
    EXPECT_TRUE(launched_with({"HOME=/root", std::string(name) + "=0", "PATH=/usr/bin"})) << name;
    EXPECT_TRUE(launched_with({std::string(name) + "="})) << name;  // set, if empty
  }
  // What the launchers this project uses set (Debian's Open MPI mpirun; srun with PMIx or PMI-2).
  EXPECT_TRUE(launched_with({"OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=1"}));
  EXPECT_TRUE(launched_with({"PMIX_RANK=3"}));
  EXPECT_TRUE(launched_with({"PMI_FD=5", "PMI_RANK=0", "PMI_SIZE=1"}));
}

TEST(MpiLauncher, AProcessStartedAloneIsNot) {
  EXPECT_FALSE(launched_with({}));
  EXPECT_FALSE(started_by_mpi_launcher(nullptr));
  EXPECT_FALSE(launched_with({"HOME=/root", "OPENBLAS_NUM_THREADS=1", "SLURM_JOB_ID=12"}));
  // Names that only start or end like a launcher's, and a launcher's name as a value.
  EXPECT_FALSE(launched_with({"PMIX_RANKS=1", "XPMI_RANK=0", "OMPI_COMM_WORLD_SIZEX=2", "NOTE=PMIX_RANK"}));
  EXPECT_FALSE(launched_with({"OMPI_MCA_btl=self"}));  // an Open MPI setting, not a launched process
}

}  // namespace
}  // namespace normscale
