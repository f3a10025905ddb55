// The scalars of one Lagrange-normalized step (see the header for the rule).
#include "normscale/optim/lagrange_normalization.hpp"

#include "normscale/core/error.hpp"

#include <cmath>

namespace normscale {

ScaleAdd lagrange_normalized_step(const BlockDots& dots, double lr) {
  if (!(dots.ww > 0.0)) return {1.0, -lr};
  const double rho = std::sqrt(dots.ww);
  const double rho_next = rho - lr * dots.wg / rho;  // rho_k - eta <G, V>
  // ||g_perp||^2 = rho^2 (<G, G> - <G, V>^2) = <W, W><G, G> - <W, G>^2 (>= 0 but for rounding).
  const double perp2 = std::max(0.0, dots.ww * dots.gg - dots.wg * dots.wg);
  const double discriminant = 1.0 - lr * lr * perp2;
  // V(new) = c V - eta g_perp = ((c + eta <W, G>) / rho) W - eta rho G, divided by n in the fallback.
  double c = 0.0, n = 1.0;
  if (discriminant > 0.0) {
    c = std::sqrt(discriminant);
  } else {
    c = 1.0;
    n = std::sqrt(1.0 + lr * lr * perp2);
  }
  return {rho_next * (c + lr * dots.wg) / (rho * n), -lr * rho_next * rho / n};
}

template <class T>
std::vector<ParameterBlock> weight_blocks(const Network<T>& network) {
  std::vector<ParameterBlock> blocks;
  const T* begin = network.parameters().data();
  const T* end = begin + network.parameters().size();
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const auto w = network.layer(l).weight();
    if (!w) continue;
    NS_CHECK(w->data() >= begin && w->data() + w->size() <= end,
             "optim.normalization = \"lagrange\": layer {} ({}) computes its weight matrix instead of storing it; "
             "hint: set model.weight_norm = false",
             l + 1, network.layer(l).kind());
    blocks.push_back({static_cast<Index>(w->data() - begin), static_cast<Index>(w->size())});
  }
  return blocks;
}

template std::vector<ParameterBlock> weight_blocks(const Network<float>&);
template std::vector<ParameterBlock> weight_blocks(const Network<double>&);

}  // namespace normscale
