// Checkpoints on one process: round trips, keep-last-k, incomplete and stale directories, and damaged
// files that must be reported by name.
#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/core/error.hpp"
#include "normscale/train/sampler.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_message;

constexpr Index kExamples = 10;
constexpr Index kShards = 4;
constexpr Index kPerExample = 2;
constexpr std::uint64_t kHash = 0x1234abcd5678ef90ULL;

// A fresh, empty run directory per test, removed afterwards.
class CheckpointTest : public ::testing::Test {
 protected:
  std::string run_dir() const { return run_dir_.string(); }
  fs::path checkpoints() const { return run_dir_ / "checkpoints"; }

  testing::TempDir temp_{"normscale_ckpt_", testing::current_test_name()};
  const fs::path& run_dir_ = temp_.path();
  LocalComm comm_;
};

CheckpointManifest manifest_for(Index step, Index per_example = kPerExample) {
  CheckpointManifest m;
  m.config_hash = kHash;
  m.seed = 42;
  m.step = step;
  m.epoch = 0.25 * static_cast<double>(step);
  m.virtual_shards = kShards;
  m.examples = kExamples;
  m.per_example = per_example;
  return m;
}

CheckpointExpectation expectation(Index parameter_count, Index per_example = kPerExample) {
  return {kHash, kShards, kExamples, per_example, parameter_count};
}

template <class T>
ModelState<T> model_for(Index step, bool with_velocity) {
  ModelState<T> model;
  for (int i = 0; i < 17; ++i) {
    model.parameters.push_back(static_cast<T>(0.1 * i + static_cast<double>(step)));
    if (with_velocity) model.velocity.push_back(static_cast<T>(-0.01 * i));
  }
  if (with_velocity) model.layer_state = {static_cast<T>(0.5), static_cast<T>(2.0), static_cast<T>(step)};
  return model;
}

// Every multiplier a distinct function of (id, k, step).
MultiplierStore store_for(Index step) {
  MultiplierStore store(0, kExamples, kPerExample);
  for (Index id = 0; id < kExamples; ++id) {
    for (Index k = 0; k < kPerExample; ++k) store.row(id)[k] = static_cast<double>(id) + 0.5 * k + 1000.0 * step;
  }
  return store;
}

void flip_byte(const fs::path& path, std::uintmax_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.good()) << path;
  file.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x5a);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(&byte, 1);
}

TEST_F(CheckpointTest, RoundTripsManifestFloatModelAndMultipliers) {
  const ModelState<float> model = model_for<float>(7, true);
  const MultiplierStore store = store_for(7);
  write_checkpoint(run_dir(), comm_, manifest_for(7), model, &store, 0, kShards, 3);

  const std::vector<std::string> listed = list_checkpoints(run_dir());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(fs::path(listed[0]).filename(), "step_0000000007");
  for (Index v = 0; v < kShards; ++v) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(listed[0]) / fmt::format("shard_{:06d}.bin", v)));
  }

  ModelState<float> loaded;
  MultiplierStore loaded_store;
  const CheckpointManifest m =
      load_checkpoint(listed[0], comm_, expectation(17), loaded, &loaded_store, 0, kShards);
  EXPECT_EQ(m.format_version, kCheckpointFormatVersion);
  EXPECT_EQ(m.config_hash, kHash);
  EXPECT_EQ(m.seed, 42u);
  EXPECT_EQ(m.step, 7);
  EXPECT_DOUBLE_EQ(m.epoch, 1.75);
  EXPECT_EQ(m.ranks, 1);
  EXPECT_EQ(m.virtual_shards, kShards);
  EXPECT_EQ(m.examples, kExamples);
  EXPECT_EQ(m.per_example, kPerExample);
  EXPECT_EQ(m.scalar, "float32");
  EXPECT_EQ(m.parameter_count, 17);
  EXPECT_EQ(m.shard_checksums.size(), static_cast<std::size_t>(kShards));
  EXPECT_EQ(loaded.parameters, model.parameters);
  EXPECT_EQ(loaded.velocity, model.velocity);
  EXPECT_EQ(loaded.layer_state, model.layer_state);
  EXPECT_EQ(loaded.layer_state.size(), 3u);
  EXPECT_EQ(loaded_store.first_id(), 0);
  EXPECT_EQ(loaded_store.count(), kExamples);
  EXPECT_EQ(loaded_store.per_example(), kPerExample);
  EXPECT_EQ(loaded_store.values(), store.values());

  const CheckpointManifest read = read_checkpoint_manifest(listed[0]);
  EXPECT_EQ(read.model_checksum, m.model_checksum);
  EXPECT_EQ(read.shard_checksums, m.shard_checksums);
}

