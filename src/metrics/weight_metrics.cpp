// Weight-norm metrics and the persistent power iteration behind the spectral norms.
#include "normscale/metrics/weight_metrics.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <cmath>

namespace normscale {

SpectralNormTracker::SpectralNormTracker(double tolerance, int max_iterations, std::uint64_t seed)
    : tolerance_(tolerance), max_iterations_(max_iterations), seed_(seed) {
  NS_CHECK(tolerance > 0.0 && max_iterations > 0,
           "spectral norm tracker needs tolerance > 0 and max_iterations > 0, got {} and {}",
           tolerance, max_iterations);
}

Vector<double> SpectralNormTracker::random_unit_vector(Index size, std::size_t layer,
                                                       int attempt) const {
  // A random start is almost surely not orthogonal to the top singular vector (a constant vector
  // can be, e.g. for a rotated diagonal matrix).
  RandomStream stream(seed_, StreamPurpose::kMetrics, layer, static_cast<std::uint64_t>(attempt));
  Vector<double> v(size);
  for (Index i = 0; i < size; ++i) v[i] = stream.normal();
  return v / v.norm();
}

SpectralNormTracker::Estimate SpectralNormTracker::power_iteration(const Matrix<double>& w,
                                                                   std::size_t layer) {
  Estimate estimate;
  if (w.squaredNorm() == 0.0) {
    estimate.converged = true;
    return estimate;
  }
  Vector<double>& v = right_vectors_[layer];
  if (v.size() != w.cols() || !v.allFinite()) v = random_unit_vector(w.cols(), layer, 0);
  Vector<double> u(w.rows());
  for (int it = 1; it <= max_iterations_; ++it) {
    estimate.iterations = it;
    u.noalias() = w * v;
    const double u_norm = u.norm();
    if (u_norm == 0.0) {
      // v lies in the null space of a nonzero W; a fresh random vector almost surely does not.
      v = random_unit_vector(w.cols(), layer, it);
      continue;
    }
    u /= u_norm;
    v.noalias() = w.transpose() * u;
    // ||W^T u|| with ||u|| = 1 is a lower bound on ||W||_2 that rises to it as v converges.
    const double sigma = v.norm();
    v /= sigma;
    const double change = std::abs(sigma - estimate.sigma) / sigma;
    estimate.sigma = sigma;
    if (change < tolerance_) {
      estimate.converged = true;
      break;
    }
  }
  return estimate;
}

template <class T>
WeightMetrics SpectralNormTracker::evaluate(const std::vector<NamedWeight<T>>& weights) {
  NS_CHECK(!weights.empty(), "weight metrics need at least one weight matrix");
  if (right_vectors_.size() != weights.size()) right_vectors_.resize(weights.size());
  WeightMetrics metrics;
  metrics.rho = 1.0;
  double spectral_product = 1.0;  // prod_l ||W_l||_2^2
  double stable_rank_sum = 0.0;   // sum_l ||W_l||_F^2 / ||W_l||_2^2
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const Matrix<double> w = weights[l].matrix.template cast<double>();
    NS_CHECK(w.allFinite(), "weight matrix '{}' holds a non-finite value; hint: training diverged",
             weights[l].name);
    LayerNorms layer;
    layer.name = weights[l].name;
    const double frobenius_sq = w.squaredNorm();
    layer.frobenius = std::sqrt(frobenius_sq);
    const Estimate estimate = power_iteration(w, l);
    layer.spectral = estimate.sigma;
    layer.iterations = estimate.iterations;
    layer.converged = estimate.converged;
    layer.stable_rank = layer.spectral > 0.0 ? frobenius_sq / (layer.spectral * layer.spectral) : 0.0;
    metrics.weight_norm += frobenius_sq;
    metrics.rho *= layer.frobenius;
    spectral_product *= layer.spectral * layer.spectral;
    stable_rank_sum += layer.stable_rank;
    metrics.layers.push_back(std::move(layer));
  }
  metrics.capacity_bound = std::sqrt(spectral_product * stable_rank_sum);
  return metrics;
}

template <class T>
WeightMetrics compute_weight_metrics(const std::vector<NamedWeight<T>>& weights) {
  SpectralNormTracker tracker;
  return tracker.evaluate(weights);
}

template WeightMetrics SpectralNormTracker::evaluate(const std::vector<NamedWeight<float>>&);
template WeightMetrics SpectralNormTracker::evaluate(const std::vector<NamedWeight<double>>&);
template WeightMetrics compute_weight_metrics(const std::vector<NamedWeight<float>>&);
template WeightMetrics compute_weight_metrics(const std::vector<NamedWeight<double>>&);

}  // namespace normscale
