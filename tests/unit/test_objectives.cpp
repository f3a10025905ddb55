// Objectives on hand-computed values: Minnorm's gradient, projection and active set, error counts.
#include "normscale/core/error.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/exponential_rule.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/objective/objective_config.hpp"
#include "normscale/objective/square.hpp"
#include "support/error_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace normscale {
namespace {

Dataset two_examples_three_classes() {
  Dataset d;
  d.name = "hand";
  d.rows = 2;
  d.cols = 1;
  d.features = {0.f, 0.f};
  d.labels = {0, 2};
  d.num_classes = 3;
  return d;
}

TEST(Minnorm, MulticlassOutputGradientByHand) {
  const Dataset d = two_examples_three_classes();
  Minnorm<double> m({MinnormTask::kMulticlass, 2.0, 0.5}, d, 3);
  auto* a = m.multipliers();
  a->row(0)[0] = 1.0;  // example 0, true class, active
  a->row(0)[1] = 0.0;  // inactive: no augmented term
  a->row(1)[1] = 0.5;  // example 1, wrong class (y = -1), active
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -1.0,
       0.5, -3.0, 0.75;
  const std::vector<Index> rows = {0, 1};
  Matrix<double> g;
  m.output_gradient(d, rows, f, 1.0, g);
  // -y (alpha + rho [alpha>0] (1 - y f))
  EXPECT_DOUBLE_EQ(g(0, 0), -(1.0 + 2.0 * (1 - 0.25)));
  EXPECT_DOUBLE_EQ(g(0, 1), 0.0);
  EXPECT_DOUBLE_EQ(g(0, 2), 0.0);
  EXPECT_DOUBLE_EQ(g(1, 1), +(0.5 + 2.0 * (1 - 3.0)));
  EXPECT_FALSE(m.gradient_is_zero(0));
  EXPECT_FALSE(m.gradient_is_zero(1));

  // Projected update: alpha <- max(0, alpha + s (1 - y f)).
  m.update_multipliers(d, rows, f);
  EXPECT_DOUBLE_EQ(a->row(0)[0], 1.0 + 0.5 * 0.75);
  EXPECT_DOUBLE_EQ(a->row(0)[1], 2.0);          // y = -1, f = 3: 0 + 0.5 (1 + 3)
  EXPECT_DOUBLE_EQ(a->row(1)[1], 0.0);          // 0.5 + 0.5 (1 - 3) < 0, projected to 0
  EXPECT_DOUBLE_EQ(a->row(0)[2], 0.0);          // 0 + 0.5 (1 - 1) = 0
  EXPECT_DOUBLE_EQ(a->row(1)[2], 0.5 * 0.25);   // true class 2: 1 - 0.75
  EXPECT_EQ(a->support_count(), 2);
}

// Dual diagnostics: violated inequalities (residual > 0) and complementary slackness alpha max(0, -residual).
TEST(Minnorm, DualTermsCountViolationsAndSlacknessByHand) {
  const Dataset d = two_examples_three_classes();
  Minnorm<double> m({MinnormTask::kMulticlass, 2.0, 0.5}, d, 3);
  auto* a = m.multipliers();
  a->row(0)[0] = 1.0;   // y = +1, f = 0.25: residual 0.75 (violated)
  a->row(0)[2] = 0.5;   // y = -1, f = -3: residual -2 (slack 2)
  a->row(1)[2] = 0.25;  // y = +1, f = 1.5: residual -0.5 (slack 0.5)
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -3.0,    // residuals 0.75, 4, -2
       -2.0, 0.5, 1.5;     // residuals -1, 1.5, -0.5
  const std::vector<Index> rows = {0, 1};
  const DualTerms t = m.dual_terms_sum(d, rows, f);
  EXPECT_DOUBLE_EQ(t.violated, 3.0);                     // 0.75, 4 and 1.5
  EXPECT_DOUBLE_EQ(t.slackness, 0.5 * 2.0 + 0.25 * 0.5);
  // alpha c + rho/2 c^2 on the three active constraints.
  EXPECT_DOUBLE_EQ(t.lagrangian, (0.75 + 0.5625) + (0.5 * -2.0 + 4.0) + (0.25 * -0.5 + 0.25));
  EXPECT_DOUBLE_EQ(m.lagrangian_data_sum(d, rows, f), t.lagrangian);
}

TEST(Minnorm, ExampleWithZeroMultipliersHasZeroGradient) {
  const Dataset d = two_examples_three_classes();
  Minnorm<double> m({MinnormTask::kMulticlass, 5.0, 0.5}, d, 3);
  Matrix<double> f = Matrix<double>::Constant(2, 3, -7.0);
  Matrix<double> g;
  const std::vector<Index> rows = {0, 1};
  m.output_gradient(d, rows, f, 1.0, g);
  EXPECT_EQ(g.norm(), 0.0);
  EXPECT_TRUE(m.gradient_is_zero(0));
}

// One regression example: x = 1, target 1.
Dataset one_regression_example() {
  Dataset d;
  d.name = "reg";
  d.rows = 1;
  d.cols = 1;
  d.features = {1.f};
  d.targets = {1.f};
  d.target_cols = 1;
  return d;
}

TEST(Minnorm, RegressionUpdateIsUnprojected) {
  const Dataset d = one_regression_example();
  Minnorm<double> m({MinnormTask::kRegression, 0.0, 2.0}, d, 1);
  Matrix<double> f(1, 1);
  f << 3.0;
  m.update_multipliers(d, std::vector<Index>{0}, f);
  EXPECT_DOUBLE_EQ(m.multipliers()->row(0)[0], -4.0);
  EXPECT_FALSE(m.gradient_is_zero(0));  // regression keeps the rho term for every example
}

TEST(Minnorm, RejectsMismatchedOutputs) {
  const Dataset d = two_examples_three_classes();
  EXPECT_THROW(Minnorm<double>({MinnormTask::kMulticlass, 0, 1}, d, 2), Error);
  EXPECT_THROW(Minnorm<double>({MinnormTask::kBinary, 0, 1}, d, 1), Error);  // three classes
  EXPECT_THROW(Minnorm<double>({MinnormTask::kRegression, 0, 1}, d, 1), Error);  // no targets
}

// The messages name what does not fit: binary's two classes (not model.outputs, which binary sets), and the class
// labels that regression cannot take (not a count of targets).
TEST(Minnorm, ATaskThatDoesNotFitTheLabelsIsNamed) {
  const Dataset d = two_examples_three_classes();
  ObjectiveConfig binary;
  binary.task = "binary";
  EXPECT_NE(testing::error_of([&] {
              make_objective<double>(binary, d, 1);
            }).find("objective.task = binary needs two classes; 'hand' has 3"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              Minnorm<double>({MinnormTask::kRegression, 0, 1}, d, 3);
            })
                .find("objective.task = regression needs real-valued regression targets; the training set 'hand' "
                      "has class labels"),
            std::string::npos);
}

