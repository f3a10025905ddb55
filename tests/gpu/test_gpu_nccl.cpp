// NcclComm on one rank: the Communicator surface on device buffers (sum, max, broadcast, barrier), the
// asynchronous bucket allreduce on a caller's stream, and ownership on move. Two ranks: mpi/.
#include "gpu_support.hpp"

#include "normscale/core/error.hpp"
#include "normscale/cuda/nccl_comm.hpp"

#include <utility>

namespace normscale {
namespace {

using gpu_testing::to_device;
using gpu_testing::to_host;

TEST(GpuNccl, OneRankCollectivesLeaveDeviceBuffersUnchanged) {
  NS_REQUIRE_CUDA_DEVICE();
  LocalComm bootstrap;
  NcclComm nccl(bootstrap);
  EXPECT_EQ(nccl.rank(), 0);
  EXPECT_EQ(nccl.size(), 1);
  EXPECT_EQ(nccl.backend(), "nccl");

  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f};
  auto d = to_device(values);
  nccl.allreduce_sum(std::span<float>(d.data(), d.size()));
  EXPECT_EQ(to_host(d, values.size()), values);

  const std::vector<double> doubles = {0.5, -4.0, 1e300};
  auto dd = to_device(doubles);
  nccl.allreduce_sum(std::span<double>(dd.data(), dd.size()));
  EXPECT_EQ(to_host(dd, doubles.size()), doubles);
  nccl.allreduce_max(std::span<double>(dd.data(), dd.size()));
  EXPECT_EQ(to_host(dd, doubles.size()), doubles);

  std::vector<unsigned char> bytes = {1, 2, 3, 250};
  auto db = to_device(bytes);
  nccl.broadcast(std::span<std::byte>(reinterpret_cast<std::byte*>(db.data()), db.size()), 0);
  EXPECT_EQ(to_host(db, bytes.size()), bytes);
  nccl.barrier();

  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  nccl.allreduce_sum_async(d.data(), d.size(), stream);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(to_host(d, values.size()), values);
  cudaStreamDestroy(stream);

  NcclComm moved(std::move(nccl));
  EXPECT_EQ(moved.size(), 1);
  moved.allreduce_sum(std::span<float>(d.data(), d.size()));
  EXPECT_THROW(nccl.allreduce_sum(std::span<float>(d.data(), d.size())), Error);  // NOLINT(bugprone-use-after-move)
}

}  // namespace
}  // namespace normscale
