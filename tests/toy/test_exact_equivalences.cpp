// Exact equivalences: a linear model trained with binary Minnorm is the hard-margin SVM (weights,
// support vectors and dual coefficients), and regression Minnorm on an under-determined linear model
// is the minimum-norm interpolant pinv(X) y.
#include "support/linear_algebra.hpp"
#include "toy_harness.hpp"

#include <Eigen/Dense>
#include <gtest/gtest.h>

namespace normscale::toy {
namespace {

TEST(ExactEquivalence, LinearBinaryMinnormIsTheHardMarginSvm) {
  TrainerOptions options;
  options.lr = 0.05;
  auto run = make_toy_run(svm_set(), {2, {}, 1, "identity", false}, minnorm_config("binary", 1.0, 0.05), options,
                          {0.3, -0.7});
  run->train(5000);
  const auto& w = run->network->parameters();
  EXPECT_NEAR(w[0], 2.0, 1e-6);
  EXPECT_NEAR(w[1], 0.0, 1e-6);
  EXPECT_NEAR(run->alpha(0), 2.0, 1e-5);
  EXPECT_NEAR(run->alpha(1), 2.0, 1e-5);
  for (Index i = 2; i < 8; ++i) EXPECT_EQ(run->alpha(i), 0.0) << "example " << i << " is no support vector";
  EXPECT_EQ(run->objective->multipliers()->support_count(), 2);
}

TEST(ExactEquivalence, RegressionMinnormIsTheMinimumNormInterpolant) {
  constexpr Index kExamples = 10, kDim = 30;
  Dataset d;
  d.name = "underdetermined";
  d.rows = kExamples;
  d.cols = kDim;
  d.target_cols = 1;
  RandomStream rng(11, StreamPurpose::kSynthetic);
  for (Index i = 0; i < kExamples * kDim; ++i) d.features.push_back(static_cast<float>(rng.normal() / std::sqrt(kDim)));
  for (Index i = 0; i < kExamples; ++i) d.targets.push_back(static_cast<float>(rng.normal()));
  TrainerOptions options;
  options.lr = 0.05;
  auto run = make_toy_run(d, {kDim, {}, 1, "identity", false}, minnorm_config("regression", 1.0, 0.05), options, {},
                          {"normal", 0.1});
  run->train(4000);
  const Eigen::MatrixXd x = d.feature_matrix().cast<double>();
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXf>(d.targets.data(), kExamples).cast<double>();
  const Eigen::VectorXd expected = testing::pseudo_inverse(x) * y;  // the minimum-norm solution
  const Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(run->network->parameters().data(), kDim);
  EXPECT_LT((w - expected).cwiseAbs().maxCoeff(), 1e-4);
  // The fixed point W = sum alpha x: the multipliers are the interpolant's dual coordinates.
  Eigen::VectorXd alpha(kExamples);
  for (Index i = 0; i < kExamples; ++i) alpha[i] = run->alpha(i);
  EXPECT_LT((x.transpose() * alpha - expected).cwiseAbs().maxCoeff(), 1e-4);
}

}  // namespace
}  // namespace normscale::toy
