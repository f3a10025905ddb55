// The run's length and cadences from the configuration.
#include "normscale/train/training_schedule.hpp"

#include <algorithm>

namespace normscale {

TrainingSchedule training_schedule(const TrainConfig& config, Index steps_per_epoch, Index steps_for_epochs) {
  TrainingSchedule schedule;
  schedule.total_steps = config.steps > 0 ? config.steps : steps_for_epochs;
  const Index fallback = default_cadence(steps_per_epoch, schedule.total_steps);
  schedule.evaluation = {config.eval_every > 0 ? config.eval_every : fallback, schedule.total_steps};
  schedule.checkpoint = {config.checkpoint_every > 0 ? config.checkpoint_every : fallback, schedule.total_steps};
  return schedule;
}

Index default_cadence(Index steps_per_epoch, Index total_steps) {
  return steps_per_epoch > 1 ? steps_per_epoch : std::max<Index>(1, total_steps / 20);
}

}  // namespace normscale
