// Support-vector skipping (ALGORITHMS §1): leaving the examples whose multipliers are all zero out of
// the backward pass gives the same weights and multipliers as the full backward pass.
#include "normscale/objective/minnorm.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace normscale {
namespace {

// Makes every tenth example a support vector (one positive multiplier), the rest inactive.
void sparse_multipliers(MultiplierStore& store) {
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    double* a = store.row(id);
    for (Index i = 0; i < store.per_example(); ++i) a[i] = 0.0;
    if (id % 10 == 0) a[id % store.multipliers_per_example()] = 0.5;
  }
}

struct Run {
  std::vector<float> weights;
  std::vector<double> alpha;
  Index backward_rows = 0;  // summed over the steps
  Index batch_rows = 0;
};

Run train(const Dataset& d, Index batch, bool skip, int steps, const MinnormParams& params) {
  auto net = make_mlp<float>({d.cols, {24, 16}, 4, "relu", true});
  net->initialize({"he", 1}, 3);
  Minnorm<float> objective(params, d, 4);
  sparse_multipliers(*objective.multipliers());
  LocalComm comm;
  TrainerOptions options;
  options.batch = batch;
  options.virtual_shards = 4;
  options.lr = 1e-3;
  options.skip_inactive_examples = skip;
  Trainer<float> trainer(options, comm, d, d.rows, *net, objective);
  Run run;
  for (int t = 0; t < steps; ++t) {
    trainer.step();
    run.backward_rows += trainer.last_backward_rows();
    run.batch_rows += trainer.global_batch();
  }
  trainer.flush_multipliers();
  run.weights = net->parameters();
  run.alpha = objective.multipliers()->values();
  return run;
}

// s = 0 keeps the multipliers at their sparse start (10% support vectors, most rows skipped); with
// s > 0 every violated margin turns its example into a support vector as it is visited, so the active
// set changes from step to step.
// `variant` sets the Appendix C options (slack C, single multipliers).
void expect_skip_is_exact(Index batch, bool exact, double s, MinnormParams variant = {}) {
  const Dataset d = testing::random_classification(200, 12, 4, 7, testing::LabelRule::kRandom);
  MinnormParams params = variant;
  params.task = MinnormTask::kMulticlass;
  params.rho = 0.5;
  params.s = s;
  params.update = exact ? MultiplierUpdate::kExact : MultiplierUpdate::kLagged;
  const Run skipped = train(d, batch, true, 25, params);
  const Run full = train(d, batch, false, 25, params);
  // Skipping happened, and the run without it never skipped.
  if (s == 0.0) {
    EXPECT_LT(skipped.backward_rows, skipped.batch_rows / 5);
  } else {
    EXPECT_LT(skipped.backward_rows, skipped.batch_rows);
  }
  EXPECT_EQ(full.backward_rows, full.batch_rows);
  ASSERT_EQ(skipped.weights.size(), full.weights.size());
  for (std::size_t i = 0; i < full.weights.size(); ++i) {
    ASSERT_NEAR(skipped.weights[i], full.weights[i], 1e-6) << "parameter " << i;
  }
  for (std::size_t i = 0; i < full.alpha.size(); ++i) ASSERT_NEAR(skipped.alpha[i], full.alpha[i], 1e-6);
}

TEST(SupportVectorSkip, SparseMinibatchExactSameWeights) { expect_skip_is_exact(40, true, 0.0); }
TEST(SupportVectorSkip, SparseFullBatchSameWeights) { expect_skip_is_exact(kFullBatch, true, 0.0); }
TEST(SupportVectorSkip, MinibatchExactSameWeightsAndMultipliers) { expect_skip_is_exact(40, true, 0.05); }
TEST(SupportVectorSkip, MinibatchLaggedSameWeightsAndMultipliers) { expect_skip_is_exact(40, false, 0.05); }
TEST(SupportVectorSkip, FullBatchExactSameWeightsAndMultipliers) { expect_skip_is_exact(kFullBatch, true, 0.05); }
TEST(SupportVectorSkip, SlackSingleMultipliersAndPiSameWeightsAndMultipliers) {
  MinnormParams slack;
  slack.C = 0.03;
  expect_skip_is_exact(40, true, 0.05, slack);
  MinnormParams single;
  single.multipliers = MinnormMultipliers::kSingle;
  expect_skip_is_exact(40, true, 0.05, single);
  expect_skip_is_exact(kFullBatch, false, 0.05, single);
  MinnormParams pi;
  pi.dual = MinnormDual::kPI;
  pi.kappa_p = 0.5;
  pi.rho_growth = 1.5;
  pi.rho_max = 2.0;
  expect_skip_is_exact(40, true, 0.05, pi);
}

TEST(SupportVectorSkip, NoActiveRowsGivesTheNormTermOnly) {
  // All multipliers zero: the data gradient is zero, so the step is W <- W - eta W exactly.
  const Dataset d = testing::random_classification(40, 6, 3, 2, testing::LabelRule::kCyclic);
  auto net = make_mlp<float>({6, {8}, 3, "relu", true});
  net->initialize({"he", 1}, 1);
  const std::vector<float> w0 = net->parameters();
  Minnorm<float> objective({MinnormTask::kMulticlass, 1.0, 0.0}, d, 3);  // s = 0: alpha stays zero
  LocalComm comm;
  TrainerOptions options;
  options.batch = 8;
  options.virtual_shards = 4;
  options.lr = 0.1;
  Trainer<float> trainer(options, comm, d, d.rows, *net, objective);
  trainer.step();
  EXPECT_EQ(trainer.last_backward_rows(), 0);
  for (std::size_t i = 0; i < w0.size(); ++i) EXPECT_FLOAT_EQ(net->parameters()[i], 0.9f * w0[i]);
}

}  // namespace
}  // namespace normscale
