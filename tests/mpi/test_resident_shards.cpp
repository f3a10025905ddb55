// Memory per rank grows as N/P: each rank holds only the examples and multipliers of its virtual shards.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/train/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace normscale {
namespace {

TEST(ResidentShards, EachRankHoldsOnlyItsExamplesAndMultipliers) {
  if (!std::filesystem::exists(std::filesystem::path(NORMSCALE_FASHION_MNIST_DIR) / "train-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed";
  }
  MpiComm comm;
  TrainConfig config;  // Fashion-MNIST, 50000 train / 10000 validation, 64 virtual shards
  const DataShard shard{comm.rank(), comm.size(), config.virtual_shards};
  const DataSplits data = load_data(config.data, shard);
  ObjectiveConfig minnorm;
  minnorm.regime = "minnorm";
  auto objective = make_objective<float>(minnorm, data.train, 10);
  const MultiplierStore& store = *objective->multipliers();

  const ShardRange mine = shard.rows_of(50000);
  EXPECT_EQ(data.train.global_rows(), 50000);
  EXPECT_EQ(data.train.rows, mine.size());
  EXPECT_EQ(data.train.first_id, mine.begin);
  EXPECT_EQ(static_cast<Index>(data.train.features.size()), mine.size() * 784);
  EXPECT_EQ(store.first_id(), mine.begin);
  EXPECT_EQ(store.count(), mine.size());
  EXPECT_EQ(static_cast<Index>(store.values().size()), mine.size() * 10);
  // N/P up to one virtual shard's rounding.
  EXPECT_NEAR(static_cast<double>(data.train.rows), 50000.0 / comm.size(), 50000.0 / 64);
  EXPECT_NEAR(static_cast<double>(data.validation.rows), 10000.0 / comm.size(), 10000.0 / 64);

  double totals[3] = {static_cast<double>(data.train.rows), static_cast<double>(store.count()),
                      static_cast<double>(data.test.rows)};
  comm.allreduce_sum(std::span<double>(totals, 3));
  EXPECT_EQ(totals[0], 50000.0);
  EXPECT_EQ(totals[1], 50000.0);
  EXPECT_EQ(totals[2], 10000.0);
}

}  // namespace
}  // namespace normscale