TEST_F(CheckpointTest, RoundTripsDoubleModelWithoutVelocityOrMultipliers) {
  const ModelState<double> model = model_for<double>(3, false);
  write_checkpoint<double>(run_dir(), comm_, manifest_for(3, 0), model, nullptr, 0, kShards, 0);
  const std::string dir = list_checkpoints(run_dir()).at(0);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "shard_000000.bin"));

  ModelState<double> loaded;
  const CheckpointManifest m = load_checkpoint(dir, comm_, expectation(17, 0), loaded, nullptr, 0, kShards);
  EXPECT_EQ(m.scalar, "float64");
  EXPECT_EQ(m.per_example, 0);
  EXPECT_TRUE(m.shard_checksums.empty());
  EXPECT_EQ(loaded.parameters, model.parameters);
  EXPECT_TRUE(loaded.velocity.empty());
}

// A checkpoint keeps whole rows (multipliers and their update's state); the loading store keeps knowing
// which leading values are the multipliers.
TEST_F(CheckpointTest, RowsWithUpdateStateComeBackWholeAndStillSayWhichAreMultipliers) {
  MultiplierStore store = store_for(3);  // kPerExample = 2 values: one multiplier, one state value
  MultiplierStore with_state(0, kExamples, kPerExample, 1);
  with_state.values() = store.values();
  write_checkpoint(run_dir(), comm_, manifest_for(8), model_for<float>(8, false), &with_state, 0, kShards, 1);
  ModelState<float> loaded;
  MultiplierStore loaded_store(0, kExamples, kPerExample, 1);
  load_checkpoint(list_checkpoints(run_dir()).at(0), comm_, expectation(17), loaded, &loaded_store, 0, kShards);
  EXPECT_EQ(loaded_store.values(), store.values());
  EXPECT_EQ(loaded_store.multipliers_per_example(), 1);
}

TEST_F(CheckpointTest, LoadsAnyShardSubsetIntoItsGlobalPositions) {
  // Written by one rank owning every shard, read as rank 1 of 2 would: shards [2, 4).
  const MultiplierStore store = store_for(5);
  write_checkpoint(run_dir(), comm_, manifest_for(5), model_for<double>(5, true), &store, 0, kShards, 1);

  ModelState<double> loaded;
  MultiplierStore part(0, 1, 1);  // any shape: the load reshapes it
  load_checkpoint(list_checkpoints(run_dir()).at(0), comm_, expectation(17), loaded, &part, 2, 4);
  const Index begin = virtual_shard(kExamples, kShards, 2).begin;
  EXPECT_EQ(part.first_id(), begin);
  EXPECT_EQ(part.count(), kExamples - begin);
  for (Index id = begin; id < kExamples; ++id) {
    for (Index k = 0; k < kPerExample; ++k) EXPECT_EQ(part.row(id)[k], store.row(id)[k]) << id << " " << k;
  }
}

