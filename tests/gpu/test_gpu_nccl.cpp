// NcclComm on one rank, the DeviceCommunicator the factory gives a CUDA build: asynchronous sums of
// device buffers on a caller's stream, alone and grouped, its refusals (host memory, an unmatched
// end_group, a moved-from object) and ownership on move. Two ranks: mpi/.
#include "gpu_support.hpp"

#include "normscale/comm/communicator_factory.hpp"
#include "normscale/core/error.hpp"
#include "normscale/cuda/nccl_comm.hpp"

#include <gmock/gmock.h>

#include <utility>

namespace normscale {
namespace {

using gpu_testing::Stream;
using gpu_testing::to_device;
using gpu_testing::to_host;
using ::testing::HasSubstr;

TEST(GpuNccl, TheFactoryGivesNcclWithTheHostCommunicatorsRanks) {
  NS_REQUIRE_CUDA_DEVICE();
  LocalComm host;
  const std::unique_ptr<DeviceCommunicator> device = make_device_communicator(host);
  EXPECT_EQ(device->backend(), "nccl");
  EXPECT_EQ(device->rank(), 0);
  EXPECT_EQ(device->size(), 1);
  EXPECT_EQ(device->local_rank(), 0);
  EXPECT_NE(dynamic_cast<NcclComm*>(device.get()), nullptr);
}

TEST(GpuNccl, OneRankSumsLeaveDeviceBuffersUnchangedAloneAndGrouped) {
  NS_REQUIRE_CUDA_DEVICE();
  LocalComm bootstrap;
  NcclComm nccl(bootstrap);
  Stream stream;

  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f};
  auto d = to_device(values);
  nccl.allreduce_sum_async(d.data(), d.size(), stream.get());
  stream.synchronize();
  EXPECT_EQ(to_host(d, values.size()), values);

  const std::vector<double> doubles = {0.5, -4.0, 1e300};
  auto dd = to_device(doubles);
  nccl.allreduce_sum_async(dd.data(), dd.size(), stream.get());
  stream.synchronize();
  EXPECT_EQ(to_host(dd, doubles.size()), doubles);

  // Two float buckets of one buffer and a double bucket, one grouped launch (groups nest).
  nccl.begin_group();
  nccl.allreduce_sum_async(d.data(), 2, stream.get());
  nccl.begin_group();
  nccl.allreduce_sum_async(d.data() + 2, 3, stream.get());
  nccl.end_group();
  nccl.allreduce_sum_async(dd.data(), dd.size(), stream.get());
  nccl.end_group();
  stream.synchronize();
  EXPECT_EQ(to_host(d, values.size()), values);
  EXPECT_EQ(to_host(dd, doubles.size()), doubles);

  nccl.allreduce_sum_async(static_cast<float*>(nullptr), 0, stream.get());  // nothing to sum
}

TEST(GpuNccl, RefusesHostMemoryAndAnUnmatchedEndGroup) {
  NS_REQUIRE_CUDA_DEVICE();
  LocalComm bootstrap;
  NcclComm nccl(bootstrap);
  Stream stream;
  std::vector<float> host(16, 1.0f);
  try {
    nccl.allreduce_sum_async(host.data(), host.size(), stream.get());
    FAIL() << "a host buffer was accepted";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("not in GPU memory"));
    EXPECT_THAT(error.what(), HasSubstr("host Communicator"));
  }
  EXPECT_THROW(nccl.end_group(), Error);
}

TEST(GpuNccl, IsMovableAndTheMovedFromObjectRefusesWork) {
  NS_REQUIRE_CUDA_DEVICE();
  LocalComm bootstrap;
  NcclComm nccl(bootstrap);
  Stream stream;
  auto d = to_device(std::vector<float>{1.0f, 2.0f});
  NcclComm moved(std::move(nccl));
  EXPECT_EQ(moved.size(), 1);
  moved.allreduce_sum_async(d.data(), d.size(), stream.get());
  stream.synchronize();
  EXPECT_EQ(to_host(d, 2), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_THROW(nccl.allreduce_sum_async(d.data(), d.size(), stream.get()), Error);  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(nccl.begin_group(), Error);                                          // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace normscale
