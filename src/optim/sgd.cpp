// The whole optimizer is one loop over the flat buffers (split over the GEMMs' threads).
#include "normscale/optim/sgd.hpp"

#include "normscale/model/team_parallel.hpp"

namespace normscale {

template <class T>
void Sgd<T>::step(std::vector<T>& params, const std::vector<T>& grad, double l2) {
  const T lr = static_cast<T>(lr_);
  const T c = static_cast<T>(l2);
  const std::size_t n = params.size();
  T* w = params.data();
  const T* g = grad.data();
  // Split over the GEMMs' threads (each element updated on its own, so the split changes no result).
  if (momentum_ == 0.0) {
    for_each_range(static_cast<Index>(n), kElementsPerThread, [w, g, lr, c](Index begin, Index end) {
      T* __restrict weights = w;
      const T* __restrict grads = g;
      for (Index i = begin; i < end; ++i) weights[i] -= lr * (grads[i] + c * weights[i]);
    });
    return;
  }
  if (velocity_.size() != n) velocity_.assign(n, T(0));
  const T m = static_cast<T>(momentum_);
  T* v = velocity_.data();
  for_each_range(static_cast<Index>(n), kElementsPerThread, [w, g, v, lr, c, m](Index begin, Index end) {
    T* __restrict weights = w;
    T* __restrict velocity = v;
    const T* __restrict grads = g;
    for (Index i = begin; i < end; ++i) {
      velocity[i] = m * velocity[i] + grads[i] + c * weights[i];
      weights[i] -= lr * velocity[i];
    }
  });
}

template class Sgd<float>;
template class Sgd<double>;

}  // namespace normscale
