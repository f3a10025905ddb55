// Minnorm's multipliers at each evaluation (a training callback): the augmented Lagrangian, the support
// vectors and multiplier statistics, and the dual diagnostics of issue #13 — the fraction of constraints
// violated, the complementary slackness sum alpha max(0, y f - 1), a histogram of the multipliers and the
// support-vector churn (examples that entered or left the support set since the previous evaluation).
#pragma once

#include "normscale/train/training_callback.hpp"

#include <optional>
#include <vector>

namespace normscale {

template <class T>
class MultiplierReadings final : public TrainingCallback<T> {
 public:
  void begin(TrainingContext<T>& context) override;
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;

 private:
  std::optional<std::vector<bool>> previous_support_;  // this rank's examples at the previous evaluation
};

}  // namespace normscale
