// objective.dual = "coordinate" (exact dual coordinate ascent with CoCoA+ blocks = virtual shards) against
// known answers, with plain rounds and with objective.round_momentum: the hard-margin SVM of svm_set(), the
// soft-margin SVM and the one-vs-all SVMs of the independent solver in svm_oracles.hpp, the minimum-norm
// interpolant pinv(X) y; the duality certificate at
// and before the solution, w = sum alpha y x, resuming mid-run, and the refusals.
#include "normscale/core/error.hpp"
#include "normscale/data/synthetic.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/duality_certificate.hpp"
#include "support/linear_algebra.hpp"
#include "support/read_file.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"
#include "svm_oracles.hpp"
#include "coordinate_resume.hpp"
#include "toy_harness.hpp"

#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <cmath>
#include <fstream>
#include <limits>
#include <string>

namespace normscale::toy {
namespace {

// The known answers hold for plain rounds and with objective.round_momentum (the parameter).
class CoordinateRounds : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(CoordinateAscent, CoordinateRounds, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& rounds) {
                           return rounds.param ? "WithRoundMomentum" : "PlainRounds";
                         });

TEST_P(CoordinateRounds, ReachesTheHardMarginSvmOnOneBlockAndOnSeveral) {
  for (const Index blocks : {1, 2, 4}) {
    auto run = coordinate_run(svm_set(), {2, {}, 1, "identity", false},
                              coordinate("binary", kHardMargin, 0, GetParam()), blocks);
    run->train(1);
    // One block (plain SDCA) solves this set in its first pass; CoCoA+'s damped blocks do not.
    if (blocks > 1) {
      EXPECT_GT(certificate(*run).max_violation, 1e-3) << "blocks " << blocks << ": solved in one round";
    }
    EXPECT_LE(certificate(*run).primal_lower_bound, 2.0 + 1e-12) << "blocks " << blocks << ": a bound on P* = 2";
    run->train(3000);
    const auto& w = run->network->parameters();
    EXPECT_NEAR(w[0], 2.0, 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(w[1], 0.0, 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(run->alpha(0), 2.0, 1e-9) << "blocks " << blocks;
    EXPECT_NEAR(run->alpha(1), 2.0, 1e-9) << "blocks " << blocks;
    for (Index i = 2; i < 8; ++i) EXPECT_EQ(run->alpha(i), 0.0) << "blocks " << blocks << " example " << i;
    const DualityCertificate cert = certificate(*run);
    EXPECT_TRUE(cert.hard);
    EXPECT_NEAR(cert.primal, 2.0, 1e-9);  // 1/2 ||(2, 0)||^2
    EXPECT_NEAR(cert.primal_lower_bound, 2.0, 1e-9) << "blocks " << blocks;
    EXPECT_LT(std::abs(cert.relative_gap), 1e-9) << "blocks " << blocks;
    EXPECT_LT(cert.max_violation, 1e-9) << "blocks " << blocks;
    EXPECT_LT(largest_drift(*run), 1e-12) << "blocks " << blocks;
  }
}

TEST_P(CoordinateRounds, ReachesTheSoftMarginSvmAndItsCertificateCloses) {
  constexpr double kC = 0.5;
  const Dataset data = overlapping_set();
  const SoftMarginSvm svm = soft_margin_svm(data, kC);
  for (const Index blocks : {1, 3}) {
    auto run = coordinate_run(data, {2, {}, 1, "identity", false}, coordinate("binary", kC, 0, GetParam()), blocks);
    run->train(1);
    const DualityCertificate early = certificate(*run);
    EXPECT_FALSE(early.hard);
    EXPECT_GT(early.gap, 1e-3) << "blocks " << blocks;
    EXPECT_GT(early.relative_gap, 1e-3) << "blocks " << blocks;
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
}

// With a bias the model is the SVM on x_aug = (x, 1), its bias penalised like a weight: the gap closes and
// w stays sum alpha y x_aug.
TEST_P(CoordinateRounds, TheBiasIsTheWeightOfAConstantInput) {
  auto run = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, coordinate("binary", 0.5, 0, GetParam()), 3);
  run->train(5000);
  const DualityCertificate cert = certificate(*run);
  EXPECT_LT(cert.relative_gap, 1e-10);
  EXPECT_GE(cert.gap, -1e-12);
  EXPECT_NE(run->network->parameters()[2], 0.0) << "the bias must take part";
  EXPECT_LT(largest_drift(*run), 1e-12);
}

TEST_P(CoordinateRounds, OneVsAllIsOneSvmPerClass) {
  constexpr double kC = 1.0;
  const Dataset data = points("three", {{1.0f, 0.6f}, {2.0f, 1.0f}, {0.4f, 1.6f}, {1.5f, -0.3f}, {-0.5f, 0.4f},
                                        {0.3f, -0.8f}, {-1.0f, -0.5f}, {-1.8f, 0.2f}, {-0.6f, -1.5f}, {0.8f, 0.9f},
                                        {-0.2f, 1.0f}, {1.2f, -1.1f}},
                              {0, 0, 0, 1, 2, 1, 2, 2, 1, 0, 2, 1}, 3);
  auto run = coordinate_run(data, {2, {}, 3, "identity", false}, coordinate("multiclass", kC, 0, GetParam()), 2);
  run->train(20000);
  const auto& w = run->network->parameters();
  // The weights are unique; here the multipliers are not (several points on the margin in 2-d), so the gap,
  // not the oracle's multipliers, certifies them.
  for (int c = 0; c < 3; ++c) {
    const SoftMarginSvm svm = soft_margin_svm(data, kC, c);
    EXPECT_NEAR(w[static_cast<std::size_t>(2 * c)], svm.w[0], 1e-7) << "class " << c;
    EXPECT_NEAR(w[static_cast<std::size_t>(2 * c + 1)], svm.w[1], 1e-7) << "class " << c;
  }
  const DualityCertificate cert = certificate(*run);
  EXPECT_GE(cert.gap, -1e-12);
  EXPECT_LT(cert.relative_gap, 1e-8);  // the degenerate directions converge slowly: 1.4e-9 after 5000 rounds
  // Rounding accumulates over the 20,000 rounds (with momentum w moves twice a round): 1.3e-11 measured.
  EXPECT_LT(largest_drift(*run), 1e-10);
}

// Regression: the minimum-norm interpolant pinv(X) y (5 points, 9 monomial features), on 1 block and on 5 (no box:
// momentum's extrapolation never needs projecting).
TEST_P(CoordinateRounds, RegressionReachesTheMinimumNormInterpolant) {
  const Dataset train = make_polynomial_sine(5, 8, true, 1).train;
  const Matrix<double> x = train.feature_matrix().cast<double>();
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXf>(train.targets.data(), train.rows).cast<double>();
  const Eigen::VectorXd minimum_norm = testing::pseudo_inverse(x) * y;
  for (const Index blocks : {1, 5}) {
    auto run = coordinate_run(train, {9, {}, 1, "identity", false},
                              coordinate("regression", kHardMargin, 0, GetParam()), blocks);
    run->train(1);
    EXPECT_GT(certificate(*run).max_violation, 1e-3);
    run->train(20000);
    for (Index j = 0; j < 9; ++j) {
      EXPECT_NEAR(run->network->parameters()[static_cast<std::size_t>(j)], minimum_norm[j], 1e-7)
          << "blocks " << blocks << " weight " << j;
    }
    const DualityCertificate cert = certificate(*run);
    EXPECT_TRUE(cert.hard);
    EXPECT_LT(cert.max_violation, 1e-8) << "blocks " << blocks;
    EXPECT_LT(std::abs(cert.relative_gap), 1e-8) << "blocks " << blocks;
    EXPECT_NEAR(cert.primal_lower_bound, 0.5 * minimum_norm.squaredNorm(), 1e-8 * minimum_norm.squaredNorm());
  }
}

// A hard margin on data no line through the origin separates has no solution: the dual grows without bound,
// and with it the lower bound on the norm of any solution, while the violation stays.
TEST_P(CoordinateRounds, AHardMarginWithoutSolutionShowsAnUnboundedLowerBound) {
  auto run = coordinate_run(overlapping_set(), {2, {}, 1, "identity", false},
                            coordinate("binary", kHardMargin, 0, GetParam()), 2);
  run->train(100);
  const DualityCertificate early = certificate(*run);
  run->train(1000);
  const DualityCertificate late = certificate(*run);
  EXPECT_GT(late.primal_lower_bound, 5.0 * early.primal_lower_bound);
  EXPECT_GT(late.primal_lower_bound, 1e3 * late.primal) << "no w of this norm fits: none fits at all";
  EXPECT_GT(late.max_violation, 0.1);
  EXPECT_GT(late.dual, 5.0 * early.dual);
}

// Shards without examples (12 examples in 64 shards) take no part in a round: the rounds are those of the 12
// non-empty shards, one example each (CoCoA+'s sigma counted all 64 and damped every step by 64/12).
TEST_P(CoordinateRounds, EmptyShardsDoNotDampTheRounds) {
  const ObjectiveConfig objective = coordinate("binary", 0.5, 0, GetParam());
  auto many = coordinate_run(overlapping_set(), {2, {}, 1, "identity", false}, objective, 64);
  auto exact = coordinate_run(overlapping_set(), {2, {}, 1, "identity", false}, objective, 12);
  many->train(30);
  exact->train(30);
  for (std::size_t j = 0; j < 2; ++j) {
    EXPECT_NEAR(many->network->parameters()[j], exact->network->parameters()[j], 1e-12) << "weight " << j;
  }
  for (Index i = 0; i < 12; ++i) EXPECT_NEAR(many->alpha(i), exact->alpha(i), 1e-12) << "example " << i;
}

// A round is a pure function of (weights, multipliers, step): continuing from a copy of both at step 7 gives
// exactly the run that never stopped (with local_steps < the block size, so the blocks' streams matter).
TEST(CoordinateAscent, ResumingMidRunGivesTheSameResult) {
  const ObjectiveConfig objective = coordinate("binary", 0.5, 2);
  auto straight = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  straight->train(15);
  auto first = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  first->train(7);
  auto second = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  second->network->mutable_parameters() = first->network->parameters();
  second->objective->multipliers()->values() = first->objective->multipliers()->values();
  second->trainer->restore(7);
  second->train(8);
  EXPECT_EQ(second->network->parameters(), straight->network->parameters());
  EXPECT_EQ(second->objective->multipliers()->values(), straight->objective->multipliers()->values());
  EXPECT_NE(straight->network->parameters(), first->network->parameters()) << "the rounds after 7 must move w";
}

// Through `normscale train`: every evaluation records the certificate, and objective.tolerance ends the run at
// the first evaluation within it, with a "stopped" event after that evaluation's record.
TEST(CoordinateAscent, ToleranceStopsTheRunOnceTheGapIsBelowIt) {
  constexpr double kTolerance = 1e-6;
  const testing::TempDir work("normscale_coordinate_", "tolerance");
  TrainConfig config;
  for (const char* option : {"data.source=separable-2d", "data.validation=0", "data.preprocess=none",
                             "model.hidden=[]", "objective.task=binary", "objective.dual=coordinate",
                             "precision=float64", "virtual_shards=2", "steps=100000", "eval_every=1",
                             "progress=false", "gallery=0"}) {
    apply_override(config, option);
  }
  config.objective.tolerance = kTolerance;
  config.out = (work.path() / "run").string();
  testing::train_in_process(config);
  std::ifstream in(work.path() / "run" / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  ASSERT_GE(records.size(), 3u);
  const nlohmann::json& event = records.back();
  ASSERT_EQ(event.value("event", ""), "stopped") << event.dump();
  EXPECT_EQ(event["reason"], "tolerance");
  const nlohmann::json& last = records[records.size() - 2];
  const nlohmann::json& before = records[records.size() - 3];
  EXPECT_EQ(event["step"], last["step"]);
  EXPECT_LT(last["step"].get<Index>(), 100000);
  EXPECT_GT(last["step"].get<Index>(), 1);
  EXPECT_LE(std::abs(last["relative_gap"].get<double>()), kTolerance) << last.dump();
  EXPECT_LE(last["max_violation"].get<double>(), kTolerance) << last.dump();
  EXPECT_FALSE(std::abs(before["relative_gap"].get<double>()) <= kTolerance &&
               before["max_violation"].get<double>() <= kTolerance)
      << "the run went on past the first evaluation within the tolerance: " << before.dump();
  EXPECT_DOUBLE_EQ(last["train_error"].get<double>(), 0.0);
  // The hard margin's lower bound on the solution's norm term, below the primal and within the gap of it.
  const double bound = last["primal_lower_bound"].get<double>(), primal = last["primal"].get<double>();
  EXPECT_LE(bound, primal * (1.0 + kTolerance)) << last.dump();
  EXPECT_GE(bound, primal * (1.0 - 2.0 * kTolerance)) << last.dump();
}

// Through `normscale train` with its checkpoints: a run stopped at step 20 and resumed to step 40 ends where
// the run that never stopped does (weights and multipliers, read through the certificate, bit for bit).
// A run the tolerance stopped at a checkpointed step has finished: resumed (a requeued job), it trains nothing and
// changes no file (it trained eval_every more steps at every resume); resumed with a tolerance that state does not
// meet, it goes on.
TEST(CoordinateAscent, ARunStoppedByTheToleranceAtACheckpointStaysStoppedWhenResumed) {
  const testing::TempDir work("normscale_coordinate_", "tolerance_resume");
  TrainConfig config;
  for (const char* option :
       {"data.source=separable-2d", "data.synthetic_examples=40", "data.validation=0", "model.hidden=[]",
        "objective.task=binary", "objective.dual=coordinate", "objective.tolerance=1e-3", "precision=float64",
        "virtual_shards=1", "steps=400", "eval_every=5", "checkpoint_every=5", "progress=false", "gallery=0"}) {
    apply_override(config, option);
  }
  config.out = (work.path() / "run").string();
  const nlohmann::json stopped = testing::train_in_process(config);
  ASSERT_EQ(stopped.value("event", ""), "stopped") << stopped.dump();
  ASSERT_LT(stopped["step"].get<Index>(), 400);
  const auto read = [&](const char* file) { return testing::read_file(work.path() / "run" / file); };
  const std::string metrics = read("metrics.jsonl"), weights = read("layer1_weight.npy");
  config.resume = true;
  testing::train_in_process(config);
  EXPECT_EQ(read("metrics.jsonl"), metrics) << "a resume of the stopped run wrote records";
  EXPECT_EQ(read("layer1_weight.npy"), weights);
  config.objective.tolerance = 1e-12;
  const nlohmann::json further = testing::train_in_process(config);
  EXPECT_GT(further["step"].get<Index>(), stopped["step"].get<Index>());
}

TEST(CoordinateAscent, ACheckpointedRunResumesToTheSameResult) {
  expect_resumed_equals_straight({"objective.C=10", "objective.local_steps=7"});
}

// objective.tolerance needs the certificate: a run without one is refused rather than never stopping early.
TEST(CoordinateAscent, ToleranceWithoutACertificateIsRefused) {
  const testing::TempDir work("normscale_coordinate_", "refused");
  TrainConfig config;
  for (const char* option : {"data.source=separable-2d", "data.validation=0", "data.preprocess=none",
                             "model.hidden=[4]", "objective.task=binary", "precision=float64", "steps=2",
                             "progress=false", "gallery=0"}) {
    apply_override(config, option);
  }
  config.objective.tolerance = 1e-6;
  config.out = (work.path() / "run").string();
  LocalComm comm;
  try {
    run_training(config, comm);
    FAIL() << "objective.tolerance was accepted on a model with a hidden layer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("objective.tolerance"), std::string::npos) << e.what();
  }
}

TEST(CoordinateAscent, HiddenLayersAreRefusedNamingTheOption) {
  try {
    coordinate_run(svm_set(), {2, {4}, 1, "relu", false}, coordinate("binary"));
    FAIL() << "a model with hidden layers was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("objective.dual"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace normscale::toy
