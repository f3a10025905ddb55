// The training loop's step: sample this rank's part of the global minibatch, forward, objective
// gradient, backward, one allreduce of the flat gradient, the norm term once, the optimizer, and
// Minnorm's multiplier update (ALGORITHMS §1-2).
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/optim/sgd.hpp"
#include "normscale/train/sampler.hpp"
#include "normscale/train/training_engine.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace normscale {

struct TrainerOptions {
  Index batch = 128;            // global Q; kFullBatch (-1) for every example each step
  Index virtual_shards = 64;
  std::uint64_t seed = 1;
  double lr = 1e-3;
  double momentum = 0.0;
  double weight_decay = 0.0;    // lambda_0 of the non-Minnorm regimes
  double decay_power = 0.0;     // NMGD exponent a
  double warmup_epochs = 0.0;   // linear lr warmup over this many epochs' worth of steps (warmup_factor)
  bool exact_multiplier_update = true;  // Minnorm: alpha from f(W^{t+1}); false = lagged f(W^t)
  bool unbiased_estimator = false;      // Minnorm: data term scaled by P/Q
  // Leave examples whose output gradient is exactly zero (Minnorm classification, all alpha = 0) out
  // of the backward pass. Exact; applies when every layer is row-independent (no batch norm).
  bool skip_inactive_examples = true;
};

template <class T>
class Trainer final : public TrainingEngine<T> {
 public:
  // `train` holds this rank's rows (whole virtual shards); `total_examples` is the global P.
  Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train, Index total_examples,
          Network<T>& network, Objective<T>& objective);

  std::string device() const override { return "cpu"; }
  StepStats step() override;
  // Applies a multiplier update that full-batch exact mode fused into the next forward pass.
  void flush_multipliers() override;
  EvalStats evaluate(const Dataset& data) override;
  void forward_each_chunk(const Dataset& data, const typename TrainingEngine<T>::ChunkVisitor& visit) override;
  // Augmented Lagrangian over the whole training set (Minnorm), at the current weights and multipliers.
  double lagrangian() override;
  // Support vectors over all ranks (examples with any alpha > 0).
  Index support_count() override;

  Index steps_done() const override { return step_; }
  // Rows of this rank that went through the last step's backward pass (fewer than its part of the
  // batch when support-vector skipping left some out).
  Index last_backward_rows() const { return last_backward_rows_; }
  Index global_batch() const override { return batch_; }
  double epochs_done() const override { return sampler_.epochs(step_); }
  Index steps_for_epochs(double epochs) const override { return sampler_.steps_for_epochs(epochs); }
  Sgd<T>& optimizer() { return optimizer_; }
  std::vector<T>& velocity() override { return optimizer_.velocity(); }
  // Continues at `step` (after loading a checkpoint); the minibatch stream is a function of the step.
  void restore(Index step) override;

 private:
  void gather(const std::vector<Index>& rows, Matrix<T>& x) const;
  // Forward over all rows of `data` in chunks; calls visit(rows, outputs) per chunk.
  template <class Visit>
  void forward_chunks(const Dataset& data, Visit&& visit);

  TrainerOptions options_;
  Communicator& comm_;
  const Dataset& train_;
  Index total_examples_;
  Index batch_;
  Network<T>& network_;
  Objective<T>& objective_;
  Sgd<T> optimizer_;
  MinibatchSampler sampler_;
  Index step_ = 0;
  bool multiplier_update_pending_ = false;
  // Backward over all rows, or only over the rows with a nonzero output gradient.
  void backward_active_rows();

  Index warmup_steps_ = 0;  // options_.warmup_epochs in steps (0: no warmup)
  bool can_skip_ = false;
  Index last_backward_rows_ = 0;
  std::vector<Index> rows_;
  std::vector<Index> active_;  // positions in rows_ of the examples with a nonzero output gradient
  Matrix<T> x_;
  Matrix<T> output_grad_;
  Matrix<T> active_grad_;
  Matrix<T> outputs_new_;
};

}  // namespace normscale
