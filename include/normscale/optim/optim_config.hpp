// The optimizer settings of a run: learning rate and its schedule, momentum, weight decay, batch size.
#pragma once

#include <cstdint>

namespace normscale {

struct OptimConfig {
  double lr = 1e-3;
  double momentum = 0.0;
  double weight_decay = 0.0;        // lambda_0 (sgd / square); minnorm's norm term is fixed at 1
  double decay_power = 0.0;         // NMGD: lambda_t = lambda_0 / (1 + t)^a; 0 = constant
  double warmup_epochs = 0.0;       // lr rises linearly from lr/W to lr over the first W steps (W from epochs)
  // "none", or Theory III's normalized weight matrices W_k = rho_k V_k, ||V_k|| = 1 (normalized_weights.hpp):
  // "lagrange" (Lagrange-multiplier normalization, §6.1) or "tangent" (weight normalization's tangent form, §21).
  std::string normalization = "none";
  std::int64_t batch = 128;         // global minibatch Q, or kFullBatch ("full" in files)
};

// Value of OptimConfig::batch for full-batch training (Q = P); written as "full" in TOML / --set.
inline constexpr std::int64_t kFullBatch = -1;

}  // namespace normscale