// Fewer outputs than classes made the losses read and write past an example's outputs at its label (a heap corruption
// with model.outputs = 2 on ten classes): every regime refuses them, naming model.outputs.
TEST(Objectives, AnOutputCountThatDoesNotFitTheClassesIsRefusedForEveryRegime) {
  const Dataset three = two_examples_three_classes();
  Dataset two = three;
  two.labels = {0, 1};
  two.num_classes = 2;
  for (const char* regime : {"sgd", "square", "exponential", "minnorm"}) {
    ObjectiveConfig config;
    config.regime = regime;
    for (const Index outputs : {1, 2, 4}) {
      try {
        make_objective<float>(config, three, outputs);
        ADD_FAILURE() << regime << " took " << outputs << " outputs for 3 classes";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(outputs) + " output(s) (model.outputs) and 'hand' has 3 "
                                                                       "classes"),
                  std::string::npos)
            << e.what();
      }
    }
    EXPECT_NO_THROW(make_objective<float>(config, three, 3)) << regime;
    if (std::string(regime) != "minnorm") {
      EXPECT_NO_THROW(make_objective<float>(config, two, 1)) << regime;
    }
  }
  Dataset targets = one_regression_example();
  ObjectiveConfig square;
  square.regime = "square";
  EXPECT_THROW(make_objective<float>(square, targets, targets.target_cols + 1), Error);
  EXPECT_NO_THROW(make_objective<float>(square, targets, targets.target_cols));
  // Real-valued labels are regression targets: a classifier says so, and how class labels are saved.
  for (const char* regime : {"sgd", "exponential", "minnorm"}) {
    ObjectiveConfig config;
    config.regime = regime;
    try {
      make_objective<float>(config, targets, targets.target_cols);
      ADD_FAILURE() << regime << " took regression targets";
    } catch (const Error& e) {
      EXPECT_NE(
          std::string(e.what()).find("the training set 'reg' has regression targets (1 column(s) of real values); "
                                     "hint: class labels are integers"),
          std::string::npos)
          << e.what();
    }
  }
}

