// Central-difference gradient checking shared by the gradient tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <span>

namespace normscale::testing {

// Largest |numeric - analytic| / max(1, |numeric|) over the entries of `values`, where `numeric` is the
// central difference (f(v + h) - f(v - h)) / 2h of `f` in that entry; `values` is restored afterwards.
inline double worst_gradient_error(std::span<double> values, std::span<const double> analytic,
                                   const std::function<double()>& f, double h = 1e-6) {
  double worst = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double saved = values[i];
    values[i] = saved + h;
    const double plus = f();
    values[i] = saved - h;
    const double minus = f();
    values[i] = saved;
    const double numeric = (plus - minus) / (2 * h);
    worst = std::max(worst, std::abs(numeric - analytic[i]) / std::max(1.0, std::abs(numeric)));
  }
  return worst;
}

}  // namespace normscale::testing
