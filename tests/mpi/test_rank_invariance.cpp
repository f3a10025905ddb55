// The same trajectory on any rank count (ALGORITHMS §2): 50 steps of Minnorm minibatch, Minnorm full
// batch and SGD with weight decay on P ranks give the weights and multipliers of one rank.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace normscale {
namespace {

constexpr Index kExamples = 203;  // not a multiple of the shard count: uneven shards
constexpr Index kShards = 8;

Dataset make_data() {
  return testing::random_classification(kExamples, 12, 4, 5, testing::LabelRule::kRandom);
}

struct Outcome {
  std::vector<double> weights;
  std::vector<double> alpha;  // all examples, in global order (gathered over ranks)
};

// Trains `steps` steps on the rows of the shards this rank owns, then gathers the multipliers.
template <class T>
Outcome train(Communicator& comm, const ObjectiveConfig& objective_config, TrainerOptions options, Index steps,
              const std::vector<Index>& hidden) {
  const Dataset full = make_data();
  const Index per_rank = kShards / comm.size();
  const ShardRange first = virtual_shard(kExamples, kShards, comm.rank() * per_rank);
  const ShardRange last = virtual_shard(kExamples, kShards, (comm.rank() + 1) * per_rank - 1);
  const Dataset local = slice_rows(full, first.begin, last.end - first.begin);
  auto network = make_mlp<T>({12, hidden, 4, "relu", true});
  network->initialize({"he", 1.0}, 7);
  auto objective = make_objective<T>(objective_config, local, 4);
  options.virtual_shards = kShards;
  Trainer<T> trainer(options, comm, local, kExamples, *network, *objective);
  for (Index t = 0; t < steps; ++t) trainer.step();
  trainer.flush_multipliers();
  Outcome out;
  out.weights.assign(network->parameters().begin(), network->parameters().end());
  if (const MultiplierStore* store = objective->multipliers()) {
    out.alpha.assign(static_cast<std::size_t>(kExamples * store->per_example()), 0.0);
    std::copy(store->values().begin(), store->values().end(),
              out.alpha.begin() + static_cast<std::ptrdiff_t>(first.begin * store->per_example()));
    comm.allreduce_sum(std::span<double>(out.alpha));
  }
  return out;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tolerance, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 0.0, worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) scale = std::max(scale, std::abs(b[i]));
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  EXPECT_LE(worst, tolerance * std::max(scale, 1e-30)) << what << ": max difference " << worst << " of scale " << scale;
}

template <class T>
void check(const ObjectiveConfig& objective, const TrainerOptions& options, double tolerance,
           const std::vector<Index>& hidden = {16}) {
  MpiComm comm;
  LocalComm single;
  const Outcome distributed = train<T>(comm, objective, options, 50, hidden);
  const Outcome reference = train<T>(single, objective, options, 50, hidden);
  expect_close(distributed.weights, reference.weights, tolerance, "weights");
  expect_close(distributed.alpha, reference.alpha, tolerance, "multipliers");
  if (objective.regime == "minnorm") {
    Index positive = 0;
    for (double a : reference.alpha) positive += a > 0 ? 1 : 0;
    EXPECT_GT(positive, 0) << "the test must exercise the multipliers";
  }
  // Identical weights on every rank: the largest deviation from rank 0's copy is zero.
  std::vector<double> from_root = distributed.weights;
  comm.broadcast(std::as_writable_bytes(std::span<double>(from_root)), 0);
  EXPECT_EQ(from_root, distributed.weights);
}

ObjectiveConfig minnorm() {
  ObjectiveConfig c;
  c.regime = "minnorm";
  c.task = "multiclass";
  c.rho = 0.5;
  c.s = 0.05;
  return c;
}

TEST(RankInvariance, MinnormMulticlassMinibatch) {
  TrainerOptions o;
  o.batch = 32;
  o.lr = 0.01;
  check<double>(minnorm(), o, 1e-5);
  check<float>(minnorm(), o, 1e-3);
}

