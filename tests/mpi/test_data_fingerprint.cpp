// The training set's fingerprint that checkpoints record: the same on one rank holding every example
// and on P ranks holding a shard each, and different when one value, label or order changes.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/train/data_fingerprint.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace normscale {
namespace {

constexpr Index kExamples = 37;  // uneven shards
constexpr Index kShards = 8;

Dataset whole_set() {
  Dataset data;
  data.name = "fingerprint";
  data.rows = data.total_rows = kExamples;
  data.cols = 5;
  data.num_classes = 3;
  for (Index r = 0; r < kExamples; ++r) {
    for (Index c = 0; c < data.cols; ++c) data.features.push_back(0.25f * static_cast<float>(r) - static_cast<float>(c));
    data.labels.push_back(static_cast<std::int32_t>(r % 3));
  }
  return data;
}

// This rank's rows of `data`, as load_data shards a split.
Dataset my_rows(const Dataset& data, const Communicator& comm) {
  const DataShard shard{comm.rank(), comm.size(), kShards};
  const Index begin = virtual_shard(kExamples, kShards, shard.first_shard()).begin;
  const Index end = virtual_shard(kExamples, kShards, shard.last_shard() - 1).end;
  return slice_rows(data, begin, end - begin);
}

TEST(DataFingerprint, IsTheSameOnOneRankAndSpreadOverAllRanks) {
  MpiComm comm;
  LocalComm alone;
  const Dataset data = whole_set();
  const std::uint64_t on_one_rank = data_fingerprint(alone, data);
  EXPECT_EQ(data_fingerprint(comm, my_rows(data, comm)), on_one_rank);
  EXPECT_NE(on_one_rank, 0u);
}

TEST(DataFingerprint, ChangesWithOneValueOneLabelOrTheOrder) {
  MpiComm comm;
  LocalComm alone;
  const Dataset data = whole_set();
  const std::uint64_t original = data_fingerprint(comm, my_rows(data, comm));

  Dataset value = data;
  value.features[3 * 5 + 2] += 1e-6f;
  EXPECT_NE(data_fingerprint(comm, my_rows(value, comm)), original);

  Dataset label = data;
  label.labels[36] = 1;  // was 36 % 3 = 0
  EXPECT_NE(data_fingerprint(comm, my_rows(label, comm)), original);

  Dataset swapped = data;  // the same examples in another order
  for (Index c = 0; c < data.cols; ++c) std::swap(swapped.features[c], swapped.features[5 + c]);
  std::swap(swapped.labels[0], swapped.labels[1]);
  EXPECT_NE(data_fingerprint(alone, swapped), data_fingerprint(alone, data));
}

}  // namespace
}  // namespace normscale
