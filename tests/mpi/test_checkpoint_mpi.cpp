// Checkpoints across ranks: written at P ranks, read back at P and by one rank with every multiplier in
// its global place; a damaged file on one rank fails the load on every rank instead of hanging; a
// resume passes over a checkpoint that one rank cannot read on every rank alike.
#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/comm/agreement.hpp"
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/core/error.hpp"
#include "normscale/train/sampler.hpp"
#include "support/deadline.hpp"
#include "support/error_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <cerrno>
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

  // The model of step `step`: checkpoints of different steps hold different weights.
  static ModelState<double> model(Index step = 0) {
    ModelState<double> state;
    for (Index i = 0; i < kParameters; ++i) {
      state.parameters.push_back(0.5 * static_cast<double>(i) - 3.0 + static_cast<double>(step));
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

  // The file of the first shard that `rank` owns in checkpoint `dir`.
  fs::path shard_file_of(int rank, const std::string& dir) const {
    return fs::path(dir) / fmt::format("shard_{:06d}.bin", rank * kShards / p_);
  }

  // Flips a byte near the end of `file` (inside the archive's data, so only the checksum notices).
  static void corrupt(const fs::path& file) {
    const auto offset = static_cast<std::streamoff>(fs::file_size(file) - 2);
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekg(offset);
    const char byte = static_cast<char>(stream.get() ^ 0x5a);
    stream.seekp(offset);
    stream.put(byte);
  }

  // Rank 0's text on every rank.
  std::string root_text(const std::string& text) {
    std::string buffer(4096, '\0');
    text.copy(buffer.data(), buffer.size() - 1);
    comm_.broadcast(std::as_writable_bytes(std::span<char>(buffer.data(), buffer.size())), 0);
    return buffer.c_str();
  }

  // True when every rank holds the same values, bit for bit.
  bool same_everywhere(std::vector<double> values) {
    std::vector<double> negated(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) negated[i] = -values[i];
    const std::vector<double> mine = values;
    comm_.allreduce_max(std::span<double>(values));
    comm_.allreduce_max(std::span<double>(negated));
    bool same = true;
    for (std::size_t i = 0; i < values.size(); ++i) same = same && values[i] == mine[i] && -negated[i] == mine[i];
    return same;
  }

  static CheckpointExpectation expected() { return {kHash, kShards, kExamples, kPerExample, kParameters}; }

  std::string write(Index step) {
    const MultiplierStore store = owned_store();
    write_checkpoint(run_dir_, comm_, manifest(step), model(step), &store, first_, last_, 2);
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
  EXPECT_EQ(loaded.parameters, model(12).parameters);
  EXPECT_EQ(loaded.velocity, model(12).velocity);
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
  EXPECT_EQ(loaded.parameters, model(20).parameters);
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
  const fs::path shard = shard_file_of(1, dir);
  if (comm_.rank() == 1) corrupt(shard);
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

// A disk that fills up under one rank: its shard write fails with ENOSPC (its shard file is a link to
// /dev/full). Every rank learns it from the same collective and stops with that rank's message; nothing
// is published; the next write succeeds and clears what the failed one left.
TEST_F(CheckpointMpiTest, AShardWriteFailingOnOneRankWithADiskFullStopsEveryRankTogether) {
  if (p_ == 1) GTEST_SKIP() << "needs a rank other than rank 0, which clears stale temporaries";
  const testing::Deadline deadline(std::chrono::seconds(60), "the write");
  const int failing_rank = p_ - 1;
  const fs::path full_dir = fs::path(run_dir_) / "full";
  const fs::path full_shard = full_dir / "checkpoints" / ".tmp_step_0000000005" /
                              fmt::format("shard_{:06d}.bin", failing_rank * kShards / p_);
  if (comm_.rank() == failing_rank) {
    fs::create_directories(full_shard.parent_path());
    fs::create_symlink("/dev/full", full_shard);
  }
  comm_.barrier();
  const MultiplierStore store = owned_store();
  const std::string dir = comm_.rank() == failing_rank ? full_dir.string() : run_dir_;
  const std::string message =
      testing::error_of([&] { write_checkpoint(dir, comm_, manifest(5), model(5), &store, first_, last_, 2); });
  EXPECT_THAT(message, HasSubstr("cannot write"));
  EXPECT_THAT(message, HasSubstr(full_shard.string()));
  EXPECT_THAT(message, HasSubstr(std::strerror(ENOSPC)));
  EXPECT_THAT(message, HasSubstr(fmt::format("reported by rank {}", failing_rank)));
  EXPECT_EQ(message, root_text(message)) << "every rank stops with one message";
  comm_.barrier();
  EXPECT_TRUE(list_checkpoints(run_dir_).empty()) << "a failed write publishes nothing";

  const std::string written = write(6);
  EXPECT_EQ(fs::path(written).filename(), "step_0000000006");
  comm_.barrier();
  for (const auto& entry : fs::directory_iterator(fs::path(run_dir_) / "checkpoints")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp_")) << entry.path();
  }
}

// The crash this guards against: one rank passed over a checkpoint it could not read and loaded an
// older one while the others loaded the newest, and the ranks then met in collectives of different sizes.
TEST_F(CheckpointMpiTest, ResumeFromAShardDamagedOnOneRankFallsBackTogether) {
  const testing::Deadline deadline(std::chrono::seconds(60), "the resume");
  write(10);
  const std::string newest = write(20);
  const int damaged_rank = p_ - 1;
  const fs::path shard = shard_file_of(damaged_rank, newest);
  if (comm_.rank() == damaged_rank) corrupt(shard);  // only the rank that owns it ever reads it
  comm_.barrier();

  MultiplierStore store;
  const std::optional<ResumePoint<double>> point =
      load_newest_usable_checkpoint<double>(run_dir_, comm_, expected(), &store, first_, last_);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(fs::path(point->dir).filename(), "step_0000000010");
  EXPECT_EQ(point->manifest.step, 10);
  EXPECT_THAT(point->passed_over, HasSubstr(shard.string()));
  EXPECT_THAT(point->passed_over, HasSubstr(fmt::format("reported by rank {}", damaged_rank)));
  EXPECT_EQ(point->model.parameters, model(10).parameters);
  EXPECT_TRUE(same_everywhere(point->model.parameters)) << "the ranks resumed with different weights";
  EXPECT_TRUE(same_everywhere({static_cast<double>(point->manifest.step)}));
  expect_multipliers(store, virtual_shard(kExamples, kShards, first_).begin,
                     virtual_shard(kExamples, kShards, last_ - 1).end);
}

TEST_F(CheckpointMpiTest, ResumeWithEveryCheckpointDamagedOnOneRankEndsEveryRankWithOneMessage) {
  const testing::Deadline deadline(std::chrono::seconds(60), "the resume");
  const int damaged_rank = p_ - 1;
  std::vector<fs::path> damaged;
  for (Index step : {10, 20}) damaged.push_back(shard_file_of(damaged_rank, write(step)));
  if (comm_.rank() == damaged_rank) {
    for (const fs::path& shard : damaged) corrupt(shard);
  }
  comm_.barrier();

  MultiplierStore store;
  const std::string message = testing::error_of(
      [&] { load_newest_usable_checkpoint<double>(run_dir_, comm_, expected(), &store, first_, last_); });
  EXPECT_THAT(message, HasSubstr("resume: no usable checkpoint in " + run_dir_));
  for (const fs::path& shard : damaged) EXPECT_THAT(message, HasSubstr(shard.string()));
  EXPECT_THAT(message, HasSubstr(fmt::format("reported by rank {}", damaged_rank)));
  EXPECT_EQ(message, root_text(message)) << "every rank ends with the same message";
  std::vector<double> one{1.0};
  comm_.allreduce_sum(std::span<double>(one));  // nobody was left behind in a collective
  EXPECT_EQ(one[0], static_cast<double>(p_));
}

TEST_F(CheckpointMpiTest, RanksThatSeeDifferentCheckpointsAllStop) {
  const testing::Deadline deadline(std::chrono::seconds(60), "the resume");
  write(10);
  write(20);
  // The last rank looks at another run directory, as if its file system showed it something else.
  const std::string elsewhere = run_dir_ + "/elsewhere";
  const std::string dir = comm_.rank() == p_ - 1 ? elsewhere : run_dir_;
  MultiplierStore store;
  const std::string message = testing::error_of(
      [&] { load_newest_usable_checkpoint<double>(dir, comm_, expected(), &store, first_, last_); });
  EXPECT_THAT(message, HasSubstr("ranks disagree on the checkpoints in " + dir));
  EXPECT_THAT(message, HasSubstr(comm_.rank() == p_ - 1 ? std::string("sees none")
                                                        : std::string("sees [step_0000000020, step_0000000010]")));
}

TEST_F(CheckpointMpiTest, ResumeWithoutCheckpointsFindsNoneOnEveryRank) {
  MultiplierStore store;
  const auto point = load_newest_usable_checkpoint<double>(run_dir_, comm_, expected(), &store, first_, last_);
  EXPECT_FALSE(point.has_value());
}

}  // namespace
}  // namespace normscale