TEST_F(CheckpointTest, RewritingAStepReplacesIt) {
  const MultiplierStore first = store_for(1);
  const MultiplierStore second = store_for(2);
  write_checkpoint(run_dir(), comm_, manifest_for(4), model_for<float>(1, false), &first, 0, kShards, 5);
  write_checkpoint(run_dir(), comm_, manifest_for(4), model_for<float>(2, false), &second, 0, kShards, 5);
  ASSERT_EQ(list_checkpoints(run_dir()).size(), 1u);
  ModelState<float> loaded;
  MultiplierStore loaded_store;
  load_checkpoint(list_checkpoints(run_dir())[0], comm_, expectation(17), loaded, &loaded_store, 0, kShards);
  EXPECT_EQ(loaded.parameters, model_for<float>(2, false).parameters);
  EXPECT_EQ(loaded_store.values(), second.values());
  EXPECT_EQ(std::distance(fs::directory_iterator(checkpoints()), fs::directory_iterator()), 1);
}

TEST_F(CheckpointTest, KeepsOnlyTheNewestK) {
  const MultiplierStore store = store_for(0);
  for (Index step = 10; step <= 50; step += 10) {
    write_checkpoint(run_dir(), comm_, manifest_for(step), model_for<float>(step, true), &store, 0, kShards, 2);
  }
  const std::vector<std::string> listed = list_checkpoints(run_dir());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(fs::path(listed[0]).filename(), "step_0000000050");
  EXPECT_EQ(fs::path(listed[1]).filename(), "step_0000000040");
  EXPECT_FALSE(fs::exists(checkpoints() / "step_0000000030"));
  EXPECT_FALSE(fs::exists(checkpoints() / "step_0000000010"));
}

// A long run writes a checkpoint every few steps for days: each write, prune and load must close what it
// opened (perf/long_run_flat.sh measures the same of a whole run).
TEST_F(CheckpointTest, HundredsOfWritesAndLoadsLeaveNoFileDescriptorOpen) {
  if (!fs::exists("/proc/self/fd")) GTEST_SKIP() << "no /proc/self/fd to count descriptors in";
  const auto open_descriptors = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator());
  };
  const MultiplierStore store = store_for(0);
  ModelState<float> loaded;
  MultiplierStore loaded_store;
  const auto before = open_descriptors();
  for (Index step = 1; step <= 300; ++step) {
    write_checkpoint(run_dir(), comm_, manifest_for(step), model_for<float>(step, true), &store, 0, kShards, 3);
    load_checkpoint(list_checkpoints(run_dir()).at(0), comm_, expectation(17), loaded, &loaded_store, 0, kShards);
  }
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_EQ(list_checkpoints(run_dir()).size(), 3u);
}

TEST_F(CheckpointTest, IgnoresADirectoryWithoutManifest) {
  const MultiplierStore store = store_for(0);
  write_checkpoint(run_dir(), comm_, manifest_for(10), model_for<float>(10, true), &store, 0, kShards, 3);
  // A crash mid-write of step 20 (outside the temporary-name protocol) leaves a step directory without manifest.
  fs::create_directories(checkpoints() / "step_0000000020");
  std::ofstream(checkpoints() / "step_0000000020" / "model.bin") << "half";
  fs::create_directories(checkpoints() / "not_a_checkpoint");

  const std::vector<std::string> listed = list_checkpoints(run_dir());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(fs::path(listed[0]).filename(), "step_0000000010");
  EXPECT_TRUE(list_checkpoints((run_dir_ / "nowhere").string()).empty());
}

TEST_F(CheckpointTest, RemovesAStaleTemporaryDirectoryOnTheNextWrite) {
  fs::create_directories(checkpoints() / ".tmp_step_0000000007");
  std::ofstream(checkpoints() / ".tmp_step_0000000007" / "shard_000001.bin") << "left by a crash";
  EXPECT_TRUE(list_checkpoints(run_dir()).empty());

  const MultiplierStore store = store_for(8);
  write_checkpoint(run_dir(), comm_, manifest_for(8), model_for<float>(8, true), &store, 0, kShards, 3);
  EXPECT_FALSE(fs::exists(checkpoints() / ".tmp_step_0000000007"));
  EXPECT_TRUE(fs::exists(checkpoints() / "step_0000000008" / "manifest.bin"));
  EXPECT_EQ(std::distance(fs::directory_iterator(checkpoints()), fs::directory_iterator()), 1);
}

