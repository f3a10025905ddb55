// What an objective decides about the training step (the objective contract, issue #11): how its data
// term is scaled, which norm term it carries, and whether and when its per-example state is updated.
// The step reads these and nothing else about the objective's kind. No Eigen here: the rules that
// include this header are compiled by nvcc too.
#pragma once

#include <cstdint>

namespace normscale {

// Scale of the summed per-example data term of a global minibatch of Q examples out of P.
enum class DataTerm {
  kMean,         // (1/Q) sum: the usual minibatch mean (cross-entropy, square loss)
  kSum,          // sum over the minibatch (Minnorm as published)
  kUnbiasedSum,  // (P/Q) sum: an unbiased estimate of the sum over all P examples
};

// The norm term added once after the reduction, as an L2 coefficient c in g + c W.
enum class NormTerm {
  kWeightDecay,      // c = lambda_t of optim.weight_decay and its NMGD schedule
  kHalfSquaredNorm,  // 1/2 sum ||W||^2 is part of the objective: c = 1
};

// When the objective's per-example multipliers are updated.
enum class MultiplierUpdate {
  kNone,    // no per-example state
  kExact,   // after the weight update, with the new outputs f(W^{t+1}) (in full batch: fused into the next forward)
  kLagged,  // with the step's own outputs f(W^t), right after its gradient
};

struct ObjectiveTraits {
  DataTerm data_term = DataTerm::kMean;
  NormTerm norm_term = NormTerm::kWeightDecay;
  MultiplierUpdate multiplier_update = MultiplierUpdate::kNone;
  // Some examples may have an exactly zero output gradient (gradient_is_zero), so the backward pass
  // may leave them out.
  bool sparse_gradient = false;
  // The multiplier update divides each example's step by its curvature (Example::curvature), which the step
  // passes to update_multipliers.
  bool curvature_step = false;
};

// The factor on the summed data gradient of a global minibatch of `batch` examples out of `total`.
inline double data_term_scale(DataTerm term, std::int64_t batch, std::int64_t total) {
  switch (term) {
    case DataTerm::kSum: return 1.0;
    case DataTerm::kUnbiasedSum: return static_cast<double>(total) / static_cast<double>(batch);
    case DataTerm::kMean: break;
  }
  return 1.0 / static_cast<double>(batch);
}

}  // namespace normscale
