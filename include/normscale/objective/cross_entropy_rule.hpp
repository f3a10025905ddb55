// Softmax cross-entropy (several outputs) or the logistic loss (one output, class 1 positive), per
// example, computed stably (max-shifted, log1p) in double; built for CPU and GPU ranks.
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <cmath>
#include <string>

namespace normscale {

struct CrossEntropyRule {
  struct Params {};
  static constexpr bool kMultipliers = false;
  static std::string name(const Params&) { return "cross-entropy"; }
  static ObjectiveTraits traits(const Params&) { return {}; }

  // log(1 + exp(z)) without overflow.
  NS_HOST_DEVICE static double softplus(double z) { return z > 0 ? z + ::log1p(::exp(-z)) : ::log1p(::exp(z)); }

  template <class T>
  NS_HOST_DEVICE static double largest(const Example<T>& e) {
    double shift = e.out(0);
    for (int c = 1; c < e.outputs; ++c) shift = e.out(c) > shift ? e.out(c) : shift;
    return shift;
  }

  template <class T>
  NS_HOST_DEVICE static void gradient(const Params&, const Example<T>& e, double scale, T* grad) {
    if (e.outputs == 1) {
      const double p = 1.0 / (1.0 + ::exp(-e.out(0)));
      grad[0] = static_cast<T>(scale * (p - (e.label == 1 ? 1.0 : 0.0)));
      return;
    }
    const double shift = largest(e);
    double sum = 0.0;
    for (int c = 0; c < e.outputs; ++c) sum += ::exp(e.out(c) - shift);
    const double factor = scale / sum;
    for (int c = 0; c < e.outputs; ++c) grad[c] = static_cast<T>(::exp(e.out(c) - shift) * factor);
    grad[e.label] = static_cast<T>(static_cast<double>(grad[e.label]) - scale);
  }

  template <class T>
  NS_HOST_DEVICE static double loss(const Params&, const Example<T>& e) {
    if (e.outputs == 1) return softplus(e.label == 1 ? -e.out(0) : e.out(0));
    const double shift = largest(e);
    double sum = 0.0;
    for (int c = 0; c < e.outputs; ++c) sum += ::exp(e.out(c) - shift);
    return ::log(sum) + shift - e.out(e.label);
  }
};

}  // namespace normscale
