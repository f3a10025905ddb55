// Neural collapse NC1-NC4 on penultimate features (ALGORITHMS.md §3), as summable partial results.
//
// Distributed use without comm/: every rank accumulates its rows into a NeuralCollapseSums, the
// caller allreduces (sums) its flat() buffer in place, and every rank derives the class means
// (pass 1). Pass 2 counts, per rank, where the nearest-class-mean prediction differs from the
// network's; the caller allreduces that flat() buffer too, and finish() reads all four metrics.
//
// Conventions (the same on every path):
//   - mu_c is the mean of the features of class c; a class with no examples anywhere is left out
//     (C below counts the classes that have examples; W's rows of absent classes are dropped).
//   - mu_G is the mean over all examples (Papyan, Han & Donoho), or, with
//     GlobalMean::kClassAverage, the unweighted mean of the class means (the square-loss paper's
//     appendix G). The two agree for balanced classes.
//   - Sigma_W = (1/N) sum_n (h_n - mu_{y_n})(h_n - mu_{y_n})^T over all N examples, computed exactly
//     from the summed moments as (1/N) [S - sum_c n_c mu_c mu_c^T] with S = sum_n h_n h_n^T.
//   - Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T, unweighted by class size.
//   - NC1 = Tr(Sigma_W Sigma_B^+) / C, the pseudo-inverse from the SVD of M = [mu_c - mu_G]
//     (d x C), keeping singular values above pinv_tolerance times the largest.
//   - NC2 equinorm = std/mean of ||mu_c - mu_G|| (population std, 1/C); equiangularity = mean over
//     ordered pairs c != c' of |cos(mu_c - mu_G, mu_c' - mu_G) + 1/(C-1)|.
//   - NC3 = || W^T/||W||_F - M/||M||_F ||_F^2 (W is C x d). A binary network with one output row w
//     is compared as its two-output equivalent [-w; w] (class 0, class 1).
//   - NC4 = share of examples whose nearest class mean (Euclidean, ties to the lower class) differs
//     from the network's prediction (argmax of the outputs, ties to the lower class; one output
//     column: class 1 when f > 0, else class 0).
#pragma once

#include "normscale/core/types.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace normscale {

// Pass 1: per-class counts, per-class feature sums and the total second moment, in one buffer.
class NeuralCollapseSums {
 public:
  NeuralCollapseSums(Index classes, Index dim);

  // Adds rows of `features` (rows x dim; float or double, any Eigen expression) with labels in
  // [0, classes). Arithmetic is in double.
  template <class Derived>
  void accumulate(const Eigen::MatrixBase<Derived>& features, std::span<const std::int32_t> labels) {
    accumulate_rows(features.template cast<double>(), labels);
  }
  void accumulate_rows(const Eigen::Ref<const Matrix<double>>& features,
                       std::span<const std::int32_t> labels);

  // Adds another partial result of the same shape (what the allreduce does across ranks).
  void add(const NeuralCollapseSums& other);

  Index classes() const { return classes_; }
  Index dim() const { return dim_; }

  // The summable buffer, allreduced (sum) in place by the caller. Layout:
  //   [ counts (classes) | class sums (classes x dim, row-major) | S = sum h h^T (dim x dim) ].
  std::vector<double>& flat() { return values_; }
  const std::vector<double>& flat() const { return values_; }

  double count(Index c) const { return values_[static_cast<std::size_t>(c)]; }
  double total_count() const;
  Eigen::Map<const Matrix<double>> class_sums() const;
  Eigen::Map<const Matrix<double>> second_moment() const;

 private:
  Eigen::Map<Matrix<double>> class_sums_mut();
  Eigen::Map<Matrix<double>> second_moment_mut();

  Index classes_;
  Index dim_;
  std::vector<double> values_;
};

enum class GlobalMean { kExampleMean, kClassAverage };

// Class means after pass 1 (combined sums): what pass 2 needs on every rank.
struct ClassMeans {
  Matrix<double> means;             // classes x dim; rows of absent classes are zero
  std::vector<bool> present;        // class has at least one example
  Vector<double> global_mean;       // mu_G, by the chosen rule
};

ClassMeans class_means(const NeuralCollapseSums& sums, GlobalMean rule = GlobalMean::kExampleMean);

// Pass 2: disagreements between the nearest-class-mean rule and the network, summable.
class NearestMeanAgreement {
 public:
  // Adds rows: features (rows x dim), network outputs (rows x classes, or rows x 1 for binary);
  // float or double, any Eigen expression.
  template <class DerivedH, class DerivedF>
  void accumulate(const Eigen::MatrixBase<DerivedH>& features, const Eigen::MatrixBase<DerivedF>& outputs,
                  const ClassMeans& means) {
    accumulate_rows(features.template cast<double>(), outputs.template cast<double>(), means);
  }
  void accumulate_rows(const Eigen::Ref<const Matrix<double>>& features,
                       const Eigen::Ref<const Matrix<double>>& outputs, const ClassMeans& means);

  // [ disagreements, examples ], allreduced (sum) in place by the caller.
  std::vector<double>& flat() { return values_; }
  const std::vector<double>& flat() const { return values_; }

  double disagreements() const { return values_[0]; }
  double examples() const { return values_[1]; }

 private:
  std::vector<double> values_ = {0.0, 0.0};
};

struct NeuralCollapseOptions {
  GlobalMean global_mean = GlobalMean::kExampleMean;  // must match the rule given to class_means
  double pinv_tolerance = 1e-10;  // relative cut on singular values of M for Sigma_B^+
};

struct NeuralCollapseMetrics {
  Index classes = 0;             // classes with examples (the C of the formulas)
  double examples = 0.0;         // N
  double nc1 = 0.0;              // Tr(Sigma_W Sigma_B^+) / C
  double nc2_equinorm = 0.0;     // std/mean of ||mu_c - mu_G||
  double nc2_equiangularity = 0.0;
  double nc3 = 0.0;              // || W^T/||W||_F - M/||M||_F ||_F^2
  double nc4 = 0.0;              // share of nearest-class-mean disagreements (NaN without pass 2)
  double within_trace = 0.0;     // Tr(Sigma_W), for scale
  double between_trace = 0.0;    // Tr(Sigma_B)
};

// Everything from the combined sums; `last_weight` is the last layer's weight (classes x dim, or
// 1 x dim for a binary network with one output). `agreement` (combined) gives NC4; without it
// nc4 is NaN. Needs at least two classes with examples.
NeuralCollapseMetrics finish_neural_collapse(const NeuralCollapseSums& sums,
                                             const Eigen::Ref<const Matrix<double>>& last_weight,
                                             const NearestMeanAgreement* agreement = nullptr,
                                             const NeuralCollapseOptions& options = {});

// The same for float weights (or any Eigen expression).
template <class Derived>
NeuralCollapseMetrics finish_neural_collapse(const NeuralCollapseSums& sums,
                                             const Eigen::MatrixBase<Derived>& last_weight,
                                             const NearestMeanAgreement* agreement = nullptr,
                                             const NeuralCollapseOptions& options = {}) {
  const Matrix<double> w = last_weight.template cast<double>();
  return finish_neural_collapse(sums, Eigen::Ref<const Matrix<double>>(w), agreement, options);
}

}  // namespace normscale
