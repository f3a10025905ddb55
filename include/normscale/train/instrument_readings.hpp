// The square-loss papers' instruments (margins, output magnitudes, neural collapse) on the training
// set, added to each evaluation's record (config.instruments).
#pragma once

#include "normscale/train/training_callback.hpp"

namespace normscale {

template <class T>
class InstrumentReadings final : public TrainingCallback<T> {
 public:
  // Collective. Reads "rho" from the record: register it after the EvaluationLog, which puts it there.
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;
};

}  // namespace normscale
