// Finite-difference checks of every layer and objective: the backward pass must equal the numerical
// derivative of the scalar the objective's output gradient claims to differentiate.
#include "normscale/model/network.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/exponential_rule.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"

#include "support/finite_difference.hpp"
#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

namespace normscale {
namespace {

Dataset random_classification(Index rows, Index cols, Index classes, std::uint64_t seed) {
  return testing::random_classification(rows, cols, classes, seed, testing::LabelRule::kRandom);
}

Dataset random_regression(Index rows, Index cols, Index targets, std::uint64_t seed) {
  Dataset d = random_classification(rows, cols, 2, seed);
  d.labels.clear();
  d.num_classes = 0;
  d.target_cols = targets;
  RandomStream rng(seed + 7, StreamPurpose::kSynthetic);
  for (Index i = 0; i < rows * targets; ++i) d.targets.push_back(static_cast<float>(rng.normal()));
  return d;
}

std::vector<Index> all_rows(const Dataset& d) {
  std::vector<Index> rows(static_cast<std::size_t>(d.rows));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

// Compares backward() of `network` under `objective` with central differences of `value`.
void expect_gradient_matches(Network<double>& network, const Dataset& data, Objective<double>& objective,
                             const std::function<double(const Matrix<double>&)>& value, double tolerance = 1e-6) {
  const auto rows = all_rows(data);
  Matrix<double> x = data.feature_matrix().cast<double>();
  Matrix<double> grad_out;
  objective.output_gradient(data, rows, network.forward(x), 1.0, grad_out);
  network.backward(grad_out);
  const std::vector<double> analytic = network.gradient();
  const double worst =
      testing::worst_gradient_error(network.mutable_parameters(), analytic, [&] { return value(network.forward(x)); });
  EXPECT_LT(worst, tolerance) << objective.name();
}

std::unique_ptr<Network<double>> small_mlp(Index in, Index out, const std::string& activation, bool bias) {
  auto net = make_mlp<double>({in, {7, 5}, out, activation, bias});
  net->initialize({"he", 1.0}, 3);
  return net;
}

TEST(GradientCheck, CrossEntropySoftmaxReluWithBias) {
  const Dataset data = random_classification(6, 4, 3, 1);
  auto net = small_mlp(4, 3, "relu", true);
  CrossEntropy<double> objective;
  const auto rows = all_rows(data);
  expect_gradient_matches(*net, data, objective, [&](const Matrix<double>& f) { return objective.loss_sum(data, rows, f); });
}

TEST(GradientCheck, LogisticOneOutputIdentityNoBias) {
  const Dataset data = random_classification(6, 4, 2, 2);
  auto net = small_mlp(4, 1, "identity", false);
  CrossEntropy<double> objective;
  const auto rows = all_rows(data);
  expect_gradient_matches(*net, data, objective, [&](const Matrix<double>& f) { return objective.loss_sum(data, rows, f); });
}

TEST(GradientCheck, SquareLossRescaledPlusMinusOne) {
  const Dataset data = random_classification(6, 4, 3, 3);
  auto net = small_mlp(4, 3, "relu", true);
  Square<double> objective({true, 2.5, 3.0});
  const auto rows = all_rows(data);
  expect_gradient_matches(*net, data, objective, [&](const Matrix<double>& f) { return objective.loss_sum(data, rows, f); });
}

TEST(GradientCheck, ExponentialOneVsAllAndBinary) {
  for (const auto& [classes, outputs] : {std::pair<Index, Index>{3, 3}, {2, 1}}) {
    const Dataset data = random_classification(6, 4, classes, 12);
    auto net = small_mlp(4, outputs, "relu", true);
    ExampleObjective<double, ExponentialRule> objective;
    const auto rows = all_rows(data);
    // exp's third derivative makes the central differences' own error larger than for the other losses.
    expect_gradient_matches(
        *net, data, objective, [&](const Matrix<double>& f) { return objective.loss_sum(data, rows, f); }, 2e-5);
  }
}

TEST(GradientCheck, SquareLossRegression) {
  const Dataset data = random_regression(5, 3, 2, 4);
  auto net = small_mlp(3, 2, "identity", true);
  Square<double> objective(SquareTargets{});
  const auto rows = all_rows(data);
  expect_gradient_matches(*net, data, objective, [&](const Matrix<double>& f) { return objective.loss_sum(data, rows, f); });
}

// Minnorm's output gradient differentiates the Lagrangian data terms at fixed multipliers; some
// multipliers are zero (and, with a finite C, some at C) so the active-set rule of the augmented term
// is exercised.
void check_minnorm(MinnormParams params, const Dataset& data, Index outputs) {
  auto net = small_mlp(data.cols, outputs, "relu", true);
  params.rho = 0.7;
  params.s = 0.1;
  Minnorm<double> objective(params, data, outputs);
  auto& alpha = objective.multipliers()->values();
  RandomStream rng(9, StreamPurpose::kSynthetic);
  for (double& a : alpha) {
    const double u = rng.uniform();
    a = u < 0.3 ? 0.0 : u < 0.5 && std::isfinite(params.C) ? params.C : rng.uniform();
  }
  // The adaptive penalty's exponents (after the multipliers): whole numbers.
  const Index multipliers = objective.multipliers()->multipliers_per_example();
  const Index per_example = objective.multipliers()->per_example();
  for (Index r = 0; r < data.rows; ++r) {
    for (Index k = multipliers; k < per_example; ++k) alpha[static_cast<std::size_t>(r * per_example + k)] = 3.0;
  }
  const auto rows = all_rows(data);
  expect_gradient_matches(*net, data, objective,
                          [&](const Matrix<double>& f) { return objective.lagrangian_data_sum(data, rows, f); });
}

MinnormParams task(MinnormTask t) {
  MinnormParams p;
  p.task = t;
  return p;
}

TEST(GradientCheck, MinnormMulticlass) {
  check_minnorm(task(MinnormTask::kMulticlass), random_classification(6, 4, 3, 5), 3);
}
TEST(GradientCheck, MinnormBinary) { check_minnorm(task(MinnormTask::kBinary), random_classification(6, 4, 2, 6), 1); }
TEST(GradientCheck, MinnormRegression) {
  check_minnorm(task(MinnormTask::kRegression), random_regression(6, 4, 2, 7), 2);
}
TEST(GradientCheck, MinnormWithSlack) {
  MinnormParams p = task(MinnormTask::kMulticlass);
  p.C = 0.6;
  check_minnorm(p, random_classification(8, 4, 3, 8), 3);
}
TEST(GradientCheck, MinnormAdaptivePenalty) {
  MinnormParams p = task(MinnormTask::kMulticlass);
  p.rho_growth = 1.5;
  check_minnorm(p, random_classification(8, 4, 3, 11), 3);
}
// One multiplier per example on f_y - max_{j != y} f_j: the gradient flows to the true class and the rival.
TEST(GradientCheck, MinnormSingleMultiplier) {
  MinnormParams p = task(MinnormTask::kMulticlass);
  p.multipliers = MinnormMultipliers::kSingle;
  check_minnorm(p, random_classification(8, 4, 4, 9), 4);
  p.C = 0.6;
  check_minnorm(p, random_classification(8, 4, 4, 10), 4);
}

}  // namespace
}  // namespace normscale
