// What a run needs from the thing that trains: steps, evaluations, the Minnorm quantities, and the
// copy of device state to and from the host Network / MultiplierStore (checkpoints, exports and
// metrics read only the host copies). Trainer<T> implements it, on CPU ranks and on GPUs alike.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/train/step_executor.hpp"

#include <string>
#include <vector>

namespace normscale {

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

// The training set at an evaluation, from one forward pass (an evaluation's record needs both).
struct TrainingSetEvaluation {
  EvalStats stats;  // as evaluate() gives it
  // Minnorm's augmented Lagrangian over the whole training set (the norm term included), the constraints
  // violated and the complementary slackness, at the current multipliers; an objective without multipliers
  // has the norm term alone.
  DualTerms dual;
};

template <class T>
class TrainingEngine {
 public:
  virtual ~TrainingEngine() = default;
  // "cpu" or "cuda:N", for messages.
  virtual std::string device() const = 0;

  virtual StepStats step() = 0;
  // Applies a multiplier update that full-batch exact mode fused into the next forward pass.
  virtual void flush_multipliers() = 0;
  // Collective: error and loss over all ranks' rows of `data`.
  virtual EvalStats evaluate(const Dataset& data) = 0;
  // Evaluation-mode forward over this rank's rows of `data` in chunks of consecutive rows; `visit` gets
  // the chunk's rows, outputs and penultimate features as host matrices (the instruments read them).
  virtual void forward_each_chunk(const Dataset& data, const ChunkVisitor<T>& visit) = 0;
  // Collective: the whole training set's evaluation and dual terms over all ranks, in one pass over it (a
  // pending multiplier update applied first).
  virtual TrainingSetEvaluation evaluate_training_set() = 0;
  double lagrangian() { return evaluate_training_set().dual.lagrangian; }
  // Collective: examples with any alpha > 0, over all ranks.
  virtual Index support_count() = 0;

  virtual Index steps_done() const = 0;
  virtual Index global_batch() const = 0;
  virtual double epochs_done() const = 0;
  virtual Index steps_for_epochs(double epochs) const = 0;
  // Continues at `step` (after loading a checkpoint); the minibatch stream is a function of the step.
  virtual void restore(Index step) = 0;
  // The optimizer's momentum buffer as the host sees it (empty until momentum has been used).
  virtual std::vector<T>& velocity() = 0;

  // Makes the host Network's parameters and layer state, velocity() and the objective's
  // MultiplierStore current (a no-op where they are the training state itself, as on CPU ranks).
  virtual void sync_to_host() {}
  // Makes the training state equal to the host copies (after initialisation or loading a checkpoint).
  virtual void load_from_host() {}
};

}  // namespace normscale
