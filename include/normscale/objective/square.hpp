// Square loss sum_i w_i (f_i - t_i)^2 per example: one-hot {0,1} or {-1,+1} targets, the optional
// Hui-Belkin rescaling (weight k and target M on the true class), or regression targets.
#pragma once

#include "normscale/objective/objective.hpp"

namespace normscale {

struct SquareTargets {
  bool plus_minus_one = false;  // negative target -1 instead of 0
  double true_weight = 1.0;     // k
  double true_target = 1.0;     // M
};

template <class T>
class Square final : public Objective<T> {
 public:
  explicit Square(SquareTargets targets) : targets_(targets) {}
  std::string name() const override { return "square"; }
  // The target options this objective was built with.
  const SquareTargets& targets() const { return targets_; }
  void output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f, T scale,
                       Matrix<T>& grad) const override;
  double loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const override;

 private:
  // Target and weight of output i for example row r.
  void target(const Dataset& data, Index r, Index i, Index outputs, double& t, double& w) const;
  SquareTargets targets_;
};

}  // namespace normscale
