// Square loss sum_i w_i (f_i - t_i)^2 per example: one-hot {0,1} or {-1,+1} targets, the optional
// Hui-Belkin rescaling (weight k and target M on the true class), or regression targets; built for CPU
// and GPU ranks.
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <string>

namespace normscale {

struct SquareTargets {
  bool plus_minus_one = false;  // negative target -1 instead of 0
  double true_weight = 1.0;     // k
  double true_target = 1.0;     // M
};

struct SquareRule {
  using Params = SquareTargets;
  static constexpr bool kMultipliers = false;
  static std::string name(const Params&) { return "square"; }
  static ObjectiveTraits traits(const Params&) { return {}; }

  // Target t and weight w of output i.
  template <class T>
  NS_HOST_DEVICE static void target(const Params& p, const Example<T>& e, int i, double& t, double& w) {
    w = 1.0;
    if (!e.classification()) {
      t = static_cast<double>(e.target[i]);
      return;
    }
    // One output encodes a binary task: class 1 is the positive class.
    const bool is_true = e.outputs == 1 ? e.label == 1 : e.label == i;
    if (is_true) {
      t = p.true_target;
      w = p.true_weight;
    } else if (e.outputs == 1) {
      t = p.plus_minus_one ? -p.true_target : 0.0;
    } else {
      t = p.plus_minus_one ? -1.0 : 0.0;
    }
  }

  template <class T>
  NS_HOST_DEVICE static void gradient(const Params& p, const Example<T>& e, double scale, T* grad) {
    for (int i = 0; i < e.outputs; ++i) {
      double t = 0, w = 0;
      target(p, e, i, t, w);
      grad[i] = static_cast<T>(2.0 * w * (e.out(i) - t) * scale);
    }
  }

  template <class T>
  NS_HOST_DEVICE static double loss(const Params& p, const Example<T>& e) {
    double total = 0.0;
    for (int i = 0; i < e.outputs; ++i) {
      double t = 0, w = 0;
      target(p, e, i, t, w);
      const double d = e.out(i) - t;
      total += w * d * d;
    }
    return total;
  }
};

}  // namespace normscale
