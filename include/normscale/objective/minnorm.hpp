// Minnorm (Bansal et al. 2018): the data terms of the augmented Lagrangian and the dual-ascent
// multiplier update, for regression (Alg. 1), binary (App. A) and one-vs-all multi-class (Alg. 2).
#pragma once

#include "normscale/objective/objective.hpp"

namespace normscale {

enum class MinnormTask { kRegression, kBinary, kMulticlass };

struct MinnormParams {
  MinnormTask task = MinnormTask::kMulticlass;
  double rho = 0.0;  // augmented-Lagrangian coefficient
  double s = 1e-3;   // multiplier step size
};

template <class T>
class Minnorm final : public Objective<T> {
 public:
  Minnorm(MinnormParams params, const Dataset& train, Index outputs);
  std::string name() const override;
  bool is_minnorm() const override { return true; }
  void output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f, T scale,
                       Matrix<T>& grad) const override;
  double loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const override;
  MultiplierStore* multipliers() override { return &alpha_; }
  const MultiplierStore* multipliers() const override { return &alpha_; }
  void update_multipliers(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f) override;
  double lagrangian_data_sum(const Dataset& train, std::span<const Index> rows,
                             const Matrix<T>& f) const override;
  bool gradient_is_zero(Index global_id) const override;

  const MinnormParams& params() const { return params_; }

 private:
  // y_i of example row r: the regression target, or +1 / -1 for the true / other classes.
  double label_sign(const Dataset& data, Index r, Index i) const;
  MinnormParams params_;
  MultiplierStore alpha_;
};

}  // namespace normscale
