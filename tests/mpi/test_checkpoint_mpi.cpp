// Checkpoints across ranks: written at P ranks, read back at P and by one rank with every multiplier in
// its global place; a damaged file on one rank fails the load on every rank instead of hanging.
#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/core/error.hpp"
#include "normscale/train/sampler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr Index kExamples = 37;  // uneven shards
constexpr Index kShards = 8;     // divisible by 2 and 4
constexpr Index kPerExample = 3;
constexpr Index kParameters = 29;
constexpr std::uint64_t kHash = 0xfeedface01234567ULL;

double multiplier(Index id, Index k) { return 10.0 * static_cast<double>(id) + static_cast<double>(k) + 0.125; }

// A run directory that rank 0 names and every rank sees; removed when the test ends.
class CheckpointMpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name(512, '\0');
    if (comm_.is_root()) {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      const fs::path dir = fs::temp_directory_path() / fmt::format("normscale_ckpt_mpi_{}_{}", info->name(), ::getpid());
      fs::remove_all(dir);
      fs::create_directories(dir);
      dir.string().copy(name.data(), name.size() - 1);
    }
    comm_.broadcast(std::as_writable_bytes(std::span<char>(name.data(), name.size())), 0);
    run_dir_ = name.c_str();
    p_ = comm_.size();
    first_ = comm_.rank() * kShards / p_;
    last_ = (comm_.rank() + 1) * kShards / p_;
  }
  void TearDown() override {
    comm_.barrier();
    if (comm_.is_root()) fs::remove_all(run_dir_);
  }

  // This rank's multipliers: exactly the rows of its shards, each a function of its global id.
  MultiplierStore owned_store() const {
    const Index begin = virtual_shard(kExamples, kShards, first_).begin;
    const Index end = virtual_shard(kExamples, kShards, last_ - 1).end;
    MultiplierStore store(begin, end - begin, kPerExample);
    for (Index id = begin; id < end; ++id) {
      for (Index k = 0; k < kPerExample; ++k) store.row(id)[k] = multiplier(id, k);
    }
    return store;
  }

  ModelState<double> model() const {
    ModelState<double> state;
    for (Index i = 0; i < kParameters; ++i) {
      state.parameters.push_back(0.5 * static_cast<double>(i) - 3.0);
      state.velocity.push_back(1e-3 * static_cast<double>(i));
    }
    return state;
  }

  CheckpointManifest manifest(Index step) const {
    CheckpointManifest m;
    m.config_hash = kHash;
    m.seed = 7;
    m.step = step;
    m.epoch = 1.5;
    m.virtual_shards = kShards;
    m.examples = kExamples;
    m.per_example = kPerExample;
    return m;
  }

  static CheckpointExpectation expected() { return {kHash, kShards, kExamples, kPerExample, kParameters}; }

  std::string write(Index step) {
    const MultiplierStore store = owned_store();
    write_checkpoint(run_dir_, comm_, manifest(step), model(), &store, first_, last_, 2);
    const std::vector<std::string> listed = list_checkpoints(run_dir_);
    EXPECT_FALSE(listed.empty());
    return listed.empty() ? std::string() : listed.front();
  }

  static void expect_multipliers(const MultiplierStore& store, Index begin, Index end) {
    ASSERT_EQ(store.first_id(), begin);
    ASSERT_EQ(store.count(), end - begin);
    ASSERT_EQ(store.per_example(), kPerExample);
    for (Index id = begin; id < end; ++id) {
      for (Index k = 0; k < kPerExample; ++k) EXPECT_EQ(store.row(id)[k], multiplier(id, k)) << id << " " << k;
    }
  }

  MpiComm comm_;
  std::string run_dir_;
  int p_ = 1;
  Index first_ = 0;
  Index last_ = 0;
};

TEST_F(CheckpointMpiTest, ReadsBackAtTheSameRankCount) {
  const std::string dir = write(12);
  EXPECT_EQ(fs::path(dir).filename(), "step_0000000012");
  ModelState<double> loaded;
  MultiplierStore store;
  const CheckpointManifest m = load_checkpoint(dir, comm_, expected(), loaded, &store, first_, last_);
  EXPECT_EQ(m.ranks, p_);
  EXPECT_EQ(m.step, 12);
  EXPECT_EQ(m.shard_checksums.size(), static_cast<std::size_t>(kShards));
  EXPECT_EQ(loaded.parameters, model().parameters);
  EXPECT_EQ(loaded.velocity, model().velocity);
  expect_multipliers(store, virtual_shard(kExamples, kShards, first_).begin,
                     virtual_shard(kExamples, kShards, last_ - 1).end);
}

TEST_F(CheckpointMpiTest, ReadsBackOnOneRankWithEveryMultiplierInPlace) {
  const std::string dir = write(20);
  LocalComm one_rank;  // each rank plays a whole one-rank job reading every shard
  ModelState<double> loaded;
  MultiplierStore store;
  const CheckpointManifest m = load_checkpoint(dir, one_rank, expected(), loaded, &store, 0, kShards);
  EXPECT_EQ(m.ranks, p_);
  EXPECT_EQ(loaded.parameters, model().parameters);
  expect_multipliers(store, 0, kExamples);
}

TEST_F(CheckpointMpiTest, KeepsTheNewestTwoAcrossRanks) {
  for (Index step = 1; step <= 4; ++step) write(step);
  comm_.barrier();
  const std::vector<std::string> listed = list_checkpoints(run_dir_);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(fs::path(listed[0]).filename(), "step_0000000004");
  EXPECT_EQ(fs::path(listed[1]).filename(), "step_0000000003");
}

TEST_F(CheckpointMpiTest, CorruptShardOfRankOneFailsTheLoadOnEveryRank) {
  const std::string dir = write(30);
  const Index rank_one_shard = kShards / p_;  // the first shard rank 1 owns
  const fs::path shard = fs::path(dir) / fmt::format("shard_{:06d}.bin", rank_one_shard);
  if (comm_.rank() == 1) {
    const auto offset = static_cast<std::streamoff>(fs::file_size(shard) - 2);
    std::fstream file(shard, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(offset);
    const char byte = static_cast<char>(file.get() ^ 0x5a);
    file.seekp(offset);
    file.put(byte);
  }
  comm_.barrier();
  ModelState<double> loaded;
  MultiplierStore store;
  std::string message;
  try {
    load_checkpoint(dir, comm_, expected(), loaded, &store, first_, last_);
  } catch (const Error& error) {
    message = error.what();
  }
  EXPECT_THAT(message, HasSubstr(shard.string()));
  EXPECT_THAT(message, HasSubstr("rank 1"));
  // The communicator still works: nobody was left behind in a collective.
  std::vector<double> one{1.0};
  comm_.allreduce_sum(std::span<double>(one));
  EXPECT_EQ(one[0], static_cast<double>(p_));
}

TEST_F(CheckpointMpiTest, AWriteFailingOnOneRankFailsOnEveryRankAndPublishesNothing) {
  MultiplierStore store = owned_store();
  if (comm_.rank() == 1) store = MultiplierStore(store.first_id(), store.count() + 1, kPerExample);
  std::string message;
  try {
    write_checkpoint(run_dir_, comm_, manifest(5), model(), &store, first_, last_, 2);
  } catch (const Error& error) {
    message = error.what();
  }
  EXPECT_THAT(message, HasSubstr("rank 1's multiplier store"));
  comm_.barrier();
  EXPECT_TRUE(list_checkpoints(run_dir_).empty());
}

}  // namespace
}  // namespace normscale
