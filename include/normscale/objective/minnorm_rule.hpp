// Minnorm (Bansal et al. 2018), per example: the data terms of the augmented Lagrangian, their output
// gradient and the projected dual-ascent multiplier update (ALGORITHMS §1), for regression (Alg. 1),
// binary (App. A) and one-vs-all multi-class (Alg. 2); built for CPU and GPU ranks.
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <string>

namespace normscale {

enum class MinnormTask { kRegression, kBinary, kMulticlass };

struct MinnormParams {
  MinnormTask task = MinnormTask::kMulticlass;
  double rho = 0.0;  // augmented-Lagrangian coefficient
  double s = 1e-3;   // multiplier step size
  MultiplierUpdate update = MultiplierUpdate::kExact;  // exact f(W^{t+1}) or lagged f(W^t)
  bool unbiased = false;  // data term (P/Q) sum over the minibatch instead of the published sum
};

struct MinnormRule {
  using Params = MinnormParams;
  static constexpr bool kMultipliers = true;

  static std::string name(const Params& p) {
    return p.task == MinnormTask::kRegression ? "minnorm-regression"
           : p.task == MinnormTask::kBinary   ? "minnorm-binary"
                                              : "minnorm-multiclass";
  }
  static ObjectiveTraits traits(const Params& p) {
    ObjectiveTraits t;
    t.data_term = p.unbiased ? DataTerm::kUnbiasedSum : DataTerm::kSum;
    t.norm_term = NormTerm::kHalfSquaredNorm;
    t.multiplier_update = p.update;
    t.sparse_gradient = p.task != MinnormTask::kRegression;
    return t;
  }

  // y_i: the regression target, or +1 / -1 for the true / other classes.
  template <class T>
  NS_HOST_DEVICE static double sign(const Params& p, const Example<T>& e, int i) {
    if (p.task == MinnormTask::kRegression) return static_cast<double>(e.target[i]);
    const bool positive = p.task == MinnormTask::kBinary ? e.label == 1 : e.label == i;
    return positive ? 1.0 : -1.0;
  }
  // The constraint's residual: y - f (regression) or 1 - y f (classification, >= 0 when violated).
  template <class T>
  NS_HOST_DEVICE static double residual(const Params& p, const Example<T>& e, int i) {
    const double y = sign(p, e, i);
    return p.task == MinnormTask::kRegression ? y - e.out(i) : 1.0 - y * e.out(i);
  }

  template <class T>
  NS_HOST_DEVICE static void gradient(const Params& p, const Example<T>& e, double scale, T* grad) {
    for (int i = 0; i < e.outputs; ++i) {
      const double y = sign(p, e, i);
      const double a = e.alpha[i];
      double g;
      if (p.task == MinnormTask::kRegression) {
        g = -(a + p.rho * (y - e.out(i)));
      } else {
        // The augmented term covers active constraints only, so inactive examples get zero gradient.
        g = -y * (a + (a > 0.0 ? p.rho * (1.0 - y * e.out(i)) : 0.0));
      }
      grad[i] = static_cast<T>(g * scale);
    }
  }

  // Reporting loss: squared residual (regression) or total hinge violation sum_i max(0, 1 - y_i f_i).
  template <class T>
  NS_HOST_DEVICE static double loss(const Params& p, const Example<T>& e) {
    double total = 0.0;
    for (int i = 0; i < e.outputs; ++i) {
      const double c = residual(p, e, i);
      total += p.task == MinnormTask::kRegression ? c * c : (c > 0.0 ? c : 0.0);
    }
    return total;
  }

  // alpha <- alpha + s c (regression) or max(0, alpha + s c) (classification).
  template <class T>
  NS_HOST_DEVICE static void update(const Params& p, const Example<T>& e) {
    for (int i = 0; i < e.outputs; ++i) {
      const double next = e.alpha[i] + p.s * residual(p, e, i);
      e.alpha[i] = p.task == MinnormTask::kRegression || next > 0.0 ? next : 0.0;
    }
  }

  // The example's terms of the augmented Lagrangian at the current multipliers.
  template <class T>
  NS_HOST_DEVICE static double lagrangian(const Params& p, const Example<T>& e) {
    double total = 0.0;
    for (int i = 0; i < e.outputs; ++i) {
      const double c = residual(p, e, i);
      const bool active = p.task == MinnormTask::kRegression || e.alpha[i] > 0.0;
      total += e.alpha[i] * c + (active ? 0.5 * p.rho * c * c : 0.0);
    }
    return total;
  }

  // Classification: an example whose multipliers are all zero has a zero output gradient.
  NS_HOST_DEVICE static bool zero_gradient(const Params& p, const double* alpha, int outputs) {
    if (p.task == MinnormTask::kRegression) return false;
    for (int i = 0; i < outputs; ++i) {
      if (alpha[i] > 0.0) return false;
    }
    return true;
  }
};

}  // namespace normscale
