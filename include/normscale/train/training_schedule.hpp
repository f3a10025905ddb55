// When a run stops, evaluates and checkpoints: pure functions of the step, so every rank takes the same
// decision without talking to the others (and a resumed run takes the one the first run would have).
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/train/config.hpp"

namespace normscale {

// Every `every` steps, and after the last one.
struct Cadence {
  Index every = 1;
  Index last_step = 0;
  bool due(Index step) const { return step % every == 0 || step == last_step; }
};

struct TrainingSchedule {
  Index total_steps = 0;
  Cadence evaluation;
  Cadence checkpoint;
};

// config.steps (or config.epochs worth of steps, `steps_for_epochs`), evaluations every eval_every and
// checkpoints every checkpoint_every steps; either defaults to once per epoch (`steps_per_epoch`), or
// to 20 times per run when an epoch is one step (full batch).
TrainingSchedule training_schedule(const TrainConfig& config, Index steps_per_epoch, Index steps_for_epochs);

// The evaluations' and checkpoints' cadence where the configuration sets none: once per epoch, or 20 times per run
// when an epoch is one step (full batch).
Index default_cadence(Index steps_per_epoch, Index total_steps);

}  // namespace normscale
