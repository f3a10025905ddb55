// The training step, written once for every device (ALGORITHMS §1-2): sample this rank's part of the
// global minibatch, forward, the objective's output gradient, backward of the rows with a nonzero
// gradient, one reduction of the flat gradient, the norm term once, the optimizer, and the objective's
// multiplier update at the time its traits ask for. The arithmetic is a StepExecutor's (CpuExecutor
// here, CudaExecutor on GPU ranks); every decision is the Trainer's.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/train/coordinate_ascent.hpp"
#include "normscale/train/sampler.hpp"
#include "normscale/train/step_executor.hpp"
#include "normscale/train/training_engine.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace normscale {

struct TrainerOptions {
  Index batch = 128;            // global Q; kFullBatch (-1) for every example each step
  Index virtual_shards = 64;
  std::uint64_t seed = 1;
  double lr = 1e-3;
  double momentum = 0.0;
  double weight_decay = 0.0;    // lambda_0 of the objectives whose norm term is weight decay
  double decay_power = 0.0;     // NMGD exponent a
  double warmup_epochs = 0.0;   // linear lr warmup over this many epochs' worth of steps (warmup_factor)
  // Leave examples whose output gradient is exactly zero (Minnorm classification, all alpha = 0) out
  // of the backward pass. Exact; applies when every layer is row-independent (no batch norm).
  bool skip_inactive_examples = true;
  // Normalized weight matrices (Theory III's Lagrange or tangent form; normalized_weights.hpp) instead of the
  // plain step; needs momentum 0, no weight decay and an objective without a norm term.
  WeightNormalization normalization = WeightNormalization::kNone;
};

template <class T>
class Trainer : public TrainingEngine<T> {
 public:
  // On this rank's CPU. `train` holds this rank's rows (whole virtual shards); `total_examples` is the global P.
  Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train, Index total_examples,
          Network<T>& network, Objective<T>& objective);
  // On the device of `executor`, which trains `network` and `objective`'s state (copies of them).
  Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train, Index total_examples,
          Network<T>& network, Objective<T>& objective, std::unique_ptr<StepExecutor<T>> executor);

  std::string device() const override { return executor_->device(); }
  StepStats step() override;
  void flush_multipliers() override;
  EvalStats evaluate(const Dataset& data) override;
  void forward_each_chunk(const Dataset& data, const ChunkVisitor<T>& visit) override;
  TrainingSetEvaluation evaluate_training_set() override;
  Index support_count() override;

  Index steps_done() const override { return step_; }
  // Rows of this rank that went through the last step's backward pass (fewer than its part of the
  // batch when support-vector skipping left some out).
  Index last_backward_rows() const { return last_backward_rows_; }
  Index global_batch() const override { return batch_; }
  double epochs_done() const override { return sampler_.epochs(step_); }
  Index steps_for_epochs(double epochs) const override { return sampler_.steps_for_epochs(epochs); }
  std::vector<T>& velocity() override { return executor_->velocity(); }
  void restore(Index step) override;
  void sync_to_host() override { executor_->sync_to_host(); }
  void load_from_host() override { executor_->load_from_host(); }

 private:
  TrainerOptions options_;
  Communicator& comm_;
  const Dataset& train_;
  Index total_examples_;
  Index batch_;
  ObjectiveTraits traits_;
  std::unique_ptr<StepExecutor<T>> executor_;
  MinibatchSampler sampler_;
  Index warmup_steps_ = 0;  // options_.warmup_epochs in steps (0: no warmup)
  bool can_skip_ = false;   // the objective's zero rows may be left out of backward (no batch norm)
  std::vector<ParameterBlock> normalized_blocks_;  // the weight matrices, with a normalization
  Index step_ = 0;
  bool multiplier_update_pending_ = false;  // full-batch exact update, fused into the next forward
  bool rows_loaded_ = false;
  Index local_rows_ = 0;
  Index last_backward_rows_ = 0;
  // objective.dual = "coordinate": each step is one of its rounds instead of the gradient step.
  std::unique_ptr<CoordinateAscent<T>> coordinate_;
};

}  // namespace normscale
