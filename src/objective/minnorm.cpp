// Minnorm's output gradient, Lagrangian data terms and projected multiplier update (ALGORITHMS §1).
#include "normscale/objective/minnorm.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>

namespace normscale {

template <class T>
Minnorm<T>::Minnorm(MinnormParams params, const Dataset& train, Index outputs)
    : params_(params), alpha_(train.first_id, train.rows, outputs) {
  NS_CHECK(params.rho >= 0 && params.s >= 0, "objective.rho and objective.s must be >= 0 (got {} and {})",
           params.rho, params.s);
  if (params.task == MinnormTask::kRegression) {
    NS_CHECK(!train.targets.empty() && train.target_cols == outputs,
             "objective.task = regression needs {} regression targets per example; the data set '{}' has {}",
             outputs, train.name, train.target_cols);
  } else {
    NS_CHECK(train.is_classification(), "objective.task = {} needs class labels; the data set '{}' has none",
             params.task == MinnormTask::kBinary ? "binary" : "multiclass", train.name);
    if (params.task == MinnormTask::kBinary) {
      NS_CHECK(outputs == 1 && train.num_classes <= 2,
               "objective.task = binary needs one output and two classes (got {} outputs, {} classes)", outputs,
               train.num_classes);
    } else {
      NS_CHECK(outputs == train.num_classes,
               "objective.task = multiclass needs one output per class ({} outputs, {} classes)", outputs,
               train.num_classes);
    }
  }
}

template <class T>
std::string Minnorm<T>::name() const {
  switch (params_.task) {
    case MinnormTask::kRegression: return "minnorm-regression";
    case MinnormTask::kBinary: return "minnorm-binary";
    default: return "minnorm-multiclass";
  }
}

template <class T>
double Minnorm<T>::label_sign(const Dataset& data, Index r, Index i) const {
  if (params_.task == MinnormTask::kRegression) {
    return data.targets[static_cast<std::size_t>(r * data.target_cols + i)];
  }
  const Index label = data.labels[static_cast<std::size_t>(r)];
  const bool positive = params_.task == MinnormTask::kBinary ? label == 1 : label == i;
  return positive ? 1.0 : -1.0;
}

template <class T>
void Minnorm<T>::output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f, T scale,
                                 Matrix<T>& grad) const {
  const Index n = static_cast<Index>(rows.size());
  const bool regression = params_.task == MinnormTask::kRegression;
  grad.resize(n, f.cols());
  for (Index k = 0; k < n; ++k) {
    const Index r = rows[static_cast<std::size_t>(k)];
    const double* a = alpha_.row(data.first_id + r);
    for (Index i = 0; i < f.cols(); ++i) {
      const double y = label_sign(data, r, i);
      const double fi = static_cast<double>(f(k, i));
      double g;
      if (regression) {
        g = -(a[i] + params_.rho * (y - fi));
      } else {
        // The augmented term covers active constraints only, so inactive examples get zero gradient.
        g = -y * (a[i] + (a[i] > 0.0 ? params_.rho * (1.0 - y * fi) : 0.0));
      }
      grad(k, i) = static_cast<T>(g * static_cast<double>(scale));
    }
  }
}

template <class T>
double Minnorm<T>::loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const {
  // Reporting loss: squared residual (regression) or total hinge violation sum_i max(0, 1 - y_i f_i).
  double total = 0.0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    for (Index i = 0; i < f.cols(); ++i) {
      const double y = label_sign(data, rows[k], i);
      const double fi = static_cast<double>(f(static_cast<Index>(k), i));
      total += params_.task == MinnormTask::kRegression ? (y - fi) * (y - fi) : std::max(0.0, 1.0 - y * fi);
    }
  }
  return total;
}

template <class T>
void Minnorm<T>::update_multipliers(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f) {
  const bool regression = params_.task == MinnormTask::kRegression;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Index r = rows[k];
    double* a = alpha_.row(train.first_id + r);
    for (Index i = 0; i < f.cols(); ++i) {
      const double y = label_sign(train, r, i);
      const double fi = static_cast<double>(f(static_cast<Index>(k), i));
      a[i] = regression ? a[i] + params_.s * (y - fi) : std::max(0.0, a[i] + params_.s * (1.0 - y * fi));
    }
  }
}

template <class T>
double Minnorm<T>::lagrangian_data_sum(const Dataset& train, std::span<const Index> rows,
                                       const Matrix<T>& f) const {
  const bool regression = params_.task == MinnormTask::kRegression;
  double total = 0.0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Index r = rows[k];
    const double* a = alpha_.row(train.first_id + r);
    for (Index i = 0; i < f.cols(); ++i) {
      const double y = label_sign(train, r, i);
      const double fi = static_cast<double>(f(static_cast<Index>(k), i));
      const double c = regression ? y - fi : 1.0 - y * fi;
      const bool active = regression || a[i] > 0.0;
      total += a[i] * c + (active ? 0.5 * params_.rho * c * c : 0.0);
    }
  }
  return total;
}

template <class T>
bool Minnorm<T>::gradient_is_zero(Index global_id) const {
  return params_.task != MinnormTask::kRegression && !alpha_.is_support(global_id);
}

template class Minnorm<float>;
template class Minnorm<double>;

}  // namespace normscale