// A kill while pruning removed part of an old checkpoint (its manifest first: a step folder without a manifest,
// which no listing, prune or resume removed again). Removal is now a rename under the temporary prefix, then the
// removal; the next write clears what it left, and a prune removes incomplete step folders older than the one written.
TEST_F(CheckpointTest, WhatAnInterruptedPruneLeftIsRemovedByTheNextWrite) {
  const MultiplierStore store = store_for(0);
  write_checkpoint(run_dir(), comm_, manifest_for(3), model_for<float>(3, true), &store, 0, kShards, 2);
  fs::create_directories(checkpoints() / ".tmp_removed_step_0000000001");  // killed after the rename
  std::ofstream(checkpoints() / ".tmp_removed_step_0000000001" / "model.bin") << "being removed";
  fs::create_directories(checkpoints() / "step_0000000002");  // an older build's prune, killed
  std::ofstream(checkpoints() / "step_0000000002" / "shard_000001.bin") << "left";
  write_checkpoint(run_dir(), comm_, manifest_for(6), model_for<float>(6, true), &store, 0, kShards, 2);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(checkpoints())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step_0000000003", "step_0000000006"}));
  write_checkpoint(run_dir(), comm_, manifest_for(9), model_for<float>(9, true), &store, 0, kShards, 2);
  EXPECT_EQ(list_checkpoints(run_dir()).size(), 2u);
  EXPECT_FALSE(fs::exists(checkpoints() / "step_0000000003"));
}

// Rewriting a step moves the old one aside, then renames the new one into place: a kill between the two left the
// step under temporary names only, both removed. The one moved aside is complete and goes back in place.
TEST_F(CheckpointTest, ACheckpointMovedAsideToBeReplacedComesBackWhenItsReplacementDidNot) {
  const MultiplierStore store = store_for(0);
  write_checkpoint(run_dir(), comm_, manifest_for(4), model_for<float>(4, true), &store, 0, kShards, 3);
  fs::rename(checkpoints() / "step_0000000004", checkpoints() / ".tmp_replaced_step_0000000004");
  fs::create_directories(checkpoints() / ".tmp_step_0000000004");  // the replacement, unfinished
  write_checkpoint(run_dir(), comm_, manifest_for(5), model_for<float>(5, true), &store, 0, kShards, 3);
  const std::vector<std::string> listed = list_checkpoints(run_dir());
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(fs::path(listed[1]).filename(), "step_0000000004");
  ModelState<float> loaded;
  MultiplierStore loaded_store;
  load_checkpoint(listed[1], comm_, expectation(17), loaded, &loaded_store, 0, kShards);
  EXPECT_EQ(loaded.parameters, model_for<float>(4, true).parameters);
  EXPECT_FALSE(fs::exists(checkpoints() / ".tmp_step_0000000004"));
}

class DamagedCheckpointTest : public CheckpointTest {
 protected:
  void SetUp() override {
    CheckpointTest::SetUp();
    const MultiplierStore store = store_for(9);
    write_checkpoint(run_dir(), comm_, manifest_for(9), model_for<float>(9, true), &store, 0, kShards, 3);
    dir_ = fs::path(list_checkpoints(run_dir()).at(0));
  }
  std::string load_error(std::uint64_t hash = kHash) {
    ModelState<float> loaded;
    MultiplierStore loaded_store;
    CheckpointExpectation expected = expectation(17);
    expected.config_hash = hash;
    return error_message(
        [&] { load_checkpoint(dir_.string(), comm_, expected, loaded, &loaded_store, 0, kShards); });
  }
  fs::path dir_;
};

TEST_F(DamagedCheckpointTest, FlippedByteInModelNamesTheModelFile) {
  const fs::path model = dir_ / "model.bin";
  flip_byte(model, fs::file_size(model) - 3);
  const std::string message = load_error();
  EXPECT_THAT(message, HasSubstr(model.string()));
  EXPECT_THAT(message, HasSubstr("checksum"));
}

