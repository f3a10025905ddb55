// Norms of the weight matrices (ALGORITHMS.md §3): Frobenius and spectral norm per layer, stable rank,
// the weight norm, rho and the capacity bound of the paper's Fig. 6.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/model/network.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

struct LayerNorms {
  std::string name;
  double frobenius = 0.0;    // ||W||_F
  double spectral = 0.0;     // ||W||_2, by power iteration
  double stable_rank = 0.0;  // ||W||_F^2 / ||W||_2^2 (0 for a zero matrix)
  int iterations = 0;        // power iterations this evaluation took
  bool converged = false;    // false when the iteration limit was reached first
};

struct WeightMetrics {
  std::vector<LayerNorms> layers;
  double weight_norm = 0.0;     // sum_l ||W_l||_F^2
  double rho = 0.0;             // prod_l ||W_l||_F
  double capacity_bound = 0.0;  // sqrt(prod_l ||W_l||_2^2 * sum_l ||W_l||_F^2 / ||W_l||_2^2)
};

// Spectral norms by power iteration on W^T W, keeping one right-singular-vector estimate per layer
// between calls: weights change little between evaluations, so later calls start next to the answer
// and converge in a few iterations. All arithmetic is in double, whatever the weights' type.
class SpectralNormTracker {
 public:
  // Stops when the relative change of the estimate falls below `tolerance`, or after
  // `max_iterations`. `seed` fixes the random start vectors (reproducible metrics).
  explicit SpectralNormTracker(double tolerance = 1e-7, int max_iterations = 1000,
                               std::uint64_t seed = 0);

  // Norms of every matrix in order; vector l is reused for weights[l] while its shape is unchanged.
  template <class T>
  WeightMetrics evaluate(const std::vector<NamedWeight<T>>& weights);

  // Forgets the persistent vectors (next evaluation starts from random vectors).
  void reset() { right_vectors_.clear(); }

 private:
  struct Estimate {
    double sigma = 0.0;
    int iterations = 0;
    bool converged = false;
  };
  Estimate power_iteration(const Matrix<double>& w, std::size_t layer);
  Vector<double> random_unit_vector(Index size, std::size_t layer, int attempt) const;

  double tolerance_;
  int max_iterations_;
  std::uint64_t seed_;
  std::vector<Vector<double>> right_vectors_;  // one per layer; size = the layer's inputs
};

// One-shot metrics with a fresh tracker (tests, final summaries).
template <class T>
WeightMetrics compute_weight_metrics(const std::vector<NamedWeight<T>>& weights);

}  // namespace normscale
