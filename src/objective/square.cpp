// Square loss with class targets or regression targets.
#include "normscale/objective/square.hpp"

namespace normscale {

template <class T>
void Square<T>::target(const Dataset& data, Index r, Index i, Index outputs, double& t, double& w) const {
  w = 1.0;
  if (!data.is_classification()) {
    t = data.targets[static_cast<std::size_t>(r * data.target_cols + i)];
    return;
  }
  const Index label = data.labels[static_cast<std::size_t>(r)];
  const double negative = targets_.plus_minus_one ? -1.0 : 0.0;
  // One output encodes a binary task: class 1 is the positive class.
  const bool is_true = outputs == 1 ? label == 1 : label == i;
  if (is_true) {
    t = targets_.true_target;
    w = targets_.true_weight;
  } else {
    t = outputs == 1 ? (targets_.plus_minus_one ? -targets_.true_target : 0.0) : negative;
  }
}

template <class T>
void Square<T>::output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f, T scale,
                                Matrix<T>& grad) const {
  const Index n = static_cast<Index>(rows.size());
  grad.resize(n, f.cols());
  for (Index k = 0; k < n; ++k) {
    for (Index i = 0; i < f.cols(); ++i) {
      double t = 0, w = 0;
      target(data, rows[static_cast<std::size_t>(k)], i, f.cols(), t, w);
      grad(k, i) = static_cast<T>(2.0 * w * (static_cast<double>(f(k, i)) - t) * static_cast<double>(scale));
    }
  }
}

template <class T>
double Square<T>::loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const {
  double total = 0.0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    for (Index i = 0; i < f.cols(); ++i) {
      double t = 0, w = 0;
      target(data, rows[k], i, f.cols(), t, w);
      const double d = static_cast<double>(f(static_cast<Index>(k), i)) - t;
      total += w * d * d;
    }
  }
  return total;
}

template class Square<float>;
template class Square<double>;

}  // namespace normscale