TEST_F(DamagedCheckpointTest, FlippedByteInShardNamesTheShardFile) {
  const fs::path shard = dir_ / "shard_000002.bin";
  flip_byte(shard, fs::file_size(shard) / 2);
  const std::string message = load_error();
  EXPECT_THAT(message, HasSubstr(shard.string()));
  EXPECT_THAT(message, HasSubstr("corrupt or truncated"));
}

TEST_F(DamagedCheckpointTest, TruncatedShardNamesTheShardFile) {
  const fs::path shard = dir_ / "shard_000003.bin";
  fs::resize_file(shard, fs::file_size(shard) - 5);
  EXPECT_THAT(load_error(), HasSubstr(shard.string()));
}

TEST_F(DamagedCheckpointTest, MissingShardNamesTheShardFile) {
  const fs::path shard = dir_ / "shard_000000.bin";
  fs::remove(shard);
  EXPECT_THAT(load_error(), HasSubstr(shard.string()));
}

TEST_F(DamagedCheckpointTest, TruncatedManifestNamesTheManifest) {
  const fs::path manifest = dir_ / "manifest.bin";
  fs::resize_file(manifest, fs::file_size(manifest) / 2);
  EXPECT_THAT(load_error(), HasSubstr(manifest.string()));
}

// Boost allocates a string or vector at the length it reads before reading the data, and a manifest's
// checksum (format 3; format 2 has none) can only be trusted once its version is read: a damaged length must
// be refused by name, not allocated (found by fuzz/fuzz_checkpoint_manifest, which saw a 16-byte manifest ask
// for a 4 GiB string).
class HugeLengthInManifestTest : public DamagedCheckpointTest {
 protected:
  static constexpr std::uint64_t kHuge = std::uint64_t{1} << 40;
  fs::path manifest() const { return dir_ / "manifest.bin"; }
  std::string manifest_bytes() const {
    std::ifstream in(manifest(), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // Overwrites the native std::size_t at `offset` (how Boost's binary archive stores lengths) with kHuge.
  void set_length_at(std::size_t offset) const {
    std::string bytes = manifest_bytes();
    ASSERT_LE(offset + sizeof(std::size_t), bytes.size());
    const std::size_t huge = kHuge;
    std::memcpy(bytes.data() + offset, &huge, sizeof huge);
    std::ofstream(manifest(), std::ios::binary | std::ios::trunc) << bytes;
  }
  std::string manifest_error() const {
    return error_message([&] { read_checkpoint_manifest(dir_.string()); });
  }
};

TEST_F(HugeLengthInManifestTest, ArchiveSignatureLength) {
  set_length_at(0);
  const std::string message = manifest_error();
  EXPECT_THAT(message, HasSubstr(manifest().string()));
  EXPECT_THAT(message, HasSubstr("does not start with a Boost binary archive's signature"));
}

TEST_F(HugeLengthInManifestTest, MagicStringLength) {
  const std::size_t magic = manifest_bytes().find("normscale-checkpoint");
  ASSERT_NE(magic, std::string::npos);
  set_length_at(magic - sizeof(std::size_t));
  const std::string message = manifest_error();
  EXPECT_THAT(message, HasSubstr(manifest().string()));
  EXPECT_THAT(message, HasSubstr("a string of 1099511627776 bytes"));
}

TEST_F(HugeLengthInManifestTest, ShardChecksumCount) {
  // The manifest ends with the checksums' count (std::size_t), the kShards checksums (4 bytes each), the data
  // fingerprint (8 bytes), the noise scale's averages (none here: as an empty vector archives) and the manifest's
  // own crc32 (4 bytes).
  std::ostringstream empty(std::ios::binary);
  {
    boost::archive::binary_oarchive ar(empty, boost::archive::no_header);
    ar << std::vector<double>{};
  }
  const std::string bytes = manifest_bytes();
  const std::size_t count_at = bytes.size() - 4 - empty.str().size() - 8 - 4 * kShards - sizeof(std::size_t);
  std::size_t count = 0;
  std::memcpy(&count, bytes.data() + count_at, sizeof count);
  ASSERT_EQ(count, static_cast<std::size_t>(kShards)) << "the checksums' count is not where this test expects it";
  set_length_at(count_at);
  const std::string message = manifest_error();
  EXPECT_THAT(message, HasSubstr(manifest().string()));
  EXPECT_THAT(message, HasSubstr("a list of 1099511627776 elements"));
  // The noise scale's count likewise.
  std::ofstream(manifest(), std::ios::binary | std::ios::trunc) << bytes;
  set_length_at(bytes.size() - 4 - empty.str().size());
  EXPECT_THAT(manifest_error(), HasSubstr("a list of 1099511627776 elements"));
}

TEST_F(DamagedCheckpointTest, ConfigHashMismatchNamesBothHashes) {
  const std::string message = load_error(0x00000000deadbeefULL);
  EXPECT_THAT(message, HasSubstr("1234abcd5678ef90"));
  EXPECT_THAT(message, HasSubstr("00000000deadbeef"));
  EXPECT_THAT(message, HasSubstr("configuration changed"));
}

TEST_F(DamagedCheckpointTest, FailedLoadLeavesTheOutputsUntouched) {
  flip_byte(dir_ / "shard_000001.bin", 40);
  ModelState<float> loaded = model_for<float>(1, false);
  MultiplierStore loaded_store = store_for(1);
  EXPECT_THROW(load_checkpoint(dir_.string(), comm_, expectation(17), loaded, &loaded_store, 0, kShards), Error);
  EXPECT_EQ(loaded.parameters, model_for<float>(1, false).parameters);
  EXPECT_EQ(loaded_store.values(), store_for(1).values());
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put_file_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The manifest's step, changed in place as by a damaged digit: the checksum catches it, the manifest is
// named, and a resume falls back to the checkpoint before. The step's bytes are found by writing the
// same manifest at step 9 and at step 8 (with the same model and multipliers) and comparing.
TEST_F(DamagedCheckpointTest, AChangedStepInTheManifestIsNamedAndTheResumeFallsBack) {
  const MultiplierStore store = store_for(9);
  write_checkpoint(run_dir(), comm_, manifest_for(8), model_for<float>(9, true), &store, 0, kShards, 3);
  const fs::path older = checkpoints() / "step_0000000008";
  const fs::path manifest = dir_ / "manifest.bin";
  std::string bytes = file_bytes(manifest);
  const std::string other = file_bytes(older / "manifest.bin");
  ASSERT_EQ(bytes.size(), other.size());
  std::size_t changed = 0;
  for (std::size_t i = 0; i + 4 < bytes.size(); ++i) {  // the last 4 bytes are the checksum
    if (bytes[i] != other[i]) {
      bytes[i] = other[i];
      ++changed;
    }
  }
  ASSERT_GT(changed, 0u) << "the step and the epoch are the only fields that differ";
  put_file_bytes(manifest, bytes);  // step 9 now reads 8: the resume would repeat a step silently

  EXPECT_THAT(load_error(), AllOf(HasSubstr(manifest.string()), HasSubstr("fails its checksum")));
  MultiplierStore loaded_store;
  const auto point =
      load_newest_usable_checkpoint<float>(run_dir(), comm_, expectation(17), &loaded_store, 0, kShards);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->dir, older.string());
  EXPECT_EQ(point->manifest.step, 8);
  EXPECT_THAT(point->passed_over, HasSubstr(manifest.string()));
}

// A newer checkpoint that lost its manifest is no checkpoint, but the fall-back names it (it was silent).
TEST_F(DamagedCheckpointTest, ANewerStepFolderWithoutManifestIsNamedByTheFallBack) {
  const MultiplierStore store = store_for(12);
  write_checkpoint(run_dir(), comm_, manifest_for(12), model_for<float>(12, true), &store, 0, kShards, 3);
  fs::remove(checkpoints() / "step_0000000012" / "manifest.bin");
  MultiplierStore loaded_store;
  const auto point =
      load_newest_usable_checkpoint<float>(run_dir(), comm_, expectation(17), &loaded_store, 0, kShards);
  ASSERT_TRUE(point.has_value());
  EXPECT_EQ(point->manifest.step, 9);
  EXPECT_THAT(point->passed_over, HasSubstr((checkpoints() / "step_0000000012").string() + " has no manifest.bin"));
}

TEST_F(DamagedCheckpointTest, EveryFlippedByteOfTheManifestIsCaught) {
  const fs::path manifest = dir_ / "manifest.bin";
  const std::string good = file_bytes(manifest);
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bytes = good;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x01);  // one bit: a size field stays small
    put_file_bytes(manifest, bytes);
    EXPECT_THROW(read_checkpoint_manifest(dir_.string()), Error) << "byte " << i << " of " << good.size();
  }
  put_file_bytes(manifest, good);
  EXPECT_EQ(read_checkpoint_manifest(dir_.string()).step, 9);
}

