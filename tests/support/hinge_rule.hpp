// A toy objective for docs/EXTENDING.md and tests/unit/test_extending.cpp: the one-vs-all hinge loss
// sum_i max(0, m - y_i f_i) with y_i = +1 for the true class and -1 otherwise, averaged over the
// minibatch with weight decay. The whole objective is this rule plus a registry entry (the test) and
// one device registration (hinge_device.cu): trainer, executors and option parser stay untouched.
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <string>

namespace normscale::testing {

struct HingeRule {
  struct Params {
    double margin = 1.0;
  };
  static constexpr bool kMultipliers = false;
  static std::string name(const Params&) { return "hinge"; }
  static ObjectiveTraits traits(const Params&) { return {}; }  // minibatch mean, weight decay

  template <class T>
  NS_HOST_DEVICE static double sign(const Example<T>& e, int i) {
    return e.label == i ? 1.0 : -1.0;
  }

  // The subgradient -y_i where the margin is violated, 0 where it holds.
  template <class T>
  NS_HOST_DEVICE static void gradient(const Params& p, const Example<T>& e, double scale, T* grad) {
    for (int i = 0; i < e.outputs; ++i) {
      const double y = sign(e, i);
      grad[i] = static_cast<T>(p.margin - y * e.out(i) > 0.0 ? -y * scale : 0.0);
    }
  }

  template <class T>
  NS_HOST_DEVICE static double loss(const Params& p, const Example<T>& e) {
    double total = 0.0;
    for (int i = 0; i < e.outputs; ++i) {
      const double violation = p.margin - sign(e, i) * e.out(i);
      total += violation > 0.0 ? violation : 0.0;
    }
    return total;
  }
};

}  // namespace normscale::testing
