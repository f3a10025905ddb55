// Softmax cross-entropy and the one-output logistic loss, computed stably (max-shifted, log1p).
#include "normscale/objective/cross_entropy.hpp"

#include <cmath>

namespace normscale {

namespace {

// log(1 + exp(z)) without overflow.
double softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

}  // namespace

template <class T>
void CrossEntropy<T>::output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f,
                                      T scale, Matrix<T>& grad) const {
  const Index n = static_cast<Index>(rows.size());
  grad.resize(n, f.cols());
  for (Index k = 0; k < n; ++k) {
    const Index label = data.labels[static_cast<std::size_t>(rows[static_cast<std::size_t>(k)])];
    if (f.cols() == 1) {
      const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(f(k, 0))));
      grad(k, 0) = static_cast<T>(scale * (p - (label == 1 ? 1.0 : 0.0)));
      continue;
    }
    const T shift = f.row(k).maxCoeff();
    auto e = (f.row(k).array() - shift).exp();
    const T sum = e.sum();
    grad.row(k) = e * (scale / sum);
    grad(k, label) -= scale;
  }
}

template <class T>
double CrossEntropy<T>::loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const {
  double total = 0.0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Index label = data.labels[static_cast<std::size_t>(rows[k])];
    const Index i = static_cast<Index>(k);
    if (f.cols() == 1) {
      const double z = static_cast<double>(f(i, 0));
      total += softplus(label == 1 ? -z : z);
      continue;
    }
    const double shift = static_cast<double>(f.row(i).maxCoeff());
    double sum = 0.0;
    for (Index c = 0; c < f.cols(); ++c) sum += std::exp(static_cast<double>(f(i, c)) - shift);
    total += std::log(sum) + shift - static_cast<double>(f(i, label));
  }
  return total;
}

template class CrossEntropy<float>;
template class CrossEntropy<double>;

}  // namespace normscale