// A manifest of format version 2 (no checksum, no data fingerprint) as the previous release wrote it.
std::string version_2_manifest(const CheckpointManifest& m, std::uint32_t model_checksum,
                               const std::vector<std::uint32_t>& shard_checksums) {
  std::ostringstream out(std::ios::binary);
  {
    boost::archive::binary_oarchive ar(out);
    const std::string magic = "normscale-checkpoint";
    const int version = 2;
    const std::string scalar = "float32";
    const Index parameters = 17;
    ar << magic << version << m.config_hash << m.seed << m.step << m.epoch << m.ranks << m.virtual_shards
       << m.examples << m.per_example << scalar << parameters << model_checksum << shard_checksums;
  }
  return std::move(out).str();
}

TEST_F(DamagedCheckpointTest, AVersion2CheckpointIsStillReadButNotOneWhoseVersionWasDamagedToRead2) {
  const CheckpointManifest current = read_checkpoint_manifest(dir_.string());
  const fs::path manifest = dir_ / "manifest.bin";
  put_file_bytes(manifest, version_2_manifest(current, current.model_checksum, current.shard_checksums));
  ModelState<float> loaded;
  MultiplierStore loaded_store;
  const CheckpointManifest read = load_checkpoint(dir_.string(), comm_, expectation(17), loaded, &loaded_store, 0,
                                                  kShards);
  EXPECT_EQ(read.format_version, 2);
  EXPECT_EQ(read.step, 9);
  EXPECT_EQ(read.data_fingerprint, 0u);
  EXPECT_EQ(loaded.parameters, model_for<float>(9, true).parameters);

  // Version 3 with its version field turned to 2 has bytes left over (fingerprint, checksum): refused.
  std::string bytes = version_2_manifest(current, current.model_checksum, current.shard_checksums);
  bytes.append(12, '\0');
  put_file_bytes(manifest, bytes);
  EXPECT_THAT(load_error(), HasSubstr("fails its checksum"));
}

