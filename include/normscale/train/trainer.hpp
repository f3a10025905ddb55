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
  bool exact_multiplier_update = true;  // Minnorm: alpha from f(W^{t+1}); false = lagged f(W^t)
  bool unbiased_estimator = false;      // Minnorm: data term scaled by P/Q
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
  // Evaluation-mode forward over all rows of `data` in chunks of consecutive rows; `visit` gets the
  // chunk's rows and outputs (the network's activations stay readable during the call).
  void forward_each_chunk(const Dataset& data,
                          const std::function<void(std::span<const Index>, const Matrix<T>&)>& visit);
  // Augmented Lagrangian over the whole training set (Minnorm), at the current weights and multipliers.
  double lagrangian() override;
  // Support vectors over all ranks (examples with any alpha > 0).
  Index support_count() override;

  Index steps_done() const override { return step_; }
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
  std::vector<Index> rows_;
  Matrix<T> x_;
  Matrix<T> output_grad_;
  Matrix<T> outputs_new_;
};

}  // namespace normscale
