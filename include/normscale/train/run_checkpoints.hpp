// The run's checkpoints: written on the schedule's cadence after the step's evaluation (so a
// checkpoint's step always has its record in metrics.jsonl), and the resume from the newest one that
// every rank can load.
#pragma once

#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/train/training_callback.hpp"
#include "normscale/train/training_schedule.hpp"

#include <cstdint>

namespace normscale {

template <class T>
class RunCheckpoints final : public TrainingCallback<T> {
 public:
  // `data_fingerprint`: of the training set (data_fingerprint()), recorded in and checked against each
  // checkpoint; 0 records and checks none.
  RunCheckpoints(Cadence cadence, DataShard shard, std::uint64_t data_fingerprint = 0)
      : cadence_(cadence), shard_(shard), data_fingerprint_(data_fingerprint) {}

  // Collective: loads the newest checkpoint in <out>/checkpoints that every rank can load into the
  // host network, velocity and multipliers and continues the engine at its step (the caller then
  // calls engine.load_from_host()). Rank 0 warns about newer checkpoints passed over. Throws on every
  // rank when there is none, or none usable.
  void resume(TrainingContext<T>& context) const;

  // Collective: a checkpoint when the cadence says so.
  void step_end(TrainingContext<T>& context, Index step) override;
  // Collective: a checkpoint of step `step` (the current one) unless step_end has just written it.
  void save_unless_saved(TrainingContext<T>& context, Index step);

 private:
  void save(TrainingContext<T>& context);

  Cadence cadence_;
  DataShard shard_;
  std::uint64_t data_fingerprint_;
};

}  // namespace normscale
