// One example as the per-example objective rules see it, on CPU and GPU ranks alike: its outputs, its
// class label or regression targets, and its multipliers.
#pragma once

#include "normscale/core/host_device.hpp"

namespace normscale {

template <class T>
struct Example {
  const T* f = nullptr;           // the network's outputs for this example (`outputs` entries)
  int outputs = 0;
  int label = -1;                 // class label (classification)
  const float* target = nullptr;  // regression targets (`outputs` entries); null for classification
  double* alpha = nullptr;        // its multipliers, then the rule's update state (state_count); null: stateless
  // An estimate of ||d f / d W||^2 for a curvature-normalized multiplier step (Minnorm's objective.curvature_step):
  // the squared norm of the last layer's input plus 1 (its bias); 1 where the step does not ask for it.
  double curvature = 1.0;

  NS_HOST_DEVICE bool classification() const { return target == nullptr; }
  NS_HOST_DEVICE double out(int i) const { return static_cast<double>(f[i]); }
};

// The class a classifier's outputs predict: the first maximum (a NaN output is never the maximum; NaN outputs
// alone predict class 0), or the sign of a single output. The error counts of CPU and GPU ranks.
template <class T>
NS_HOST_DEVICE int predicted_class(const T* f, int outputs) {
  if (outputs == 1) return f[0] > T(0) ? 1 : 0;
  int predicted = 0;
  for (int c = 1; c < outputs; ++c) {
    if (f[c] > f[predicted] || (f[predicted] != f[predicted] && f[c] == f[c])) predicted = c;
  }
  return predicted;
}

// The dual picture of a rule with multipliers, summed over examples: the augmented Lagrangian's data terms
// at the current multipliers, and for inequality constraints how many are violated (residual > 0) and the
// complementary slackness sum alpha max(0, -residual) (zero at a KKT point).
struct DualTerms {
  double lagrangian = 0.0;
  double violated = 0.0;
  double slackness = 0.0;
};

// Multipliers one example has under a rule (its multiplier_count); 0 for a stateless rule.
template <class Rule>
int multiplier_count_of(const typename Rule::Params& p, int outputs) {
  if constexpr (Rule::kMultipliers) {
    return Rule::multiplier_count(p, outputs);
  } else {
    return 0;
  }
}

// Values one example keeps under a rule: its multipliers and their update's state (state_count); 0 for a
// stateless rule.
template <class Rule>
int state_count_of(const typename Rule::Params& p, int outputs) {
  if constexpr (Rule::kMultipliers) {
    return Rule::state_count(p, outputs);
  } else {
    return 0;
  }
}

}  // namespace normscale