// Version 4 carries the noise scale's averages; a version 3 manifest (the release before) is still read, without.
TEST_F(DamagedCheckpointTest, TheNoiseScaleRoundTripsAndAVersion3CheckpointIsStillRead) {
  const MultiplierStore store = store_for(10);
  CheckpointManifest written = manifest_for(10);
  written.noise_scale = {2.5, -0.125, 0.75, 12.0};
  write_checkpoint(run_dir(), comm_, written, model_for<float>(10, true), &store, 0, kShards, 3);
  const std::string newest = list_checkpoints(run_dir()).at(0);
  EXPECT_EQ(read_checkpoint_manifest(newest).format_version, 4);
  EXPECT_EQ(read_checkpoint_manifest(newest).noise_scale, written.noise_scale);

  const CheckpointManifest current = read_checkpoint_manifest(dir_.string());
  std::string bytes = version_2_manifest(current, current.model_checksum, current.shard_checksums);
  bytes[bytes.find("normscale-checkpoint") + 20] = 3;  // the version field follows the magic
  {
    std::ostringstream out(std::ios::binary);
    boost::archive::binary_oarchive ar(out, boost::archive::no_header);
    ar << current.data_fingerprint;
    bytes += std::move(out).str();
  }
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  put_file_bytes(dir_ / "manifest.bin", bytes);
  const CheckpointManifest read = read_checkpoint_manifest(dir_.string());
  EXPECT_EQ(read.format_version, 3);
  EXPECT_EQ(read.step, 9);
  EXPECT_TRUE(read.noise_scale.empty());
}

