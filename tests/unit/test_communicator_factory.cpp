// The communicator factory without MPI: the fixed order of both sides, what "auto" picks in every
// environment, the errors for a backend that is asked for but not built or not usable (a CPU-only build
// asked for nccl among them), and the host communicator of a process that never called MPI_Init.
#include "normscale/comm/communicator_factory.hpp"
#include "normscale/train/device_engine.hpp"
#include "support/error_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;

constexpr CommEnvironment kOneProcess{.mpi_initialized = false, .mpi_world_size = 1, .cuda_built = false};
constexpr CommEnvironment kMpiAlone{.mpi_initialized = true, .mpi_world_size = 1, .cuda_built = false};
constexpr CommEnvironment kFourMpiRanks{.mpi_initialized = true, .mpi_world_size = 4, .cuda_built = false};
constexpr CommEnvironment kCpuOnly{.mpi_initialized = true, .mpi_world_size = 2, .cuda_built = false};
constexpr CommEnvironment kCudaBuild{.mpi_initialized = true, .mpi_world_size = 2, .cuda_built = true};

TEST(CommunicatorFactory, TriesMpiBeforeLocalAndNcclOnTheDevice) {
  EXPECT_THAT(kHostBackendOrder, ::testing::ElementsAre("mpi", "local"));
  EXPECT_THAT(kDeviceBackendOrder, ::testing::ElementsAre("nccl"));
}

TEST(CommunicatorFactory, AutoTakesMpiWheneverMpiIsInitialisedElseLocal) {
  EXPECT_EQ(choose_host_backend("auto", kMpiAlone), "mpi");
  EXPECT_EQ(choose_host_backend("auto", kFourMpiRanks), "mpi");
  EXPECT_EQ(choose_host_backend("auto", kOneProcess), "local");
}

TEST(CommunicatorFactory, NamedHostBackendsAreTakenWhereTheyCanServe) {
  EXPECT_EQ(choose_host_backend("mpi", kFourMpiRanks), "mpi");
  EXPECT_EQ(choose_host_backend("local", kOneProcess), "local");
  EXPECT_EQ(choose_host_backend("local", kMpiAlone), "local");  // one MPI process may run alone
}

TEST(CommunicatorFactory, MpiWithoutMpiInitIsAnErrorNotLocal) {
  EXPECT_THAT(error_of([] { choose_host_backend("mpi", kOneProcess); }),
              AllOf(HasSubstr("host communicator \"mpi\" cannot be used"), HasSubstr("MPI is not initialised")));
}

TEST(CommunicatorFactory, LocalUnderSeveralMpiRanksIsAnError) {
  EXPECT_THAT(error_of([] { choose_host_backend("local", kFourMpiRanks); }),
              AllOf(HasSubstr("host communicator \"local\" cannot be used"), HasSubstr("one of 4 MPI ranks"),
                    HasSubstr("use \"mpi\"")));
}

TEST(CommunicatorFactory, AnUnknownBackendNamesTheChoices) {
  EXPECT_THAT(error_of([] { choose_host_backend("gloo", kOneProcess); }),
              AllOf(HasSubstr("host communicator \"gloo\" is unknown"), HasSubstr("auto, mpi, local")));
  EXPECT_THAT(error_of([] { choose_device_backend("rccl", kCudaBuild); }),
              AllOf(HasSubstr("device communicator \"rccl\" is unknown"), HasSubstr("auto, nccl")));
}

TEST(CommunicatorFactory, NcclWhereTheCudaBackendIsBuilt) {
  EXPECT_EQ(choose_device_backend("auto", kCudaBuild), "nccl");
  EXPECT_EQ(choose_device_backend("nccl", kCudaBuild), "nccl");
}

TEST(CommunicatorFactory, NcclInACpuOnlyBuildNamesTheOptionAndTheRebuildFlag) {
  const std::string named = error_of([] { choose_device_backend("nccl", kCpuOnly); });
  EXPECT_THAT(named, AllOf(HasSubstr("device = \"cuda\": device communicator \"nccl\" cannot be used"),
                           HasSubstr("built without the CUDA backend"), HasSubstr("-DNORMSCALE_ENABLE_CUDA=ON"),
                           HasSubstr("device = \"cpu\"")));
  const std::string automatic = error_of([] { choose_device_backend("auto", kCpuOnly); });
  EXPECT_THAT(automatic, AllOf(HasSubstr("device = \"cuda\": no device communicator can be used here (nccl: "),
                               HasSubstr("-DNORMSCALE_ENABLE_CUDA=ON")));
}

TEST(CommunicatorFactory, ThisProcessIsOneWithoutMpiAndItsBuildAgreesWithTheEngineFactory) {
  const CommEnvironment environment = current_comm_environment();
  EXPECT_FALSE(environment.mpi_initialized);
  EXPECT_EQ(environment.mpi_world_size, 1);
  EXPECT_EQ(environment.cuda_built, cuda_backend_built());
}

TEST(CommunicatorFactory, WithoutMpiTheHostCommunicatorIsLocal) {
  const std::unique_ptr<Communicator> comm = make_host_communicator();
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->local_rank(), 0);
  EXPECT_EQ(comm->local_size(), 1);
  EXPECT_EQ(make_host_communicator("local")->backend(), "local");
  EXPECT_THAT(error_of([] { make_host_communicator("mpi"); }), HasSubstr("MPI is not initialised"));
}

TEST(CommunicatorFactory, ADeviceCommunicatorInACpuOnlyBuildIsAnError) {
  if (current_comm_environment().cuda_built) {
    GTEST_SKIP() << "this build has the CUDA backend: its device communicator is tested in tests/gpu";
  }
  LocalComm host;
  EXPECT_THAT(error_of([&] { make_device_communicator(host); }),
              AllOf(HasSubstr("device = \"cuda\""), HasSubstr("-DNORMSCALE_ENABLE_CUDA=ON")));
}

}  // namespace
}  // namespace normscale
