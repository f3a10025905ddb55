// Softmax cross-entropy (several outputs) or logistic loss (one output, class 1 positive).
#pragma once

#include "normscale/objective/objective.hpp"

namespace normscale {

template <class T>
class CrossEntropy final : public Objective<T> {
 public:
  std::string name() const override { return "cross-entropy"; }
  void output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f, T scale,
                       Matrix<T>& grad) const override;
  double loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const override;
};

}  // namespace normscale
