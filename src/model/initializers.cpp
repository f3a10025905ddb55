// The initialisers shared by dense, weight-normalised and convolution layers.
#include "normscale/model/initializers.hpp"

#include "normscale/core/error.hpp"

#include <cmath>

namespace normscale {

template <class T>
void draw_initial_weights(MatrixMap<T> w, Index fan_in, Index fan_out, const InitSpec& spec, RandomStream& rng) {
  double sigma = 0.0;
  if (spec.method == "zeros") {
    w.setZero();
    return;
  }
  if (spec.method == "he" || spec.method == "frobenius") {
    sigma = std::sqrt(2.0 / static_cast<double>(fan_in));
  } else if (spec.method == "glorot") {
    sigma = std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  } else if (spec.method == "normal") {
    sigma = spec.scale;
  } else if (spec.method == "scaled-normal") {
    sigma = spec.scale / std::sqrt(static_cast<double>(fan_in));
  } else {
    NS_FAIL("model.init: unknown initialiser '{}'; expected he, glorot, normal, scaled-normal, frobenius or zeros",
            spec.method);
  }
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(sigma * rng.normal());
  if (spec.method == "frobenius") {
    const double norm = static_cast<double>(w.norm());
    if (norm > 0) w *= static_cast<T>(spec.scale / norm);
  }
}

template void draw_initial_weights<float>(MatrixMap<float>, Index, Index, const InitSpec&, RandomStream&);
template void draw_initial_weights<double>(MatrixMap<double>, Index, Index, const InitSpec&, RandomStream&);

}  // namespace normscale
