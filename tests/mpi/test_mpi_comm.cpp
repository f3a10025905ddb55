// MpiComm against closed-form answers at any rank count: sums, maxima, broadcasts, agreement checks,
// the node-local rank against an independent count of the ranks that share this host's name, and the
// factory's host communicator under mpiexec.
#include "normscale/comm/agreement.hpp"
#include "normscale/comm/communicator_factory.hpp"
#include "normscale/comm/mpi_check.hpp"
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/core/error.hpp"
#include "support/error_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace normscale {
namespace {

using ::testing::HasSubstr;
using testing::error_message;

TEST(MpiComm, RankAndSizeMatchWorld) {
  MpiComm comm;
  int world_rank = -1;
  int world_size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  EXPECT_EQ(comm.rank(), world_rank);
  EXPECT_EQ(comm.size(), world_size);
  EXPECT_EQ(comm.is_root(), world_rank == 0);
  EXPECT_EQ(comm.backend(), "mpi");
  EXPECT_GE(comm.size(), 2) << "the MPI suite is meant to run under mpiexec with 2 or more ranks";
}

// This rank's index among the ranks of `comm` on the same host, and their number, found from the
// processor names alone (not from MPI_COMM_TYPE_SHARED, which MpiComm uses).
struct HostPeers {
  int index = 0;
  int count = 0;
};

HostPeers peers_on_this_host(MPI_Comm comm) {
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::array<char, MPI_MAX_PROCESSOR_NAME> mine{};
  int length = 0;
  MPI_Get_processor_name(mine.data(), &length);
  std::vector<char> all(static_cast<std::size_t>(size) * MPI_MAX_PROCESSOR_NAME);
  MPI_Allgather(mine.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm);
  HostPeers peers;
  for (int r = 0; r < size; ++r) {
    if (std::strncmp(all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME, mine.data(),
                     MPI_MAX_PROCESSOR_NAME) != 0) {
      continue;
    }
    if (r < rank) ++peers.index;
    ++peers.count;
  }
  return peers;
}

TEST(MpiComm, LocalRankAndSizeCountTheRanksOnThisHost) {
  MpiComm comm;
  const HostPeers peers = peers_on_this_host(MPI_COMM_WORLD);
  EXPECT_EQ(comm.local_rank(), peers.index);
  EXPECT_EQ(comm.local_size(), peers.count);
  // The test runs on one node: there the node is the whole world.
  if (peers.count == comm.size()) {
    EXPECT_EQ(comm.local_rank(), comm.rank());
    EXPECT_EQ(comm.local_size(), comm.size());
  }
}

// Over a split (even and odd world ranks), the local rank counts the split's ranks only.
TEST(MpiComm, LocalRankIsAmongTheCommunicatorsOwnRanks) {
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm half = MPI_COMM_NULL;
  ASSERT_EQ(MPI_Comm_split(MPI_COMM_WORLD, world_rank % 2, world_rank, &half), MPI_SUCCESS);
  {
    MpiComm comm(half);
    const HostPeers peers = peers_on_this_host(half);
    EXPECT_EQ(comm.local_rank(), peers.index);
    EXPECT_EQ(comm.local_size(), peers.count);
    EXPECT_LE(comm.local_size(), comm.size());
  }
  MPI_Comm_free(&half);
}

TEST(MpiComm, OwnsADuplicateNotWorldItself) {
  MpiComm comm;
  int comparison = MPI_UNEQUAL;
  MPI_Comm_compare(comm.native(), MPI_COMM_WORLD, &comparison);
  EXPECT_EQ(comparison, MPI_CONGRUENT);
}

TEST(MpiComm, AllreduceSumFloatMatchesClosedForm) {
  MpiComm comm;
  const int p = comm.size();
  const int r = comm.rank();
  // Small integers: every partial sum is exact in float, so the comparison can be exact.
  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(r + 1 + static_cast<int>(i % 7));
  comm.allreduce_sum(std::span<float>(values));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float expected = static_cast<float>(p * (p + 1) / 2 + p * static_cast<int>(i % 7));
    ASSERT_EQ(values[i], expected) << "element " << i;
  }
}

TEST(MpiComm, AllreduceSumDoubleMatchesClosedForm) {
  MpiComm comm;
  const int p = comm.size();
  const int r = comm.rank();
  std::vector<double> values(4097);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.5 * (r + 1) + static_cast<double>(i);
  comm.allreduce_sum(std::span<double>(values));
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double expected = 0.25 * p * (p + 1) + static_cast<double>(p) * static_cast<double>(i);
    ASSERT_EQ(values[i], expected) << "element " << i;
  }
}

