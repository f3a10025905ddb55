// The divergence guard: a step whose mean loss is not finite or exceeds config.divergence_limit, or an evaluation
// whose losses or multiplier figures are not finite, stops the run with an error naming the step, the layer to
// blame and the last good evaluation, after a "diverged" event in metrics.jsonl.
#pragma once

#include "normscale/train/evaluation_log.hpp"
#include "normscale/train/training_callback.hpp"

#include <optional>
#include <string>

namespace normscale {

// True when the step's mean loss is not finite or |loss| > limit. Reads only the loss and example
// count that the engine reduced over all ranks, so every rank decides alike at the same step.
bool step_diverged(const StepStats& stats, double limit);

template <class T>
class DivergenceGuard final : public TrainingCallback<T> {
 public:
  // The event goes to `log` (rank 0's metrics.jsonl).
  explicit DivergenceGuard(EvaluationLog<T>& log) : log_(log) {}

  // Throws normscale::Error on every rank when step_diverged.
  void step_taken(TrainingContext<T>& context, const StepReport& report) override;
  // ... and when the evaluation's losses or multiplier figures so far are not finite (before the record is written).
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;
  void evaluated(TrainingContext<T>& context, const nlohmann::json& record) override;

 private:
  // The "diverged" event, then AgreedError naming the step, `what`, the layer to blame and the last good evaluation.
  [[noreturn]] void stop(TrainingContext<T>& context, const std::string& what, double loss);
  struct LastGood {
    Index step;
    std::string figures;  // e.g. "train error 1.20%, validation error 2.00%"
  };

  EvaluationLog<T>& log_;
  std::optional<LastGood> last_good_;
};

}  // namespace normscale
