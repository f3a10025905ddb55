// Known answers for the toy tests of linear Minnorm: small 2-d sets and the soft-margin SVM solved by an
// independent method (dual coordinate descent, as liblinear does, written here without the code under test).
#pragma once

#include "normscale/data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace normscale::toy {

inline Dataset points(const char* name, const std::vector<std::array<float, 2>>& x, const std::vector<int>& labels,
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
inline Dataset overlapping_set() {
  return points("overlapping", {{1.0f, 0.6f}, {2.0f, 1.0f}, {0.4f, 1.6f}, {1.5f, -0.3f}, {-0.5f, 0.4f},
                                {0.3f, -0.8f}, {-1.0f, -0.5f}, {-1.8f, 0.2f}, {-0.6f, -1.5f}, {0.8f, 0.9f},
                                {-0.2f, 1.0f}, {1.2f, -1.1f}},
                {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, 2);
}

inline double dot(const std::array<double, 2>& a, const float* x) { return a[0] * x[0] + a[1] * x[1]; }

struct SoftMarginSvm {
  std::vector<double> w;
  std::vector<double> alpha;
};

// Dual coordinate descent on min_alpha 1/2 alpha^T Q alpha - sum alpha, 0 <= alpha <= C, Q_mn = y_m y_n x_m.x_n,
// keeping w = sum alpha y x (Hsieh et al. 2008, liblinear's L1-loss SVM without bias); C = inf: hard margin.
// y = +1 for the class `positive` (one-vs-all), -1 for the others.
inline SoftMarginSvm soft_margin_svm(const Dataset& d, double C, int positive = 1) {
  const auto cols = static_cast<std::size_t>(d.cols);
  SoftMarginSvm svm;
  svm.w.assign(cols, 0.0);
  svm.alpha.assign(static_cast<std::size_t>(d.rows), 0.0);
  for (int sweep = 0; sweep < 200000; ++sweep) {
    double largest_change = 0.0;
    for (Index i = 0; i < d.rows; ++i) {
      const float* x = d.features.data() + static_cast<std::size_t>(i) * cols;
      const double y = d.labels[static_cast<std::size_t>(i)] == positive ? 1.0 : -1.0;
      double q = 0.0, margin = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        q += double(x[j]) * x[j];
        margin += svm.w[j] * x[j];
      }
      double& a = svm.alpha[static_cast<std::size_t>(i)];
      const double next = std::clamp(a - (y * margin - 1.0) / q, 0.0, C);
      for (std::size_t j = 0; j < cols; ++j) svm.w[j] += (next - a) * y * x[j];
      largest_change = std::max(largest_change, std::abs(next - a));
      a = next;
    }
    if (largest_change < 1e-15) break;
  }
  return svm;
}

}  // namespace normscale::toy