// Slack (App. C.1): the update is clipped to [0, C], and at C the augmented term is off.
TEST(Minnorm, SlackClipsMultipliersToTheBoxAndDropsTheAugmentedTermAtItsTop) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 2.0, 0.5};
  p.C = 2.0;
  Minnorm<double> m(p, d, 3);
  auto* a = m.multipliers();
  a->row(0)[0] = 2.0;  // at C: gradient -y C only
  a->row(0)[2] = 1.0;  // inside the box: -y (alpha + rho (1 - y f))
  Matrix<double> f(2, 3);
  f << 0.25, 5.0, 0.5,
       0.5, -3.0, 0.75;
  const std::vector<Index> rows = {0, 1};
  Matrix<double> g;
  m.output_gradient(d, rows, f, 1.0, g);
  EXPECT_DOUBLE_EQ(g(0, 0), -2.0);
  EXPECT_DOUBLE_EQ(g(0, 2), +(1.0 + 2.0 * (1 + 0.5)));
  m.update_multipliers(d, rows, f);
  EXPECT_DOUBLE_EQ(a->row(0)[0], 2.0);        // 2 + 0.5 (1 - 0.25) clipped to C
  EXPECT_DOUBLE_EQ(a->row(0)[1], 2.0);        // 0 + 0.5 (1 + 5) = 3 clipped to C
  EXPECT_DOUBLE_EQ(a->row(0)[2], 1.0 + 0.75);  // 1 + 0.5 (1 + 0.5), inside
  EXPECT_DOUBLE_EQ(a->row(1)[2], 0.5 * 0.25);
}

// Single multiplier (App. C.2): one alpha per example on m = f_y - max_{j != y} f_j >= 1.
TEST(Minnorm, SingleMultiplierActsOnTheTrueClassAndTheRival) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 2.0, 0.5};
  p.multipliers = MinnormMultipliers::kSingle;
  Minnorm<double> m(p, d, 3);
  auto* a = m.multipliers();
  ASSERT_EQ(a->per_example(), 1);
  a->row(0)[0] = 1.0;
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -1.0,   // label 0, rival 1: m = -2.75, c = 3.75
       0.5, 0.5, 0.75;    // label 2, rival: the tie 0 / 1 goes to the lowest index, m = 0.25, c = 0.75
  const std::vector<Index> rows = {0, 1};
  Matrix<double> g;
  m.output_gradient(d, rows, f, 1.0, g);
  EXPECT_DOUBLE_EQ(g(0, 0), -(1.0 + 2.0 * 3.75));
  EXPECT_DOUBLE_EQ(g(0, 1), +(1.0 + 2.0 * 3.75));
  EXPECT_DOUBLE_EQ(g(0, 2), 0.0);
  EXPECT_EQ(g.row(1).norm(), 0.0);  // alpha = 0: no gradient
  EXPECT_TRUE(m.gradient_is_zero(1));
  EXPECT_DOUBLE_EQ(m.loss_sum(d, rows, f), 3.75 + 0.75);
  m.update_multipliers(d, rows, f);
  EXPECT_DOUBLE_EQ(a->row(0)[0], 1.0 + 0.5 * 3.75);
  EXPECT_DOUBLE_EQ(a->row(1)[0], 0.5 * 0.75);
  EXPECT_EQ(m.name(), "minnorm-multiclass-single");
}