TEST(MpiComm, AllreduceSumLargeFloatBufferInPlace) {
  MpiComm comm;
  const int p = comm.size();
  const int r = comm.rank();
  constexpr std::size_t kCount = std::size_t{1} << 20;  // 1M floats, 4 MiB: a pipelined algorithm
  std::vector<float> values(kCount);
  for (std::size_t i = 0; i < kCount; ++i) values[i] = static_cast<float>(static_cast<int>(i % 1024) * (r + 1));
  const float* const before = values.data();
  comm.allreduce_sum(std::span<float>(values));
  EXPECT_EQ(values.data(), before);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kCount; ++i) {
    const float expected = static_cast<float>(static_cast<int>(i % 1024) * p * (p + 1) / 2);
    if (values[i] != expected) ++wrong;
  }
  EXPECT_EQ(wrong, 0U);
}

TEST(MpiComm, AllreduceSumOfEmptySpanIsANoOp) {
  MpiComm comm;
  std::vector<float> none;
  EXPECT_NO_THROW(comm.allreduce_sum(std::span<float>(none)));
  comm.barrier();
}

TEST(MpiComm, AllreduceMaxMatchesClosedForm) {
  MpiComm comm;
  const int p = comm.size();
  const int r = comm.rank();
  // Element i is largest on rank i % p; the last element is negative everywhere.
  std::vector<double> values(64);
  for (std::size_t i = 0; i + 1 < values.size(); ++i) {
    values[i] = static_cast<int>(i) % p == r ? 100.0 + static_cast<double>(i) : -static_cast<double>(r);
  }
  values.back() = -1.0 - r;
  comm.allreduce_max(std::span<double>(values));
  for (std::size_t i = 0; i + 1 < values.size(); ++i) EXPECT_EQ(values[i], 100.0 + static_cast<double>(i));
  EXPECT_EQ(values.back(), -1.0);
}

TEST(MpiComm, BroadcastFromLastRank) {
  MpiComm comm;
  const int root = comm.size() - 1;
  std::vector<double> payload(10'000, 0.0);
  if (comm.rank() == root) {
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = 3.0 * static_cast<double>(i) + 0.25;
  }
  comm.broadcast(std::as_writable_bytes(std::span<double>(payload)), root);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    ASSERT_EQ(payload[i], 3.0 * static_cast<double>(i) + 0.25) << "element " << i;
  }
}

TEST(MpiComm, BroadcastToAnInvalidRootThrowsOnEveryRank) {
  MpiComm comm;
  std::vector<std::byte> bytes(8);
  const std::string message = error_message([&] { comm.broadcast(std::span<std::byte>(bytes), comm.size()); });
  EXPECT_THAT(message, HasSubstr("root"));
  comm.barrier();  // nobody was left inside a collective
}

TEST(MpiComm, IsMovableAndTheMovedFromObjectRefusesWork) {
  MpiComm first;
  const int local_rank = first.local_rank();
  const int local_size = first.local_size();
  MpiComm second(std::move(first));
  EXPECT_EQ(first.native(), MPI_COMM_NULL);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(second.local_rank(), local_rank);
  EXPECT_EQ(second.local_size(), local_size);
  EXPECT_THAT(error_message([&] { first.barrier(); }), HasSubstr("moved-from"));

  MpiComm third;
  third = std::move(second);
  EXPECT_EQ(third.local_rank(), local_rank);
  EXPECT_EQ(third.local_size(), local_size);
  std::vector<double> one{1.0};
  third.allreduce_sum(std::span<double>(one));
  EXPECT_EQ(one[0], static_cast<double>(third.size()));
}

// A GPU rank's wait for its stream (behind an NCCL collective) is watched by the watchdog the collective timeout
// started, which the communicator hands out; without a timeout there is none, and one process never waits.
TEST(MpiComm, HandsOutTheWatchdogItsCollectiveTimeoutStarted) {
  MpiComm comm;
  EXPECT_EQ(comm.watchdog(), nullptr);
  comm.set_collective_timeout(std::chrono::seconds(60));
  ASSERT_NE(comm.watchdog(), nullptr);
  EXPECT_EQ(comm.watchdog()->timeout(), std::chrono::seconds(60));
  { const CollectiveWatchdog::Watch watch(comm.watchdog(), "NCCL allreduce (a wait for the GPU's stream)", 8); }
  comm.barrier();  // the watchdog still serves the communicator's own collectives
  comm.set_collective_timeout(std::chrono::seconds(0));
  EXPECT_EQ(comm.watchdog(), nullptr);
  LocalComm local;
  EXPECT_EQ(local.watchdog(), nullptr);
}

