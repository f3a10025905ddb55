// Neural collapse: summable class moments, class means, nearest-class-mean agreement and NC1-NC4.
#include "normscale/metrics/neural_collapse.hpp"

#include "normscale/core/error.hpp"

#include <Eigen/SVD>

#include <cmath>
#include <limits>

namespace normscale {

NeuralCollapseSums::NeuralCollapseSums(Index classes, Index dim) : classes_(classes), dim_(dim) {
  NS_CHECK(classes >= 1 && dim >= 1,
           "neural collapse sums need classes >= 1 and a feature dimension >= 1, got {} and {}",
           classes, dim);
  values_.assign(static_cast<std::size_t>(classes + classes * dim + dim * dim), 0.0);
}

double NeuralCollapseSums::total_count() const {
  double n = 0.0;
  for (Index c = 0; c < classes_; ++c) n += count(c);
  return n;
}

Eigen::Map<const Matrix<double>> NeuralCollapseSums::class_sums() const {
  return {values_.data() + classes_, classes_, dim_};
}

Eigen::Map<const Matrix<double>> NeuralCollapseSums::second_moment() const {
  return {values_.data() + classes_ + classes_ * dim_, dim_, dim_};
}

Eigen::Map<Matrix<double>> NeuralCollapseSums::class_sums_mut() {
  return {values_.data() + classes_, classes_, dim_};
}

Eigen::Map<Matrix<double>> NeuralCollapseSums::second_moment_mut() {
  return {values_.data() + classes_ + classes_ * dim_, dim_, dim_};
}

void NeuralCollapseSums::accumulate_rows(const Eigen::Ref<const Matrix<double>>& features,
                                         std::span<const std::int32_t> labels) {
  NS_CHECK(features.cols() == dim_,
           "neural collapse features have {} columns, expected the feature dimension {}; hint: pass "
           "the penultimate activations (input of the last layer)",
           features.cols(), dim_);
  NS_CHECK(static_cast<Index>(labels.size()) == features.rows(),
           "neural collapse got {} labels for {} feature rows", labels.size(), features.rows());
  NS_CHECK(features.allFinite(), "neural collapse features hold a non-finite value; hint: training diverged");
  auto sums = class_sums_mut();
  for (Index r = 0; r < features.rows(); ++r) {
    const std::int32_t c = labels[static_cast<std::size_t>(r)];
    NS_CHECK(c >= 0 && c < classes_, "label {} of row {} is outside [0, {})", c, r, classes_);
    values_[static_cast<std::size_t>(c)] += 1.0;
    sums.row(c) += features.row(r);
  }
  // S += H^T H: one rank-k update instead of per-row outer products.
  second_moment_mut().noalias() += features.transpose() * features;
}

void NeuralCollapseSums::add(const NeuralCollapseSums& other) {
  NS_CHECK(other.classes_ == classes_ && other.dim_ == dim_,
           "cannot add neural collapse sums of shape ({}, {}) to ({}, {})", other.classes_, other.dim_,
           classes_, dim_);
  for (std::size_t i = 0; i < values_.size(); ++i) values_[i] += other.values_[i];
}

ClassMeans class_means(const NeuralCollapseSums& sums, GlobalMean rule) {
  ClassMeans result;
  const Index classes = sums.classes();
  result.means = Matrix<double>::Zero(classes, sums.dim());
  result.present.assign(static_cast<std::size_t>(classes), false);
  result.global_mean = Vector<double>::Zero(sums.dim());
  const auto class_sums = sums.class_sums();
  Index present = 0;
  for (Index c = 0; c < classes; ++c) {
    const double n = sums.count(c);
    if (n <= 0.0) continue;
    result.present[static_cast<std::size_t>(c)] = true;
    ++present;
    result.means.row(c) = class_sums.row(c) / n;
  }
  NS_CHECK(present > 0, "neural collapse sums hold no examples; hint: allreduce the sums of all ranks");
  if (rule == GlobalMean::kExampleMean) {
    result.global_mean = class_sums.colwise().sum().transpose() / sums.total_count();
  } else {
    for (Index c = 0; c < classes; ++c) {
      if (result.present[static_cast<std::size_t>(c)]) result.global_mean += result.means.row(c).transpose();
    }
    result.global_mean /= static_cast<double>(present);
  }
  return result;
}

namespace {

// Index of the largest entry, ties to the lower index.
Index argmax_row(const Eigen::Ref<const Matrix<double>>& outputs, Index r) {
  Index best = 0;
  for (Index j = 1; j < outputs.cols(); ++j) {
    if (outputs(r, j) > outputs(r, best)) best = j;
  }
  return best;
}

}  // namespace

void NearestMeanAgreement::accumulate_rows(const Eigen::Ref<const Matrix<double>>& features,
                                           const Eigen::Ref<const Matrix<double>>& outputs,
                                           const ClassMeans& means) {
  const Index classes = means.means.rows();
  NS_CHECK(features.cols() == means.means.cols(),
           "nearest-class-mean features have {} columns, the class means {}", features.cols(),
           means.means.cols());
  NS_CHECK(outputs.rows() == features.rows(), "nearest-class-mean got {} output rows for {} feature rows",
           outputs.rows(), features.rows());
  NS_CHECK(outputs.cols() == classes || (outputs.cols() == 1 && classes == 2),
           "network outputs have {} columns; expected {} (one per class) or 1 for a binary network",
           outputs.cols(), classes);
  for (Index r = 0; r < features.rows(); ++r) {
    Index nearest = -1;
    double best = std::numeric_limits<double>::infinity();
    for (Index c = 0; c < classes; ++c) {
      if (!means.present[static_cast<std::size_t>(c)]) continue;
      const double distance = (features.row(r) - means.means.row(c)).squaredNorm();
      if (distance < best) {
        best = distance;
        nearest = c;
      }
    }
    const Index predicted = outputs.cols() == 1 ? (outputs(r, 0) > 0.0 ? 1 : 0) : argmax_row(outputs, r);
    if (predicted != nearest) values_[0] += 1.0;
    values_[1] += 1.0;
  }
}

NeuralCollapseMetrics finish_neural_collapse(const NeuralCollapseSums& sums,
                                             const Eigen::Ref<const Matrix<double>>& last_weight,
                                             const NearestMeanAgreement* agreement,
                                             const NeuralCollapseOptions& options) {
  const Index classes = sums.classes();
  const Index dim = sums.dim();
  NS_CHECK(last_weight.cols() == dim,
           "last-layer weight has {} columns, expected the feature dimension {}", last_weight.cols(), dim);
  NS_CHECK(last_weight.rows() == classes || (last_weight.rows() == 1 && classes == 2),
           "last-layer weight has {} rows; expected {} (one per class) or 1 for a binary network",
           last_weight.rows(), classes);
  NS_CHECK(options.pinv_tolerance >= 0.0, "pinv_tolerance must be >= 0, got {}", options.pinv_tolerance);

  const ClassMeans means = class_means(sums, options.global_mean);
  std::vector<Index> present;
  for (Index c = 0; c < classes; ++c) {
    if (means.present[static_cast<std::size_t>(c)]) present.push_back(c);
  }
  const Index k = static_cast<Index>(present.size());
  NS_CHECK(k >= 2, "neural collapse needs at least two classes with examples, got {}; hint: allreduce "
           "the sums of all ranks before finishing", k);

  NeuralCollapseMetrics metrics;
  metrics.classes = k;
  metrics.examples = sums.total_count();
  const double n_total = metrics.examples;

  // M = [mu_c - mu_G], d x C over the present classes.
  Matrix<double> centred(dim, k);
  for (Index i = 0; i < k; ++i) {
    centred.col(i) = means.means.row(present[static_cast<std::size_t>(i)]).transpose() - means.global_mean;
  }

  // Sigma_W = (1/N) [S - sum_c n_c mu_c mu_c^T].
  Matrix<double> sigma_w = sums.second_moment();
  for (Index c : present) {
    const Vector<double> mu = means.means.row(c).transpose();
    sigma_w.noalias() -= sums.count(c) * (mu * mu.transpose());
  }
  sigma_w /= n_total;
  metrics.within_trace = sigma_w.trace();
  metrics.between_trace = centred.squaredNorm() / static_cast<double>(k);

  // Sigma_B = (1/C) M M^T = U (S^2/C) U^T, so Sigma_B^+ = U (C/S^2) U^T on the kept directions and
  // Tr(Sigma_W Sigma_B^+)/C = sum_k u_k^T Sigma_W u_k / s_k^2.
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinU);
  const Vector<double> singular = svd.singularValues();
  const double cut = options.pinv_tolerance * (singular.size() > 0 ? singular[0] : 0.0);
  double nc1 = 0.0;
  bool between_spread = false;
  for (Index i = 0; i < singular.size(); ++i) {
    const double s = singular[i];
    if (s <= cut || s == 0.0) continue;
    const Vector<double> u = svd.matrixU().col(i);
    nc1 += u.dot(sigma_w * u) / (s * s);
    between_spread = true;
  }
  // Every class mean at the global mean (a network whose features all died): Sigma_B^+ = 0 would read as perfect
  // collapse; the ratio is undefined.
  metrics.nc1 = between_spread ? nc1 : std::numeric_limits<double>::quiet_NaN();