// PI: the integral I <- proj(I + s v) is kept after the multipliers, and alpha <- proj(I + kappa_p v).
TEST(Minnorm, PiKeepsItsIntegralAfterTheMultipliersAndAddsTheProportionalTerm) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 0.0, 0.5};
  p.dual = MinnormDual::kPI;
  p.kappa_p = 2.0;
  p.C = 3.0;
  Minnorm<double> m(p, d, 3);
  MultiplierStore* a = m.multipliers();
  ASSERT_EQ(a->per_example(), 6);
  ASSERT_EQ(a->multipliers_per_example(), 3);
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -1.0,   // label 0: violations 0.75, 4, 0
       0.5, -3.0, 0.75;   // label 2: violations 1.5, -2, 0.25
  const std::vector<Index> rows = {0, 1};
  m.update_multipliers(d, rows, f);
  const std::vector<double> first = {1.875, 3.0, 0.0, 0.375, 2.0, 0.0,   // alpha = proj(I + 2 v); I = 0.5 v
                                     3.0, 0.0, 0.625, 0.75, 0.0, 0.125};  // C = 3 caps 0.75 + 3; I >= 0
  EXPECT_EQ(a->values(), first);
  m.update_multipliers(d, rows, f);
  EXPECT_DOUBLE_EQ(a->row(0)[3], 0.75);         // the integral grows by s v
  EXPECT_DOUBLE_EQ(a->row(0)[0], 0.75 + 1.5);   // alpha = I + kappa_p v
  EXPECT_TRUE(m.gradient_is_zero(1) == false);
}

// Accelerated: the anchor a and the count k follow the multipliers (the look-ahead y); a' = proj(y + s v),
// k <- 0 where v (a' - a) <= 0, else k + 1; y <- proj(a' + k/(k+3) (a' - a)).
TEST(Minnorm, AcceleratedKeepsAnchorAndCountAndRestartsWhenTheStepTurnsAgainstTheMove) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 0.0, 0.5};
  p.dual = MinnormDual::kAccelerated;
  Minnorm<double> m(p, d, 3);
  MultiplierStore* a = m.multipliers();
  ASSERT_EQ(a->per_example(), 9);
  ASSERT_EQ(a->multipliers_per_example(), 3);
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -1.0,   // label 0: violations 0.75, 4, 0
       0.5, -3.0, 0.75;
  const std::vector<Index> rows = {0, 1};
  m.update_multipliers(d, rows, f);
  // a' = 0.5 v = (0.375, 2, 0); k = (1, 1, 0) (no move at v = 0); y = a' + a'/4.
  const std::vector<double> first = {0.46875, 2.5, 0.0, 0.375, 2.0, 0.0, 1.0, 1.0, 0.0};
  EXPECT_EQ(std::vector<double>(a->row(0), a->row(0) + 9), first);
  f(0, 0) = 1.1;  // violation -0.1: a' = 0.46875 - 0.05 still moves up against it: restart
  m.update_multipliers(d, rows, f);
  EXPECT_DOUBLE_EQ(a->row(0)[0], 0.46875 - 0.05);  // restarted: y = a'
  EXPECT_DOUBLE_EQ(a->row(0)[3], 0.46875 - 0.05);
  EXPECT_EQ(a->row(0)[6], 0.0);
  EXPECT_DOUBLE_EQ(a->row(0)[1], 4.5 + 0.4 * 2.5);  // a' = 2.5 + 2, k = 2: y = a' + 2/5 (a' - 2)
  EXPECT_EQ(a->row(0)[7], 2.0);
}

