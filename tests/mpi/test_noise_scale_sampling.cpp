// The trainer's gradient-noise-scale samples: |g|^2 of the global mean gradient and the ranks' average
// |g|^2 of their own parts' mean gradients, checked against one-process computations.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

namespace normscale {
namespace {

Dataset data_set(Index rows) {
  return testing::random_classification(rows, 6, 3, 3, testing::LabelRule::kCyclic);
}

// |mean cross-entropy gradient|^2 over `data` at the initial weights, on one process.
double mean_gradient_sq(const Dataset& data) {
  auto net = make_mlp<double>({6, {5}, 3, "relu", true});
  net->initialize({"he", 1.0}, 4);
  CrossEntropy<double> ce;
  LocalComm local;
  TrainerOptions o;
  o.batch = kFullBatch;
  o.virtual_shards = 1;
  Trainer<double> trainer(o, local, data, data.rows, *net, ce);
  trainer.step();
  double sq = 0;
  for (double g : net->gradient()) sq += g * g;  // the mean data gradient (weight decay is 0)
  return sq;
}

TEST(NoiseScaleSampling, SmallAndBigBatchGradientNorms) {
  MpiComm comm;
  const Dataset full = data_set(64);
  const DataShard shard{comm.rank(), comm.size(), 8};
  const ShardRange mine = shard.rows_of(64);
  const Dataset local = slice_rows(full, mine.begin, mine.size());
  auto net = make_mlp<double>({6, {5}, 3, "relu", true});
  net->initialize({"he", 1.0}, 4);
  CrossEntropy<double> ce;
  TrainerOptions o;
  o.batch = kFullBatch;
  o.virtual_shards = 8;
  Trainer<double> trainer(o, comm, local, 64, *net, ce);
  const StepStats stats = trainer.step();  // step 0 is sampled

  Dataset part = local;
  part.first_id = 0;
  double small = mean_gradient_sq(part);
  comm.allreduce_sum(std::span<double>(&small, 1));
  small /= comm.size();
  EXPECT_DOUBLE_EQ(stats.small_batch, 64.0 / comm.size());
  EXPECT_NEAR(stats.small_batch_grad_sq, small, 1e-12 * small);
  EXPECT_NEAR(stats.big_batch_grad_sq, mean_gradient_sq(full), 1e-12 * small);
  EXPECT_GT(stats.small_batch_grad_sq, stats.big_batch_grad_sq) << "averaging over more examples removes noise";
  // Not sampled on the next step.
  EXPECT_EQ(trainer.step().small_batch, 0.0);
}

}  // namespace
}  // namespace normscale