TEST_F(CheckpointTest, RefusesTrainingDataWithAnotherFingerprint) {
  const MultiplierStore store = store_for(3);
  CheckpointManifest manifest = manifest_for(3);
  manifest.data_fingerprint = 0x0123456789abcdefULL;
  write_checkpoint(run_dir(), comm_, manifest, model_for<float>(3, false), &store, 0, kShards, 3);
  const std::string dir = list_checkpoints(run_dir()).at(0);
  ModelState<float> loaded;
  MultiplierStore loaded_store;
  CheckpointExpectation expected = expectation(17);
  expected.data_fingerprint = 0x0123456789abcdefULL;
  EXPECT_EQ(load_checkpoint(dir, comm_, expected, loaded, &loaded_store, 0, kShards).data_fingerprint,
            0x0123456789abcdefULL);
  expected.data_fingerprint = 0x0123456789abcdeeULL;
  EXPECT_THAT(error_message([&] { load_checkpoint(dir, comm_, expected, loaded, &loaded_store, 0, kShards); }),
              AllOf(HasSubstr("0123456789abcdef"), HasSubstr("0123456789abcdee"), HasSubstr("data files changed")));
}

TEST_F(DamagedCheckpointTest, RefusesADifferentRun) {
  ModelState<float> as_float;
  ModelState<double> as_double;
  MultiplierStore store;
  CheckpointExpectation expected = expectation(17);
  EXPECT_THAT(error_message([&] { load_checkpoint(dir_.string(), comm_, expected, as_double, &store, 0, kShards); }),
              HasSubstr("float32"));
  expected.parameter_count = 18;
  EXPECT_THAT(error_message([&] { load_checkpoint(dir_.string(), comm_, expected, as_float, &store, 0, kShards); }),
              HasSubstr("18"));
  expected = expectation(17);
  expected.virtual_shards = 8;
  EXPECT_THAT(error_message([&] { load_checkpoint(dir_.string(), comm_, expected, as_float, &store, 0, 8); }),
              HasSubstr("virtual shards"));
  expected = expectation(17);
  expected.examples = 11;
  EXPECT_THAT(error_message([&] { load_checkpoint(dir_.string(), comm_, expected, as_float, &store, 0, kShards); }),
              HasSubstr("11 examples"));
  EXPECT_THAT(
      error_message([&] { load_checkpoint(dir_.string(), comm_, expectation(17), as_float, nullptr, 0, kShards); }),
      HasSubstr("no multiplier store"));
}

TEST_F(CheckpointTest, RefusesAStoreThatIsNotTheOwnedShards) {
  const MultiplierStore wrong(1, kExamples - 1, kPerExample);
  const std::string message = error_message([&] {
    write_checkpoint(run_dir(), comm_, manifest_for(1), model_for<float>(1, false), &wrong, 0, kShards, 1);
  });
  EXPECT_THAT(message, HasSubstr("multiplier store"));
  EXPECT_TRUE(list_checkpoints(run_dir()).empty());
  // One rank writing a subset of the shards leaves the others unwritten: refused, nothing published.
  const MultiplierStore part(0, virtual_shard(kExamples, kShards, 1).end, kPerExample);
  EXPECT_THAT(error_message([&] {
                write_checkpoint(run_dir(), comm_, manifest_for(1), model_for<float>(1, false), &part, 0, 2, 1);
              }),
              HasSubstr("written by 0 ranks"));
  EXPECT_TRUE(list_checkpoints(run_dir()).empty());
}

}  // namespace
}  // namespace normscale
