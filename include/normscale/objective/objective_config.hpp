// The objective settings of a run: which objective (a name in the objective registry) and its constants.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace normscale {

struct ObjectiveConfig {
  std::string regime = "minnorm";   // "sgd" (cross-entropy), "square", "minnorm"
  // minnorm
  std::string task = "multiclass";  // "multiclass", "binary", "regression"
  double rho = 0.0;
  double s = 2e-4;
  std::string alpha_update = "exact";  // "exact" or "lagged"
  std::string estimator = "published"; // "published" (sum over S) or "unbiased" ((P/Q) sum over S)
  double C = std::numeric_limits<double>::infinity();  // slack: multipliers in [0, C]; inf = hard margin
  std::string multipliers = "per-output";  // "per-output" (one-vs-all) or "single" (f_y - max_j f_j >= 1)
  std::string dual = "ascent";  // multiplier update: "ascent", "pi" (proportional-integral), "extragradient",
                                // "coordinate" (linear models: exact dual coordinate ascent)
  double kappa_p = 0.0;         // PI's proportional gain
  double rho_growth = 1.0;      // adaptive penalty: rho of a constraint violated k updates running x growth^k
  double rho_tolerance = 0.0;   // ... violated: residual above this
  double rho_max = std::numeric_limits<double>::infinity();  // ... and at most this
  double average_from_epoch = std::numeric_limits<double>::infinity();  // multipliers averaged after it; inf: off
  bool curvature_step = false;  // each example's multiplier step divided by ||h_last||^2 + 1 (CPU ranks)
  std::int64_t local_steps = 0;  // coordinate: updates per block (virtual shard) per round; 0: a pass over it
  bool round_momentum = false;   // coordinate: Nesterov momentum across rounds, restarted (accelerated CoCoA+)
  double tolerance = 0.0;        // linear models: stop when the duality gap's relative size is below it; 0: off
  // square
  std::string square_targets = "one-hot";  // "one-hot" ({0,1}) or "pm1" ({-1,+1})
  double square_k = 1.0;            // weight on the true class (Hui & Belkin)
  double square_m = 1.0;            // target value of the true class
};

}  // namespace normscale