// Averaging from epoch 1: a multiplier's first update is not averaged; later ones go into the running mean and
// the share of them at which it was support, in the blocks after the update counts (the store knows where).
TEST(Minnorm, AveragingKeepsTheMeanAndSupportShareOfTheUpdatesAfterItsStart) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 0.0, 0.5};
  p.average_from = 1.0;
  Minnorm<double> m(p, d, 3);
  MultiplierStore* a = m.multipliers();
  ASSERT_EQ(a->per_example(), 12);  // multipliers, counts, means, shares
  ASSERT_EQ(a->average_column(), 6);
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -1.0,   // label 0: violations 0.75, 4, 0
       0.5, -3.0, 0.75;
  const std::vector<Index> rows = {0, 1};
  m.update_multipliers(d, rows, f);  // alpha = 0.5 v = (0.375, 2, 0): counted, not averaged
  EXPECT_EQ(std::vector<double>(a->row(0) + 3, a->row(0) + 12),
            (std::vector<double>{1, 1, 1, 0, 0, 0, 0, 0, 0}));
  f(0, 0) = 2.0;  // violation -1: alpha_0 = max(0, 0.375 - 0.5) = 0
  m.update_multipliers(d, rows, f);  // averaged: alpha = (0, 4, 0)
  f(0, 0) = 0.0;  // violation 1: alpha_0 = 0.5
  m.update_multipliers(d, rows, f);  // averaged: alpha = (0.5, 6, 0)
  EXPECT_EQ(std::vector<double>(a->row(0) + 3, a->row(0) + 12),
            (std::vector<double>{3, 3, 3, 0.25, 5.0, 0.0, 0.5, 1.0, 0.0}));
  Minnorm<double> plain(MinnormParams{MinnormTask::kMulticlass, 0.0, 0.5}, d, 3);
  EXPECT_EQ(plain.multipliers()->average_column(), -1);
}

// Curvature-normalized steps: each example's step s (and PI's gain) is divided by the curvature it is given.
TEST(Minnorm, CurvatureStepDividesEachExamplesStepByItsCurvature) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 0.0, 0.5};
  p.curvature = true;
  Minnorm<double> m(p, d, 3);
  EXPECT_TRUE(m.traits().curvature_step);
  Matrix<double> f(2, 3);
  f << 0.25, 3.0, -1.0,   // label 0: violations 0.75, 4, 0
       0.5, -3.0, 0.75;   // label 2: violations 1.5, -2, 0.25
  const std::vector<Index> rows = {0, 1};
  const std::vector<double> curvature = {2.0, 4.0};
  m.update_multipliers(d, rows, f, curvature);
  const MultiplierStore* a = m.multipliers();
  EXPECT_EQ(std::vector<double>(a->row(0), a->row(0) + 3), (std::vector<double>{0.5 * 0.75 / 2, 0.5 * 4 / 2, 0.0}));
  EXPECT_EQ(std::vector<double>(a->row(1), a->row(1) + 3), (std::vector<double>{0.5 * 1.5 / 4, 0.0, 0.5 * 0.25 / 4}));
  Minnorm<double> plain(MinnormParams{MinnormTask::kMulticlass, 0.0, 0.5}, d, 3);
  EXPECT_FALSE(plain.traits().curvature_step);
}

