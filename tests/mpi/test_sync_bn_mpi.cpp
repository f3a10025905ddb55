// Batch norm across ranks: with sync-bn (global batch statistics by allreduce) P ranks follow the
// one-rank trajectory on the same global batches; per-rank statistics (the default) do not.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/model/architectures.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

namespace normscale {
namespace {

constexpr Index kRows = 160, kShards = 8;

Dataset data_set() {
  return testing::random_classification(kRows, 10, 3, 12, testing::LabelRule::kRandom, 0.5);
}

std::vector<double> train(Communicator& comm, bool sync) {
  const Dataset full = data_set();
  const ShardRange mine = DataShard{comm.rank(), comm.size(), kShards}.rows_of(kRows);
  const Dataset local = slice_rows(full, mine.begin, mine.size());
  BnMlpSpec spec{10, {12, 8}, 3};
  if (sync) spec.batch_norm.reducer = [&comm](std::span<double> sums) { comm.allreduce_sum(sums); };
  auto net = make_bn_mlp<double>(spec);
  net->initialize({"he", 1.0}, 5);
  Square<double> square(SquareTargets{});
  TrainerOptions o;
  o.batch = 32;
  o.virtual_shards = kShards;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 0.01;
  Trainer<double> trainer(o, comm, local, kRows, *net, square);
  for (int t = 0; t < 20; ++t) trainer.step();
  return net->parameters();
}

double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

TEST(SyncBatchNorm, MatchesOneRankOnTheGlobalBatch) {
  MpiComm comm;
  LocalComm single;
  const std::vector<double> reference = train(single, true);
  EXPECT_LT(relative_difference(train(comm, true), reference), 1e-5);
}

TEST(SyncBatchNorm, PerRankStatisticsDiffer) {
  MpiComm comm;
  LocalComm single;
  const std::vector<double> reference = train(single, false);
  EXPECT_GT(relative_difference(train(comm, false), reference), 1e-4);
}

}  // namespace
}  // namespace normscale
