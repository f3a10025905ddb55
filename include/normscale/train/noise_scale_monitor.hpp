// The gradient noise scale of the run: the engine's per-step samples (several ranks only) folded into the context's
// GradientNoiseScale, its estimate added to each evaluation's record as "noise_scale".
#pragma once

#include "normscale/metrics/noise_scale.hpp"
#include "normscale/train/training_callback.hpp"

namespace normscale {

template <class T>
class NoiseScaleMonitor final : public TrainingCallback<T> {
 public:
  void step_taken(TrainingContext<T>& context, const StepReport& report) override;
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;
};

}  // namespace normscale
