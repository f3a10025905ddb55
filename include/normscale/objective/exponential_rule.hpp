// The exponential loss of Theory III (Banburski, Liao, Miranda, Poggio et al.), per example: exp(-y f) for one
// output (class 1 positive) and one-vs-all sum_i exp(-y_i f_i) for several (y_i = +1 for the true class, -1
// otherwise); minibatch mean, with weight decay as the norm term. Built for CPU and GPU ranks.
//
// No overflow: a margin below -kMaxExponent (far outside any training run that is not already diverging)
// is taken as -kMaxExponent for the loss and its gradient, so both stay finite (exp(50) ~ 5e21, also in
// float) and keep pushing the margin up; above it the loss is exact.
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <cmath>
#include <string>

namespace normscale {

struct ExponentialRule {
  struct Params {};
  static constexpr bool kMultipliers = false;
  static constexpr double kMaxExponent = 50.0;
  static std::string name(const Params&) { return "exponential"; }
  static ObjectiveTraits traits(const Params&) { return {}; }  // minibatch mean, weight decay

  template <class T>
  NS_HOST_DEVICE static double sign(const Example<T>& e, int i) {
    const bool positive = e.outputs == 1 ? e.label == 1 : e.label == i;
    return positive ? 1.0 : -1.0;
  }
  // exp(-y f), its exponent capped at kMaxExponent.
  NS_HOST_DEVICE static double safe_exp(double exponent) {
    return ::exp(exponent < kMaxExponent ? exponent : kMaxExponent);
  }

  // d/df_i exp(-y_i f_i) = -y_i exp(-y_i f_i).
  template <class T>
  NS_HOST_DEVICE static void gradient(const Params&, const Example<T>& e, double scale, T* grad) {
    for (int i = 0; i < e.outputs; ++i) {
      const double y = sign(e, i);
      grad[i] = static_cast<T>(-y * safe_exp(-y * e.out(i)) * scale);
    }
  }

  template <class T>
  NS_HOST_DEVICE static double loss(const Params&, const Example<T>& e) {
    double total = 0.0;
    for (int i = 0; i < e.outputs; ++i) total += safe_exp(-sign(e, i) * e.out(i));
    return total;
  }
};

}  // namespace normscale
