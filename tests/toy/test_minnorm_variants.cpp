// The Minnorm paper's Appendix C variants against their SVMs, solved here by an independent method
// (dual coordinate descent, as liblinear does): with slack (multipliers in [0, C]) a linear binary model
// is the soft-margin SVM min 1/2||w||^2 + C sum max(0, 1 - y w.x); with a single multiplier per example on
// f_y - max_{j != y} f_j >= 1 a linear multi-class model is the hard-margin Crammer-Singer SVM.
#include "toy_harness.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace normscale::toy {
namespace {

Dataset points(const char* name, const std::vector<std::array<float, 2>>& x, const std::vector<int>& labels,
               Index classes) {
  Dataset d;
  d.name = name;
  d.cols = 2;
  d.num_classes = classes;
  d.labels = labels;
  for (const auto& p : x) d.features.insert(d.features.end(), p.begin(), p.end());
  d.rows = static_cast<Index>(x.size());
  return d;
}

// Two overlapping clouds: no line through the origin separates them, so some slacks are positive.
Dataset overlapping_set() {
  return points("overlapping", {{1.0f, 0.6f}, {2.0f, 1.0f}, {0.4f, 1.6f}, {1.5f, -0.3f}, {-0.5f, 0.4f},
                                {0.3f, -0.8f}, {-1.0f, -0.5f}, {-1.8f, 0.2f}, {-0.6f, -1.5f}, {0.8f, 0.9f},
                                {-0.2f, 1.0f}, {1.2f, -1.1f}},
                {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, 2);
}

double dot(const std::array<double, 2>& a, const float* x) { return a[0] * x[0] + a[1] * x[1]; }

struct SoftMarginSvm {
  std::array<double, 2> w{};
  std::vector<double> alpha;
};

// Dual coordinate descent on min_alpha 1/2 alpha^T Q alpha - sum alpha, 0 <= alpha <= C, Q_mn = y_m y_n x_m.x_n,
// keeping w = sum alpha y x (Hsieh et al. 2008, liblinear's L1-loss SVM without bias).
SoftMarginSvm soft_margin_svm(const Dataset& d, double C) {
  SoftMarginSvm svm;
  svm.alpha.assign(static_cast<std::size_t>(d.rows), 0.0);
  for (int sweep = 0; sweep < 200000; ++sweep) {
    double largest_change = 0.0;
    for (Index i = 0; i < d.rows; ++i) {
      const float* x = d.features.data() + 2 * i;
      const double y = d.labels[static_cast<std::size_t>(i)] == 1 ? 1.0 : -1.0;
      const double q = x[0] * x[0] + x[1] * x[1];
      double& a = svm.alpha[static_cast<std::size_t>(i)];
      const double next = std::clamp(a - (y * dot(svm.w, x) - 1.0) / q, 0.0, C);
      svm.w[0] += (next - a) * y * x[0];
      svm.w[1] += (next - a) * y * x[1];
      largest_change = std::max(largest_change, std::abs(next - a));
      a = next;
    }
    if (largest_change < 1e-15) break;
  }
  return svm;
}

class SoftMargin : public ::testing::TestWithParam<double> {};

// For rho = 0 and rho = 1: the augmented term is off at alpha = C, so the fixed point is the SVM's for both.
TEST_P(SoftMargin, LinearBinaryMinnormWithSlackIsTheSoftMarginSvm) {
  constexpr double kC = 0.5;
  const Dataset data = overlapping_set();
  const SoftMarginSvm svm = soft_margin_svm(data, kC);
  const auto at_c = std::count_if(svm.alpha.begin(), svm.alpha.end(), [](double a) { return a > kC - 1e-12; });
  const auto inside = std::count_if(svm.alpha.begin(), svm.alpha.end(),
                                    [](double a) { return a > 1e-12 && a < kC - 1e-12; });
  ASSERT_GE(at_c, 1) << "no multiplier at C: the box is not exercised";
  ASSERT_GE(inside, 1) << "no multiplier inside the box: the margin is not exercised";

  ObjectiveConfig objective = minnorm_config("binary", GetParam(), 0.05);
  objective.C = kC;
  TrainerOptions options;
  options.lr = 0.05;
  auto run = make_toy_run(data, {2, {}, 1, "identity", false}, objective, options, {0.3, -0.7});
  run->train(20000);
  const auto& w = run->network->parameters();
  EXPECT_NEAR(w[0], svm.w[0], 1e-6);
  EXPECT_NEAR(w[1], svm.w[1], 1e-6);
  for (Index i = 0; i < data.rows; ++i) {
    EXPECT_GE(run->alpha(i), 0.0);
    EXPECT_LE(run->alpha(i), kC);
    EXPECT_NEAR(run->alpha(i), svm.alpha[static_cast<std::size_t>(i)], 1e-5) << "example " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Rho, SoftMargin, ::testing::Values(0.0, 1.0));

// Three classes in three directions, separable by W x with no bias; four examples support the solution,
// each through one constraint against a strict rival.
Dataset three_directions() {
  return points("three-directions", {{0.2f, 1.0f}, {0.5f, 1.5f}, {-0.4f, 1.3f}, {-1.0f, -0.3f}, {-1.5f, -0.6f},
                                     {-0.7f, -1.0f}, {1.1f, -0.6f}, {1.4f, -0.2f}, {0.6f, -0.9f}},
                {0, 0, 0, 1, 1, 1, 2, 2, 2}, 3);
}

struct CrammerSinger {
  std::array<std::array<double, 2>, 3> w{};  // one row per class
  std::vector<std::array<double, 3>> beta;   // beta[i][j]: the multiplier of (w_{y_i} - w_j).x_i >= 1
};

// Hard-margin Crammer-Singer min 1/2 ||W||^2 s.t. (w_y - w_j).x >= 1 for every j != y, by coordinate ascent
// on the dual of the pairwise constraints (each of norm ||(e_y - e_j) x^T||^2 = 2 ||x||^2).
CrammerSinger crammer_singer(const Dataset& d) {
  CrammerSinger cs;
  cs.beta.assign(static_cast<std::size_t>(d.rows), {0.0, 0.0, 0.0});
  for (int sweep = 0; sweep < 200000; ++sweep) {
    double largest_change = 0.0;
    for (Index i = 0; i < d.rows; ++i) {
      const float* x = d.features.data() + 2 * i;
      const int y = d.labels[static_cast<std::size_t>(i)];
      const double q = 2.0 * (x[0] * x[0] + x[1] * x[1]);
      for (int j = 0; j < 3; ++j) {
        if (j == y) continue;
        double& b = cs.beta[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
        const double margin = dot(cs.w[static_cast<std::size_t>(y)], x) - dot(cs.w[static_cast<std::size_t>(j)], x);
        const double next = std::max(0.0, b - (margin - 1.0) / q);
        for (int k = 0; k < 2; ++k) {
          cs.w[static_cast<std::size_t>(y)][static_cast<std::size_t>(k)] += (next - b) * x[k];
          cs.w[static_cast<std::size_t>(j)][static_cast<std::size_t>(k)] -= (next - b) * x[k];
        }
        largest_change = std::max(largest_change, std::abs(next - b));
        b = next;
      }
    }
    if (largest_change < 1e-15) break;
  }
  return cs;
}

TEST(SingleMultiplier, LinearMulticlassMinnormIsTheCrammerSingerSvm) {
  const Dataset data = three_directions();
  const CrammerSinger cs = crammer_singer(data);
  // One multiplier per example represents the solution only where at most one pairwise constraint is active.
  int support = 0;
  for (Index i = 0; i < data.rows; ++i) {
    const auto& b = cs.beta[static_cast<std::size_t>(i)];
    const int active = static_cast<int>(std::count_if(b.begin(), b.end(), [](double v) { return v > 1e-9; }));
    ASSERT_LE(active, 1) << "example " << i << " has two active constraints: pick another data set";
    support += active;
  }
  ASSERT_EQ(support, 4);

  ObjectiveConfig objective = minnorm_config("multiclass", 1.0, 0.05);
  objective.multipliers = "single";
  TrainerOptions options;
  options.lr = 0.05;
  auto run = make_toy_run(data, {2, {}, 3, "identity", false}, objective, options, {}, {"normal", 0.1});
  ASSERT_EQ(run->objective->multipliers()->per_example(), 1);
  run->train(20000);
  const auto& w = run->network->parameters();  // the 3 x 2 weight, row-major by output
  for (std::size_t c = 0; c < 3; ++c) {
    for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(w[2 * c + k], cs.w[c][k], 1e-6) << "class " << c;
  }
  for (Index i = 0; i < data.rows; ++i) {
    const auto& b = cs.beta[static_cast<std::size_t>(i)];
    EXPECT_NEAR(run->alpha(i), b[0] + b[1] + b[2], 1e-5) << "example " << i;
  }
}

}  // namespace
}  // namespace normscale::toy
