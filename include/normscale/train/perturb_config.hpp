// Perturb-and-retrain (Theory III Fig. 6-8): Gaussian noise added to every layer's parameters on a
// fixed schedule of epochs, after which training goes on as before.
#pragma once

#include <cstdint>

namespace normscale {

struct PerturbConfig {
  std::int64_t every = 0;  // epochs between perturbations; 0 = never perturb
  // Epoch of the first perturbation; 0: the paper's rule, the first multiple of `every` at or after the first
  // evaluation that found zero training error (regression, which has no error: from the start).
  std::int64_t start = 0;
  std::int64_t until = 0;  // no perturbation after this epoch (0: until the run ends); the paper stops halfway
  double scale = 0.25;     // noise sd as a fraction of the sd of the layer's parameters (the paper's 1/4)
  double sd = 0;           // > 0: this absolute noise sd for every layer instead (the paper's Fig. 6-7)

  bool enabled() const { return every > 0; }
};

}  // namespace normscale