// Adaptive penalty: a constraint's rho doubles for every update that finds it violated beyond the tolerance,
// and is back to rho once it is met.
TEST(Minnorm, AdaptivePenaltyRaisesRhoWhileViolatedAndResetsWhenMet) {
  const Dataset d = two_examples_three_classes();
  MinnormParams p{MinnormTask::kMulticlass, 1.0, 0.5};
  p.rho_growth = 2.0;
  p.rho_tolerance = 0.5;
  p.rho_max = 3.0;  // caps row 0's 1 x 2^2 = 4
  Minnorm<double> m(p, d, 3);
  MultiplierStore* a = m.multipliers();
  ASSERT_EQ(a->per_example(), 6);  // three multipliers, three exponents
  Matrix<double> f(2, 3);
  f << 0.25, 0.0, 0.0,   // label 0: residuals 0.75 (beyond 0.5), 1, 1
       0.0, 0.0, 0.75;   // label 2: residuals 1, 1, 0.25 (within 0.5)
  const std::vector<Index> rows = {0, 1};
  m.update_multipliers(d, rows, f);
  m.update_multipliers(d, rows, f);
  EXPECT_EQ(a->row(0)[3], 2.0);  // violated twice: rho 4, capped at 3
  EXPECT_EQ(a->row(1)[5], 0.0);  // within the tolerance
  Matrix<double> g;
  m.output_gradient(d, rows, f, 1.0, g);
  EXPECT_DOUBLE_EQ(g(0, 0), -(a->row(0)[0] + 3.0 * 0.75));
  EXPECT_DOUBLE_EQ(g(1, 2), -(a->row(1)[2] + 1.0 * 0.25));
  f(0, 0) = 2.0;  // met: back to rho
  m.update_multipliers(d, rows, f);
  EXPECT_EQ(a->row(0)[3], 0.0);
}

TEST(Minnorm, VariantsOutsideTheirTaskAreErrorsNamingTheOption) {
  const Dataset d = two_examples_three_classes();
  MinnormParams single{MinnormTask::kBinary, 0, 1};
  single.multipliers = MinnormMultipliers::kSingle;
  Dataset two = d;
  two.labels = {0, 1};
  two.num_classes = 2;
  try {
    Minnorm<double>(single, two, 1);
    ADD_FAILURE() << "single multipliers on a binary task were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("objective.multipliers = single"), std::string::npos) << e.what();
  }
  const Dataset reg = one_regression_example();
  MinnormParams slack{MinnormTask::kRegression, 0, 1};
  slack.C = 2.0;
  try {
    Minnorm<double>(slack, reg, 1);
    ADD_FAILURE() << "a finite C on regression was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("objective.C = 2"), std::string::npos) << e.what();
  }
}

// exp(-y f) one-vs-all; a margin far below -50 saturates instead of overflowing (also in float).
TEST(Exponential, OneVsAllByHandAndNoOverflowAtHugeNegativeMargins) {
  const Dataset d = two_examples_three_classes();
  ExampleObjective<float, ExponentialRule> objective;
  Matrix<float> f(2, 3);
  f << 1.0f, -2.0f, 0.5f,        // label 0: exp(-1) + exp(-2) + exp(0.5)
       0.0f, 1e4f, -1e4f;        // label 2: margins 0, -1e4, -1e4: capped
  const std::vector<Index> rows = {0, 1};
  EXPECT_NEAR(objective.loss_sum(d, std::vector<Index>{0}, f), std::exp(-1.0) + std::exp(-2.0) + std::exp(0.5), 1e-6);
  Matrix<float> g;
  objective.output_gradient(d, rows, f, 1.0, g);
  EXPECT_NEAR(g(0, 0), -std::exp(-1.0), 1e-6);   // -y exp(-y f), y = +1
  EXPECT_NEAR(g(0, 1), std::exp(-2.0), 1e-6);    // y = -1, f = -2
  EXPECT_NEAR(g(0, 2), std::exp(0.5), 1e-6);
  const double loss = objective.loss_sum(d, rows, f);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, std::exp(-1.0) + std::exp(-2.0) + std::exp(0.5) + 1.0 + 2.0 * std::exp(50.0), 1e-6 * loss);
  EXPECT_TRUE(std::isfinite(g(1, 1)) && std::isfinite(g(1, 2)));
  EXPECT_GT(g(1, 1), 0.0f);  // still pushes the margin up
  EXPECT_LT(g(1, 2), 0.0f);
}

