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

// What one step did, summed over all ranks.
struct StepStats {
  double loss_sum = 0.0;        // reporting loss over the global minibatch
  Index examples = 0;           // global minibatch size
  double compute_seconds = 0.0; // forward, objective, backward, optimizer (this rank)
  double comm_seconds = 0.0;    // gradient and scalar allreduce (this rank)
  double multiplier_seconds = 0.0;
  double bytes_reduced = 0.0;
  // Gradient-noise-scale sample (0 when not taken this step): batch Q/p and Q, and the squared norms
  // of the mean data gradient over one rank's part (averaged over ranks) and over the global batch.
  double small_batch = 0.0;
  double small_batch_grad_sq = 0.0;
  double big_batch_grad_sq = 0.0;
};

// Error and loss of the model on a whole data set (summed over ranks).
struct EvalStats {
  Index count = 0;
  Index errors = 0;
  double loss_sum = 0.0;
  double error_percent() const { return count > 0 ? 100.0 * static_cast<double>(errors) / static_cast<double>(count) : 0.0; }
  double mean_loss() const { return count > 0 ? loss_sum / static_cast<double>(count) : 0.0; }
};

template <class T>
class Trainer {
 public:
  // `train` holds this rank's rows (whole virtual shards); `total_examples` is the global P.
  Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train, Index total_examples,
          Network<T>& network, Objective<T>& objective);

  StepStats step();
  // Applies a multiplier update that full-batch exact mode fused into the next forward pass.
  void flush_multipliers();
  EvalStats evaluate(const Dataset& data);
  // Evaluation-mode forward over all rows of `data` in chunks of consecutive rows; `visit` gets the
  // chunk's rows and outputs (the network's activations stay readable during the call).
  void forward_each_chunk(const Dataset& data,
                          const std::function<void(std::span<const Index>, const Matrix<T>&)>& visit);
  // Augmented Lagrangian over the whole training set (Minnorm), at the current weights and multipliers.
  double lagrangian();
  // Support vectors over all ranks (examples with any alpha > 0).
  Index support_count();

  Index steps_done() const { return step_; }
  Index global_batch() const { return batch_; }
  double epochs_done() const { return sampler_.epochs(step_); }
  Index steps_for_epochs(double epochs) const { return sampler_.steps_for_epochs(epochs); }
  Sgd<T>& optimizer() { return optimizer_; }
  // Continues at `step` (after loading a checkpoint); the minibatch stream is a function of the step.
  void restore(Index step);

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
