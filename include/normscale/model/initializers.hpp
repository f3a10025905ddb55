// Initial weights of a layer's weight matrix: He, Glorot, normal(sigma), sigma/sqrt(fan_in), or scaled to a
// given Frobenius norm (the square-loss papers' 0.1 / 1 / 5), or zeros (linear models: gradient descent from
// zero reaches the minimum-norm solution).
#pragma once

#include "normscale/core/rng.hpp"
#include "normscale/core/types.hpp"
#include "normscale/model/layer.hpp"

namespace normscale {

template <class T>
void draw_initial_weights(MatrixMap<T> w, Index fan_in, Index fan_out, const InitSpec& spec, RandomStream& rng);

}  // namespace normscale
