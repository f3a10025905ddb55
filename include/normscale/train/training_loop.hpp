// The training loop: steps the engine to the end of the run, evaluates on the schedule's cadence and
// calls the registered callbacks' hooks in the order they were added.
#pragma once

#include "normscale/train/training_callback.hpp"
#include "normscale/train/training_schedule.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace normscale {

template <class T>
class TrainingLoop {
 public:
  // Runs until context.engine.steps_done() reaches context.total_steps (or a hook sets
  // context.stop_requested), evaluating after the steps `evaluation` says.
  TrainingLoop(TrainingContext<T>& context, Cadence evaluation) : context_(context), evaluation_(evaluation) {}

  // Hooks are called in the order of add(); the loop keeps a reference, the caller the callback.
  void add(TrainingCallback<T>& callback) { callbacks_.push_back(&callback); }

  // Collective: every callback's check, its errors agreed on by the ranks (said once). Before run(), and before
  // the run directory is prepared.
  void check() const;

  // Collective. begin; a fresh run's evaluation at its first step; then each step: step_taken, the
  // evaluation when due (evaluate, evaluated), step_end; finally end. Returns the last evaluation's
  // record (empty when none happened). An exception from a hook ends the loop (end is not called).
  nlohmann::json run();

 private:
  nlohmann::json evaluate();

  TrainingContext<T>& context_;
  Cadence evaluation_;
  std::vector<TrainingCallback<T>*> callbacks_;
};

}  // namespace normscale
