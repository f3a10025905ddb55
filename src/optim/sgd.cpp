// The whole optimizer is one loop over the flat buffers.
#include "normscale/optim/sgd.hpp"

namespace normscale {

template <class T>
void Sgd<T>::step(std::vector<T>& params, const std::vector<T>& grad, double l2) {
  const T lr = static_cast<T>(lr_);
  const T c = static_cast<T>(l2);
  const std::size_t n = params.size();
  if (momentum_ == 0.0) {
    for (std::size_t i = 0; i < n; ++i) params[i] -= lr * (grad[i] + c * params[i]);
    return;
  }
  if (velocity_.size() != n) velocity_.assign(n, T(0));
  const T m = static_cast<T>(momentum_);
  for (std::size_t i = 0; i < n; ++i) {
    velocity_[i] = m * velocity_[i] + grad[i] + c * params[i];
    params[i] -= lr * velocity_[i];
  }
}

template class Sgd<float>;
template class Sgd<double>;

}  // namespace normscale