// Under mpiexec the factory's host communicator is MPI over the whole world; local would leave each
// rank training alone, so asking for it is an error on every rank.
TEST(CommunicatorFactory, UnderMpiTheHostCommunicatorIsMpiOverTheWorld) {
  const std::unique_ptr<Communicator> comm = make_host_communicator();
  MpiComm reference;
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->rank(), reference.rank());
  EXPECT_EQ(comm->size(), reference.size());
  EXPECT_EQ(comm->local_rank(), reference.local_rank());
  EXPECT_EQ(comm->local_size(), reference.local_size());
  EXPECT_THAT(error_message([] { make_host_communicator("local"); }),
              HasSubstr(fmt::format("one of {} MPI ranks", reference.size())));
}

// MpiComm's duplicate returns errors instead of aborting, so NS_MPI_CHECK can report them. A negative
// count fails argument checking on every rank alike, before any communication.
TEST(MpiCheck, ReportsTheCallLocationHostAndMpiErrorString) {
  MpiComm comm;
  std::array<char, 256> host{};
  gethostname(host.data(), host.size() - 1);
  std::byte byte{};
  const std::string message =
      error_message([&] { NS_MPI_CHECK(MPI_Bcast(&byte, -1, MPI_BYTE, 0, comm.native())); });
  EXPECT_THAT(message, HasSubstr("MPI_Bcast(&byte, -1, MPI_BYTE, 0, comm.native())"));
  EXPECT_THAT(message, HasSubstr("test_mpi_comm.cpp:"));
  EXPECT_THAT(message, HasSubstr(std::string("on host ") + host.data()));
  std::array<char, MPI_MAX_ERROR_STRING> expected{};
  int length = 0;
  MPI_Error_string(MPI_ERR_COUNT, expected.data(), &length);
  EXPECT_THAT(message, HasSubstr(std::string(expected.data(), static_cast<std::size_t>(length))));
  comm.barrier();
}

TEST(CheckSameOnAllRanks, PassesWhenEveryRankHoldsTheSameValue) {
  MpiComm comm;
  EXPECT_NO_THROW(check_same_on_all_ranks(comm, 0xdeadbeefcafef00dULL, "config hash"));
  EXPECT_NO_THROW(check_same_on_all_ranks(comm, 0, "zero"));
  EXPECT_NO_THROW(check_same_on_all_ranks(comm, ~std::uint64_t{0}, "all ones"));
}

TEST(CheckSameOnAllRanks, ThrowsOnEveryRankWhenOneRankDiffers) {
  MpiComm comm;
  const std::uint64_t value = comm.rank() == 1 ? 43 : 42;
  const std::string message = error_message([&] { check_same_on_all_ranks(comm, value, "config hash"); });
  EXPECT_THAT(message, HasSubstr("ranks disagree on config hash"));
  comm.barrier();
}

// 2^60 + rank rounds to the same double on every rank: a single-double comparison would pass.
TEST(CheckSameOnAllRanks, SeesDifferencesBelowDoublePrecision) {
  MpiComm comm;
  const std::uint64_t value = (std::uint64_t{1} << 60) + static_cast<std::uint64_t>(comm.rank());
  EXPECT_THAT(error_message([&] { check_same_on_all_ranks(comm, value, "data fingerprint"); }),
              HasSubstr("data fingerprint"));
}

TEST(CheckSameOnAllRanks, SeesDifferencesInTheHighHalf) {
  MpiComm comm;
  const std::uint64_t value = (static_cast<std::uint64_t>(comm.rank()) << 40) | 7U;
  EXPECT_THAT(error_message([&] { check_same_on_all_ranks(comm, value, "seed"); }), HasSubstr("seed"));
}

TEST(CheckSameOnAllRanks, PassesTriviallyOnLocalComm) {
  LocalComm comm;
  EXPECT_NO_THROW(check_same_on_all_ranks(comm, 12345, "anything"));
}

}  // namespace
}  // namespace normscale
