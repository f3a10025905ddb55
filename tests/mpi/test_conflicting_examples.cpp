// Examples with the same features and different answers, found the same way on one rank and spread over
// all ranks (a pair's two examples on different ranks), and refused only under hard Minnorm constraints.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/train/conflicting_examples.hpp"
#include "support/error_text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace normscale {
namespace {

constexpr Index kExamples = 37;  // uneven shards
constexpr Index kShards = 8;
constexpr Index kCols = 5;

// Distinct examples: feature c of example r is 0.25 r - c, label r % 3.
Dataset distinct_set() {
  Dataset data;
  data.name = "conflicts";
  data.rows = data.total_rows = kExamples;
  data.cols = kCols;
  data.num_classes = 3;
  for (Index r = 0; r < kExamples; ++r) {
    for (Index c = 0; c < kCols; ++c) data.features.push_back(0.25f * static_cast<float>(r) - static_cast<float>(c));
    data.labels.push_back(static_cast<std::int32_t>(r % 3));
  }
  return data;
}

void copy_features(Dataset& data, Index from, Index to) {
  for (Index c = 0; c < kCols; ++c) data.features[to * kCols + c] = data.features[from * kCols + c];
}

Dataset my_rows(const Dataset& data, const Communicator& comm) {  // as load_data shards a split
  const DataShard shard{comm.rank(), comm.size(), kShards};
  const Index begin = virtual_shard(kExamples, kShards, shard.first_shard()).begin;
  const Index end = virtual_shard(kExamples, kShards, shard.last_shard() - 1).end;
  return slice_rows(data, begin, end - begin);
}

using Pairs = std::vector<std::pair<Index, Index>>;

TEST(ConflictingExamples, AreFoundAcrossRanksAsOnOneRank) {
  MpiComm comm;
  LocalComm alone;
  Dataset data = distinct_set();
  EXPECT_EQ(conflicting_examples(comm, my_rows(data, comm)).pairs, 0);

  copy_features(data, 0, 36);  // labels 0 and 0: the same answer, no conflict
  copy_features(data, 1, 35);  // labels 1 and 2: on different ranks when there are several
  copy_features(data, 1, 20);  // labels 1 and 2 again: the second conflict of the group
  copy_features(data, 4, 5);   // labels 1 and 2: neighbours
  const ConflictingExamples everywhere = conflicting_examples(comm, my_rows(data, comm));
  const ConflictingExamples on_one = conflicting_examples(alone, data);
  EXPECT_EQ(on_one.pairs, 3);
  EXPECT_EQ(on_one.first, (Pairs{{1, 20}, {1, 35}, {4, 5}}));
  EXPECT_EQ(everywhere.pairs, on_one.pairs);
  EXPECT_EQ(everywhere.first, on_one.first);
  EXPECT_EQ(conflicting_examples(alone, data, 1).first.size(), 1u) << "the list is capped, the count is not";
  EXPECT_EQ(conflicting_examples(alone, data, 1).pairs, 3);
}

// Values, not bits: -0.0 is 0.0 (numpy's rounding writes -0.0), in the features and in the targets.
TEST(ConflictingExamples, NegativeZeroIsZero) {
  MpiComm comm;
  Dataset data = distinct_set();
  copy_features(data, 1, 35);  // labels 1 and 2
  data.features[35 * kCols + 4] = -0.0f;
  data.features[1 * kCols + 4] = 0.0f;
  EXPECT_EQ(conflicting_examples(comm, my_rows(data, comm)).first, (Pairs{{1, 35}}));

  Dataset regression = distinct_set();
  regression.labels.clear();
  regression.num_classes = 0;
  regression.target_cols = 1;
  regression.targets.assign(kExamples, 1.0f);
  copy_features(regression, 2, 9);
  regression.targets[2] = 0.0f;
  regression.targets[9] = -0.0f;
  EXPECT_EQ(conflicting_examples(comm, my_rows(regression, comm)).pairs, 0) << "the same target";
}

TEST(ConflictingExamples, RegressionTargetsAreTheAnswer) {
  MpiComm comm;
  Dataset data = distinct_set();
  data.labels.clear();
  data.num_classes = 0;
  data.target_cols = 2;
  for (Index r = 0; r < kExamples; ++r) data.targets.insert(data.targets.end(), {1.0f, static_cast<float>(r % 2)});
  copy_features(data, 2, 4);  // targets (1, 0) and (1, 0)
  EXPECT_EQ(conflicting_examples(comm, my_rows(data, comm)).pairs, 0);
  copy_features(data, 2, 7);  // targets (1, 0) and (1, 1)
  EXPECT_EQ(conflicting_examples(comm, my_rows(data, comm)).first, (Pairs{{2, 7}}));
}

TEST(ConflictingExamples, AreRefusedOnlyUnderHardConstraints) {
  ConflictingExamples found;
  found.pairs = 5;
  found.first = {{1, 20}, {1, 35}, {4, 5}};
  TrainConfig hard;  // Minnorm, multiclass, C = inf; the file's rows (no validation split, no class subset)
  hard.data.source = "npy";
  hard.data.validation = 0;
  const std::string said = testing::error_of([&] { check_no_conflicting_examples(hard, found, "train.npy"); });
  for (const char* part :
       {"train.npy", "5 example(s)", "#1 and #20, #1 and #35, #4 and #5 and 2 more", "different label",
        "0-based rows of the file", "objective.C = inf", "hint: set objective.C"}) {
    EXPECT_NE(said.find(part), std::string::npos) << part << " in: " << said;
  }
  TrainConfig split = hard;  // positions after a validation split are not file rows
  split.data.validation = 4;
  EXPECT_NE(testing::error_of([&] {
              check_no_conflicting_examples(split, found, "train.npy");
            }).find("positions among the training examples in file order, once data.classes and data.validation"),
            std::string::npos);
  TrainConfig regression = hard;
  regression.objective.task = "regression";
  EXPECT_NE(testing::error_of([&] {
              check_no_conflicting_examples(regression, found, "y.npy");
            }).find("different regression target"),
            std::string::npos);

  TrainConfig soft = hard;
  soft.objective.C = 10.0;
  TrainConfig sgd = hard;
  sgd.objective.regime = "sgd";
  for (const TrainConfig& allowed : {soft, sgd}) {
    EXPECT_FALSE(has_hard_constraints(allowed.objective));
    EXPECT_NO_THROW(check_no_conflicting_examples(allowed, found, "x"));
  }
  EXPECT_NO_THROW(check_no_conflicting_examples(hard, ConflictingExamples{}, "x"));
}

}  // namespace
}  // namespace normscale