TEST(RankInvariance, MinnormFullBatch) {
  TrainerOptions o;
  o.batch = kFullBatch;
  o.lr = 0.005;
  check<double>(minnorm(), o, 1e-5);
}

TEST(RankInvariance, MinnormLaggedUnbiasedMinibatch) {
  TrainerOptions o;
  o.batch = 40;
  o.lr = 0.002;
  ObjectiveConfig lagged_unbiased = minnorm();
  lagged_unbiased.alpha_update = "lagged";
  lagged_unbiased.estimator = "unbiased";
  check<double>(lagged_unbiased, o, 1e-5);
}

// The Appendix C variants: slack (a box [0, C]) and a single multiplier per example, exact and lagged; the
// PI and accelerated multiplier updates.
TEST(RankInvariance, MinnormVariantsAndPi) {
  TrainerOptions o;
  o.batch = 32;
  o.lr = 0.01;
  ObjectiveConfig slack = minnorm();
  slack.C = 0.02;
  check<double>(slack, o, 1e-5);
  ObjectiveConfig single = minnorm();
  single.multipliers = "single";
  check<double>(single, o, 1e-5);
  single.alpha_update = "lagged";
  single.C = 0.02;
  check<double>(single, o, 1e-5);
  ObjectiveConfig pi = minnorm();  // the integral state travels with the multipliers
  pi.dual = "pi";
  pi.kappa_p = 1.0;
  pi.rho_growth = 1.5;  // and the adaptive penalty's exponents
  pi.rho_tolerance = 0.1;
  pi.rho_max = 4.0;
  check<double>(pi, o, 1e-5);
  ObjectiveConfig accelerated = pi;  // anchor and count travel too, before the exponents, and the averages after
  accelerated.dual = "accelerated";
  accelerated.average_from_epoch = 1;
  check<double>(accelerated, o, 1e-5);
}

// objective.dual = coordinate on a linear model: the CoCoA+ blocks are the 8 virtual shards (sigma = 8), so the
// rounds do not depend on the rank count (with round momentum too); with local_steps below the block size each
// block's own stream chooses its examples.
TEST(RankInvariance, CoordinateAscentOnALinearModel) {
  TrainerOptions o;
  ObjectiveConfig coordinate = minnorm();
  coordinate.dual = "coordinate";
  coordinate.C = 0.5;
  check<double>(coordinate, o, 1e-7, {});
  // Round momentum: each rank extrapolates its own multipliers and the shared w; the restart test's sum rides
  // on the round's allreduce.
  ObjectiveConfig momentum = coordinate;
  momentum.round_momentum = true;
  check<double>(momentum, o, 1e-7, {});
  coordinate.C = std::numeric_limits<double>::infinity();
  coordinate.local_steps = 5;
  check<double>(coordinate, o, 1e-7, {});
  check<float>(coordinate, o, 1e-3, {});
}

TEST(RankInvariance, SgdWithWeightDecayAndMomentum) {
  ObjectiveConfig sgd;
  sgd.regime = "sgd";
  TrainerOptions o;
  o.batch = 32;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 5e-4;
  check<double>(sgd, o, 1e-5);
}

// Theory III's exponential loss (issue #14), one-vs-all, with weight decay.
TEST(RankInvariance, ExponentialLoss) {
  ObjectiveConfig exponential;
  exponential.regime = "exponential";
  TrainerOptions o;
  o.batch = 32;
  o.lr = 0.01;
  o.weight_decay = 1e-3;
  check<double>(exponential, o, 1e-5);
}

// ... and with normalized weight matrices in both forms (the biases take the plain step).
TEST(RankInvariance, ExponentialLossWithNormalizedWeights) {
  ObjectiveConfig exponential;
  exponential.regime = "exponential";
  for (const WeightNormalization form : {WeightNormalization::kLagrange, WeightNormalization::kTangent}) {
    TrainerOptions o;
    o.batch = 32;
    o.lr = 0.01;
    o.normalization = form;
    check<double>(exponential, o, 1e-5);
  }
}

}  // namespace
}  // namespace normscale
