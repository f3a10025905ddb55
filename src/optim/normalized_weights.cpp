// The scalars of one normalized step (see the header for the rules).
#include "normscale/optim/normalized_weights.hpp"

#include "normscale/core/error.hpp"

#include <cmath>

namespace normscale {

WeightNormalization weight_normalization_named(const std::string& name) {
  if (name == "none") return WeightNormalization::kNone;
  if (name == "lagrange") return WeightNormalization::kLagrange;
  NS_CHECK(name == "tangent", "optim.normalization = \"{}\" is not valid; expected one of: none, lagrange, tangent",
           name);
  return WeightNormalization::kTangent;
}

ScaleAdd normalized_weight_step(const BlockDots& dots, double lr, WeightNormalization form) {
  if (!(dots.ww > 0.0)) return {1.0, -lr};
  const double rho = std::sqrt(dots.ww);
  const double rho_next = rho - lr * dots.wg / rho;  // rho_k - eta <G, V>
  // V's gradient g = s G: s = rho (lagrange) or 1 / rho (tangent).
  const double s = form == WeightNormalization::kLagrange ? rho : 1.0 / rho;
  // ||g_perp||^2 = s^2 (<G, G> - <G, V>^2) = s^2 (<W, W><G, G> - <W, G>^2) / <W, W> (>= 0 but for rounding).
  const double perp2 = s * s * std::max(0.0, dots.ww * dots.gg - dots.wg * dots.wg) / dots.ww;
  const double discriminant = 1.0 - lr * lr * perp2;
  // V(new) = c V - eta g_perp = ((c + eta s <W, G> / rho) / rho) W - eta s G, divided by n in the fallback.
  double c = 1.0, n = 1.0;
  if (discriminant > 0.0) {
    c = std::sqrt(discriminant);
  } else {
    n = std::sqrt(1.0 + lr * lr * perp2);
  }
  return {rho_next * (c + lr * s * dots.wg / rho) / (rho * n), -lr * rho_next * s / n};
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
             "optim.normalization: layer {} ({}) computes its weight matrix instead of storing it; hint: set "
             "model.weight_norm = false",
             l + 1, network.layer(l).kind());
    blocks.push_back({static_cast<Index>(w->data() - begin), static_cast<Index>(w->size())});
  }
  return blocks;
}

template std::vector<ParameterBlock> weight_blocks(const Network<float>&);
template std::vector<ParameterBlock> weight_blocks(const Network<double>&);

}  // namespace normscale