  // NC2.
  Vector<double> norms(k);
  for (Index i = 0; i < k; ++i) norms[i] = centred.col(i).norm();
  const double mean_norm = norms.mean();
  const double variance = (norms.array() - mean_norm).square().mean();
  metrics.nc2_equinorm = mean_norm > 0.0 ? std::sqrt(variance) / mean_norm
                                         : std::numeric_limits<double>::quiet_NaN();
  // A class mean at the global mean has no direction: its angles, and so their mean, are undefined (a cosine of 0
  // there gave 1/(C-1), a value a real network could have).
  double angle_sum = norms.minCoeff() > 0.0 ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  const double target = 1.0 / static_cast<double>(k - 1);
  for (Index i = 0; i < k; ++i) {
    for (Index j = 0; j < k; ++j) {
      if (i == j) continue;
      angle_sum += std::abs(centred.col(i).dot(centred.col(j)) / (norms[i] * norms[j]) + target);
    }
  }
  metrics.nc2_equiangularity = angle_sum / static_cast<double>(k * (k - 1));

  // NC3, on the rows of the present classes (a one-output binary weight w as [-w; w]).
  Matrix<double> w_t(dim, k);
  if (last_weight.rows() == 1) {
    const Vector<double> w = last_weight.row(0).transpose();
    for (Index i = 0; i < k; ++i) w_t.col(i) = present[static_cast<std::size_t>(i)] == 1 ? w : Vector<double>(-w);
  } else {
    for (Index i = 0; i < k; ++i) w_t.col(i) = last_weight.row(present[static_cast<std::size_t>(i)]).transpose();
  }
  const double w_norm = w_t.norm();
  const double m_norm = centred.norm();
  metrics.nc3 = (w_norm > 0.0 && m_norm > 0.0)
                    ? (w_t / w_norm - centred / m_norm).squaredNorm()
                    : std::numeric_limits<double>::quiet_NaN();

  metrics.nc4 = std::numeric_limits<double>::quiet_NaN();
  if (agreement != nullptr && agreement->examples() > 0.0) {
    metrics.nc4 = agreement->disagreements() / agreement->examples();
  }
  return metrics;
}

}  // namespace normscale
