// The whole optimizer is one loop over the flat buffers (split over the GEMMs' threads).
#include "normscale/optim/sgd.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/bf16_rounding.hpp"
#include "normscale/model/team_parallel.hpp"

#include <type_traits>

namespace normscale {

namespace {

// w_i -= lr (g_i + c w_i), or with momentum v_i = m v_i + g_i + c w_i, w_i -= lr v_i, over [begin, end); with kRound
// also r_i = bf16_bits(w_i), in the same pass (the weights are in registers: no second stream over them).
template <bool kMomentum, bool kRound, class T>
void update_range(Index begin, Index end, T* __restrict w, const T* __restrict g, T* __restrict v,
                  std::uint16_t* __restrict r, T lr, T c, T m) {
  for (Index i = begin; i < end; ++i) {
    if constexpr (kMomentum) {
      v[i] = m * v[i] + g[i] + c * w[i];
      w[i] -= lr * v[i];
    } else {
      w[i] -= lr * (g[i] + c * w[i]);
    }
    if constexpr (kRound) r[i] = bf16_bits(w[i]);
  }
}

template <bool kRound, class T>
void update_range(Index begin, Index end, T* w, const T* g, T* v, std::uint16_t* r, T lr, T c, T m) {
  if (v != nullptr) return update_range<true, kRound>(begin, end, w, g, v, r, lr, c, m);
  update_range<false, kRound>(begin, end, w, g, v, r, lr, c, m);
}

}  // namespace

template <class T>
void Sgd<T>::step(std::vector<T>& params, const std::vector<T>& grad, double l2, std::span<std::uint16_t> rounded) {
  const T lr = static_cast<T>(lr_);
  const T c = static_cast<T>(l2);
  const T m = static_cast<T>(momentum_);
  const std::size_t n = params.size();
  NS_CHECK(rounded.empty() || (std::is_same_v<T, float> && rounded.size() == n),
           "the parameters' bf16 rounding has {} entries for {} parameters", rounded.size(), n);
  if (momentum_ != 0.0 && velocity_.size() != n) velocity_.assign(n, T(0));
  T* w = params.data();
  const T* g = grad.data();
  T* v = momentum_ != 0.0 ? velocity_.data() : nullptr;
  std::uint16_t* r = rounded.data();
  // Split over the GEMMs' threads (each element updated on its own, so the split changes no result).
  for_each_range(static_cast<Index>(n), kElementsPerThread, [w, g, v, r, lr, c, m](Index begin, Index end) {
    if constexpr (std::is_same_v<T, float>) {
      if (r != nullptr) return update_range<true>(begin, end, w, g, v, r, lr, c, m);
    }
    update_range<false>(begin, end, w, g, v, r, lr, c, m);
  });
}

template class Sgd<float>;
template class Sgd<double>;

}  // namespace normscale
