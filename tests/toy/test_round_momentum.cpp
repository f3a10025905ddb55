// objective.round_momentum: the coordinate rule's rounds with Nesterov momentum and gradient restart
// (accelerated CoCoA+). Its answers are the coordinate rule's (the hard- and soft-margin SVMs, one-vs-all, the
// minimum-norm interpolant), reached in fewer rounds on several blocks; the momentum restarts; w stays
// sum alpha y x; its state (the trainer's velocity, each multiplier's last value and the rounds since the
// restart) makes a resumed run the run that never stopped; it is refused without full rounds.
#include "normscale/core/error.hpp"
#include "normscale/data/synthetic.hpp"
#include "normscale/objective/minnorm_rule.hpp"
#include "normscale/train/config_io.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"
#include "svm_oracles.hpp"
#include "toy_harness.hpp"

#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <cmath>
#include <string>

namespace normscale::toy {
namespace {

ObjectiveConfig with_momentum(ObjectiveConfig c) {
  c.round_momentum = true;
  return c;
}

// Rounds until the certificate is within `tolerance` (checked after every round), at most `cap`.
Index rounds_to(ToyRun& run, double tolerance, Index cap) {
  Index rounds = 0;
  while (rounds < cap && !certificate(run).within(tolerance)) {
    run.train(1);
    ++rounds;
  }
  return rounds;
}

TEST(RoundMomentum, ReachesTheHardMarginSvmOnOneBlockAndOnSeveral) {
  for (const Index blocks : {1, 2, 4}) {
    auto run = coordinate_run(svm_set(), {2, {}, 1, "identity", false}, with_momentum(coordinate("binary")), blocks);
    run->train(3000);
    const auto& w = run->network->parameters();
    EXPECT_NEAR(w[0], 2.0, 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(w[1], 0.0, 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(run->alpha(0), 2.0, 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(run->alpha(1), 2.0, 1e-9) << "blocks " << blocks;
    for (Index i = 2; i < 8; ++i) EXPECT_EQ(run->alpha(i), 0.0) << "blocks " << blocks << " example " << i;
    const DualityCertificate cert = certificate(*run);
    EXPECT_LT(std::abs(cert.relative_gap), 1e-9) << "blocks " << blocks;
    EXPECT_LT(cert.max_violation, 1e-9) << "blocks " << blocks;
    EXPECT_LT(largest_drift(*run), 1e-12) << "blocks " << blocks;
  }
}

TEST(RoundMomentum, ReachesTheSoftMarginSvmWithTheBiasAsAWeight) {
  constexpr double kC = 0.5;
  const Dataset data = overlapping_set();
  const SoftMarginSvm svm = soft_margin_svm(data, kC);
  for (const Index blocks : {1, 3}) {
    auto run = coordinate_run(data, {2, {}, 1, "identity", false}, with_momentum(coordinate("binary", kC)), blocks);
    run->train(5000);
    const auto& w = run->network->parameters();
    EXPECT_NEAR(w[0], svm.w[0], 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(w[1], svm.w[1], 1e-9) << "blocks " << blocks;
    for (Index i = 0; i < data.rows; ++i) {
      EXPECT_NEAR(run->alpha(i), svm.alpha[static_cast<std::size_t>(i)], 1e-8) << "blocks " << blocks << " example " << i;
    }
    const DualityCertificate cert = certificate(*run);
    EXPECT_GE(cert.gap, -1e-12);
    EXPECT_LT(cert.relative_gap, 1e-10) << "blocks " << blocks;
    EXPECT_LT(largest_drift(*run), 1e-12);
  }
  auto biased = coordinate_run(data, {2, {}, 1, "identity", true}, with_momentum(coordinate("binary", kC)), 3);
  biased->train(5000);
  EXPECT_LT(certificate(*biased).relative_gap, 1e-10);
  EXPECT_LT(largest_drift(*biased), 1e-12);
}

TEST(RoundMomentum, OneVsAllIsOneSvmPerClass) {
  constexpr double kC = 1.0;
  const Dataset data = points("three", {{1.0f, 0.6f}, {2.0f, 1.0f}, {0.4f, 1.6f}, {1.5f, -0.3f}, {-0.5f, 0.4f},
                                        {0.3f, -0.8f}, {-1.0f, -0.5f}, {-1.8f, 0.2f}, {-0.6f, -1.5f}, {0.8f, 0.9f},
                                        {-0.2f, 1.0f}, {1.2f, -1.1f}},
                              {0, 0, 0, 1, 2, 1, 2, 2, 1, 0, 2, 1}, 3);
  auto run = coordinate_run(data, {2, {}, 3, "identity", false}, with_momentum(coordinate("multiclass", kC)), 2);
  run->train(5000);
  const auto& w = run->network->parameters();
  for (int c = 0; c < 3; ++c) {
    const SoftMarginSvm svm = soft_margin_svm(data, kC, c);
    EXPECT_NEAR(w[static_cast<std::size_t>(2 * c)], svm.w[0], 1e-7) << "class " << c;
    EXPECT_NEAR(w[static_cast<std::size_t>(2 * c + 1)], svm.w[1], 1e-7) << "class " << c;
  }
  EXPECT_LT(certificate(*run).relative_gap, 1e-8);
  EXPECT_LT(largest_drift(*run), 1e-11);
}

// Regression has no box: the extrapolation never needs projecting, and the rounds still reach pinv(X) y.
TEST(RoundMomentum, RegressionReachesTheMinimumNormInterpolant) {
  const Dataset train = make_polynomial_sine(5, 8, true, 1).train;
  const Matrix<double> x = train.feature_matrix().cast<double>();
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXf>(train.targets.data(), train.rows).cast<double>();
  const Eigen::VectorXd minimum_norm = Eigen::CompleteOrthogonalDecomposition<Matrix<double>>(x).pseudoInverse() * y;
  for (const Index blocks : {1, 5}) {
    auto run = coordinate_run(train, {9, {}, 1, "identity", false}, with_momentum(coordinate("regression")), blocks);
    run->train(20000);
    for (Index j = 0; j < 9; ++j) {
      EXPECT_NEAR(run->network->parameters()[static_cast<std::size_t>(j)], minimum_norm[j], 1e-7)
          << "blocks " << blocks << " weight " << j;
    }
    EXPECT_LT(certificate(*run).max_violation, 1e-8) << "blocks " << blocks;
  }
}

// The point of the momentum: on several blocks CoCoA+'s safe rounds (sigma = blocks) are slow; with momentum
// the same certificate takes a fraction of them.
TEST(RoundMomentum, TakesFewerRoundsThanPlainRoundsOnSeveralBlocks) {
  const Dataset train = make_polynomial_sine(5, 8, true, 1).train;
  auto plain = coordinate_run(train, {9, {}, 1, "identity", false}, coordinate("regression"), 5);
  auto accelerated = coordinate_run(train, {9, {}, 1, "identity", false}, with_momentum(coordinate("regression")), 5);
  const Index plain_rounds = rounds_to(*plain, 1e-8, 200000);
  const Index accelerated_rounds = rounds_to(*accelerated, 1e-8, 200000);
  RecordProperty("plain_rounds", static_cast<int>(plain_rounds));
  RecordProperty("momentum_rounds", static_cast<int>(accelerated_rounds));
  ASSERT_LT(plain_rounds, 200000) << "plain rounds did not get there";
  EXPECT_LT(accelerated_rounds * 5, plain_rounds) << "momentum " << accelerated_rounds << ", plain " << plain_rounds;
}

// The rounds since the restart, each multiplier row's last state: counts up by one per round and goes back to 0
// when a round turns against the momentum; the row's other new state is the multiplier at the round's start.
TEST(RoundMomentum, RestartsWhenARoundTurnsAgainstItsMomentum) {
  auto run = coordinate_run(svm_set(), {2, {}, 1, "identity", false}, with_momentum(coordinate("binary")), 4);
  const MinnormParams& params = *static_cast<const MinnormParams*>(run->objective->rule_params());
  ASSERT_EQ(MinnormRule::dual_states(params), 4);
  const auto count = [&] { return run->objective->multipliers()->row(0)[4]; };
  double previous = 0.0;
  int restarts = 0;
  double longest = 0.0;
  for (int round = 0; round < 300; ++round) {
    const double alpha = run->alpha(0);
    run->train(1);
    EXPECT_EQ(run->objective->multipliers()->row(0)[3], alpha) << "round " << round;
    const double k = count();
    EXPECT_TRUE(k == previous + 1.0 || k == 0.0) << "round " << round << ": " << previous << " -> " << k;
    for (Index i = 1; i < run->data.rows; ++i) EXPECT_EQ(run->objective->multipliers()->row(i)[4], k);
    if (k == 0.0) ++restarts;
    longest = std::max(longest, k);
    previous = k;
  }
  EXPECT_GT(restarts, 0);
  EXPECT_GT(longest, 3.0);
}

// A round is a pure function of (weights, velocity, multiplier rows, step): continuing from a copy of all of
// them at step 7 gives exactly the run that never stopped; without the velocity it does not.
TEST(RoundMomentum, ResumingMidRunGivesTheSameResultWithTheVelocity) {
  const ObjectiveConfig objective = with_momentum(coordinate("binary", 0.5));
  auto straight = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  straight->train(15);
  auto first = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  first->train(7);
  for (const bool velocity : {true, false}) {
    auto second = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
    second->network->parameters() = first->network->parameters();
    second->objective->multipliers()->values() = first->objective->multipliers()->values();
    if (velocity) second->trainer->velocity() = first->trainer->velocity();
    second->trainer->restore(7);
    second->train(8);
    if (velocity) {
      EXPECT_EQ(second->network->parameters(), straight->network->parameters());
      EXPECT_EQ(second->objective->multipliers()->values(), straight->objective->multipliers()->values());
    } else {
      EXPECT_NE(second->network->parameters(), straight->network->parameters()) << "the velocity is not used";
    }
  }
}

// Through `normscale train` with its checkpoints (which keep the velocity): stopped at step 20 and resumed to
// step 40, the run ends where the run that never stopped does, bit for bit.
TEST(RoundMomentum, ACheckpointedRunResumesToTheSameResult) {
  const testing::TempDir work("normscale_round_momentum_", "resume");
  TrainConfig config;
  for (const char* option : {"data.source=separable-2d", "data.validation=0", "data.preprocess=none",
                             "model.hidden=[]", "objective.task=binary", "objective.dual=coordinate",
                             "objective.round_momentum=true", "objective.C=10", "precision=float64",
                             "virtual_shards=4", "eval_every=10", "checkpoint_every=10", "progress=false", "gallery=0"}) {
    apply_override(config, option);
  }
  config.steps = 40;
  config.out = (work.path() / "straight").string();
  const nlohmann::json straight = testing::train_in_process(config);
  config.out = (work.path() / "resumed").string();
  config.steps = 20;
  testing::train_in_process(config);
  config.steps = 40;
  config.resume = true;
  const nlohmann::json resumed = testing::train_in_process(config);
  EXPECT_EQ(resumed["step"], 40);
  for (const char* key : {"primal", "dual", "weight_norm", "support_vectors"}) {
    EXPECT_EQ(resumed[key], straight[key]) << key;
  }
}

// Momentum extrapolates whole rounds of the coordinate rule: another rule, or partial rounds that would leave
// extrapolated multipliers out of their box unvisited, are refused naming the option.
TEST(RoundMomentum, IsRefusedWithoutFullCoordinateRounds) {
  for (const char* other : {"objective.local_steps=7", "objective.dual=ascent"}) {
    TrainConfig config;
    for (const char* option : {"objective.dual=coordinate", "objective.round_momentum=true", other}) {
      apply_override(config, option);
    }
    try {
      validate(config);
      FAIL() << other << " was accepted with objective.round_momentum";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("objective.round_momentum"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace normscale::toy
