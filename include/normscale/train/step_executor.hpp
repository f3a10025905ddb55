// The arithmetic of the training step on one kind of device. The step algorithm (Trainer, trainer.hpp)
// decides what happens and when (rows, scale, norm term, learning rate, when multipliers are updated,
// when the noise scale is sampled); an executor only does it, on CPU ranks (CpuExecutor) or on the
// rank's GPU (CudaExecutor). Calls of one step come in this order:
//   load_rows, forward, [update_multipliers], output_gradient, backward_and_reduce,
//   update_parameters (or block_dots, update_blocks),
//   [forward, update_multipliers], [gradient_norms]
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/example.hpp"
#include "normscale/optim/normalized_weights.hpp"

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace normscale {

// What the backward pass of a step saw on this rank.
struct BackwardResult {
  double loss_sum = 0.0;    // reporting loss of this rank's rows of the minibatch
  Index backward_rows = 0;  // rows that went through the backward pass (fewer when zero rows were skipped)
  double bytes_reduced = 0.0;  // bytes of the gradient's reduction
};

// Squared norms of the summed data gradient before (this rank's rows) and after the reduction.
struct GradientNorms {
  double local_sq = 0.0;
  double global_sq = 0.0;
};

// Seconds an executor measured since the last take_times().
struct ExecutorTimes {
  double comm = 0.0;        // the gradient's reduction
  double multiplier = 0.0;  // multiplier updates
};

// Counts of an evaluation over this rank's rows of a data set.
struct LocalEvaluation {
  double count = 0.0;
  double errors = 0.0;
  double loss_sum = 0.0;
};

// Evaluation-mode outputs of a chunk of consecutive rows, with the input activation of the last layer
// (the penultimate features), as host matrices.
template <class T>
using ChunkVisitor =
    std::function<void(std::span<const Index> rows, const Matrix<T>& outputs, const Matrix<T>& penultimate)>;

template <class T>
class StepExecutor {
 public:
  virtual ~StepExecutor() = default;
  // "cpu" or "cuda:N (name)", for messages.
  virtual std::string device() const = 0;

  // The step's rows: local row indices of the training shard.
  virtual void load_rows(std::span<const Index> rows) = 0;
  // Training-mode forward pass of the loaded rows with the current weights: the step's (Mode::kTrain) or
  // another at the same step (Mode::kTrainRepeat, for the exact multiplier update).
  virtual void forward(Mode mode) = 0;
  // The objective's multiplier update with the outputs of the last forward().
  virtual void update_multipliers() = 0;
  // scale * dL/df of the loaded rows at the last forward's outputs and their reporting loss.
  // skip_zero_rows: rows whose output gradient is exactly zero are left out of the backward pass.
  // lagged_update: the multiplier update with the same outputs, after the gradient has used the old ones.
  virtual void output_gradient(double scale, bool skip_zero_rows, bool lagged_update) = 0;
  // The backward pass of the rows kept; the flat gradient is then summed over the ranks.
  // sample_noise: keep this rank's squared gradient norm from before the reduction (gradient_norms).
  virtual BackwardResult backward_and_reduce(bool sample_noise) = 0;
  // SGD with heavy-ball momentum and an L2 term (PyTorch's form): v = m v + g + l2 p, p -= lr v.
  virtual void update_parameters(double lr, double l2) = 0;
  // Lagrange-multiplier normalization (optim.normalization, normalized_weights.hpp), instead of
  // update_parameters: the dot products of each block of the reduced gradient, then each block's
  // W <- a W + b G and the plain step p -= lr (g + l2 p) for every parameter outside the blocks (no momentum).
  // `blocks` are in ascending order and do not overlap.
  virtual std::vector<BlockDots> block_dots(std::span<const ParameterBlock> blocks) = 0;
  virtual void update_blocks(std::span<const ParameterBlock> blocks, std::span<const ScaleAdd> steps, double lr,
                             double l2) = 0;
  // The norms of a step whose backward_and_reduce sampled them.
  virtual GradientNorms gradient_norms() = 0;
  virtual ExecutorTimes take_times() = 0;

  // This rank's rows of `data` in evaluation mode. With `dual` (then `data` is the training set) the same
  // forward pass also sums the Lagrangian's data terms at the current multipliers, with the violated
  // constraints and complementary slackness, into it: an evaluation's record needs both, at one pass's cost.
  virtual LocalEvaluation evaluate(const Dataset& data, DualTerms* dual) = 0;
  virtual void forward_each_chunk(const Dataset& data, const ChunkVisitor<T>& visit) = 0;
  // Sum of the squares of all parameters.
  virtual double squared_norm() = 0;
  // This rank's training examples with any multiplier > 0.
  virtual Index support_count() = 0;

  // The optimizer's momentum buffer as the host sees it (empty until momentum has been used).
  virtual std::vector<T>& velocity() = 0;
  // See TrainingEngine::sync_to_host / load_from_host.
  virtual void sync_to_host() {}
  virtual void load_from_host() {}
};

}  // namespace normscale