// The logistic loss (one output, Theory III's other loss; issue #14): log(1 + exp(-y f)) stays finite and exact at
// margins of -+1e4 in float: the loss is |margin| for a wrong sign and 0 for a right one, the gradient -y or 0.
TEST(CrossEntropy, LogisticLossIsExactAtHugeMargins) {
  Dataset d;
  d.rows = 4;
  d.cols = 1;
  d.num_classes = 2;
  d.labels = {1, 1, 0, 0};
  d.features.assign(4, 0.0f);
  CrossEntropy<float> logistic;
  Matrix<float> f(4, 1);
  f << -1e4f, 1e4f, 1e4f, -1e4f;
  // Examples 0 and 2 have the wrong sign at |margin| 1e4, examples 1 and 3 the right one.
  EXPECT_NEAR(logistic.loss_sum(d, std::vector<Index>{0, 1, 2, 3}, f), 2e4, 1e-3);
  EXPECT_NEAR(logistic.loss_sum(d, std::vector<Index>{1, 3}, Matrix<float>(f({1, 3}, Eigen::all))), 0.0, 1e-30);
  Matrix<float> g;
  logistic.output_gradient(d, std::vector<Index>{0, 1, 2, 3}, f, 1.0, g);
  EXPECT_FLOAT_EQ(g(0, 0), -1.0f);  // label 1 at f = -1e4: pushed up at full strength
  EXPECT_FLOAT_EQ(g(1, 0), 0.0f);
  EXPECT_FLOAT_EQ(g(2, 0), 1.0f);   // label 0 at f = +1e4: pushed down
  EXPECT_FLOAT_EQ(g(3, 0), 0.0f);
}

TEST(CrossEntropy, UniformOutputsGiveLogC) {
  const Dataset d = two_examples_three_classes();
  CrossEntropy<double> ce;
  Matrix<double> f = Matrix<double>::Zero(2, 3);
  EXPECT_NEAR(ce.loss_sum(d, std::vector<Index>{0, 1}, f), 2 * std::log(3.0), 1e-12);
}

TEST(Square, OneHotTargets) {
  const Dataset d = two_examples_three_classes();
  Square<double> sq(SquareTargets{});
  Matrix<double> f = Matrix<double>::Zero(2, 3);
  EXPECT_DOUBLE_EQ(sq.loss_sum(d, std::vector<Index>{0, 1}, f), 2.0);  // (0-1)^2 per example
  Square<double> pm({true, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(pm.loss_sum(d, std::vector<Index>{0}, f), 2.0 * 9.0 + 1.0 + 1.0);
}

TEST(Errors, ArgmaxAndSign) {
  const Dataset d = two_examples_three_classes();
  Matrix<double> f(2, 3);
  f << 1, 0, 0,   // correct (class 0)
       0, 1, 0;   // wrong (label 2)
  EXPECT_EQ(count_errors(d, std::vector<Index>{0, 1}, f), 1);
  Dataset b = d;
  b.labels = {1, 0};
  Matrix<double> s(2, 1);
  s << 0.5, 0.25;  // first positive (label 1: right), second positive (label 0: wrong)
  EXPECT_EQ(count_errors(b, std::vector<Index>{0, 1}, s), 1);
}

// The rule GPU ranks share (predicted_class): a NaN output is never the maximum, whichever its place.
TEST(Errors, ANanOutputIsNeverThePredictedClass) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double first_nan[] = {nan, 1.0, 2.0}, middle_nan[] = {3.0, nan, 2.0}, last_nan[] = {1.0, 2.0, nan};
  const double all_nan[] = {nan, nan, nan}, tie[] = {2.0, 5.0, 5.0};
  EXPECT_EQ(predicted_class(first_nan, 3), 2);
  EXPECT_EQ(predicted_class(middle_nan, 3), 0);
  EXPECT_EQ(predicted_class(last_nan, 3), 1);
  EXPECT_EQ(predicted_class(all_nan, 3), 0);
  EXPECT_EQ(predicted_class(tie, 3), 1);           // the first maximum
  const Dataset d = two_examples_three_classes();  // labels 0 and 2
  Matrix<double> f(2, 3);
  f << nan, 0, 1,  // predicts 2: wrong
      1, nan, 4;   // predicts 2: right
  EXPECT_EQ(count_errors(d, std::vector<Index>{0, 1}, f), 1);
}

}  // namespace
}  // namespace normscale
