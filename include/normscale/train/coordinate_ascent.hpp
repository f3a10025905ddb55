// objective.dual = "coordinate": exact dual coordinate ascent for linear Minnorm (SDCA, liblinear's dual
// solver) with CoCoA+ "adding" over blocks = virtual shards (ALGORITHMS "Multipliers at solver speed").
//
// A round (one trainer step): every block k starts from the same shared w, keeps its change u_k and, for each
// of its examples (a whole pass in a fresh random order, MinibatchSampler::shuffled_pass, or with
// objective.local_steps the next examples of the block's stream, MinibatchSampler::batch: its own random
// stream, so the rounds do not depend on the rank count) and each output c, takes
//   delta = proj(alpha + r(w + sigma u_k) / (sigma ||x||^2)) - alpha,  alpha += delta,  u_k += delta y x
// with r the constraint's residual (1 - y f, or y - f for regression), proj the box [0, C] (none for
// regression), y the +-1 sign (1 for regression) and sigma the number of blocks holding examples (CoCoA+'s
// safe sigma' = K; one block: plain SDCA). Then one allreduce sums the u_k and w += sum_k u_k, so
// w = sum alpha y x stays exact up to rounding; x includes the constant input 1 when the model has a bias.
// The first round sets w = w(alpha) (0 on a fresh run): the coordinate rule needs w to start consistent with
// the multipliers.
// Shrinking: a classification multiplier that stays at a bound of its box is skipped for a growing number
// of its visits (at most 63 in a row); the counters live in the multiplier rows, so checkpoints keep them.
// Round momentum (objective.round_momentum; accelerated CoCoA+, FISTA on the rounds): a round starts from
// alpha + beta (alpha - alpha_last) and w + beta v, v = w - w_last (the trainer's velocity, checkpointed), beta
// = k / (k + 3) with k the rounds since the last restart; w = w(alpha) stays exact because both move alike.
// The extrapolation may leave the box: such a multiplier is visited whatever its skip counter, and the
// round's pass projects it back. A round whose step turns against its momentum, sum (alpha_start -
// alpha_end)(alpha_end - alpha_last) > 0 (O'Donoghue and Candes' gradient restart), restarts it (k = 0);
// that sum rides on the round's allreduce. alpha_last and k live in the multiplier rows.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/train/linear_dual.hpp"
#include "normscale/train/training_engine.hpp"

#include <memory>
#include <span>
#include <string>

namespace normscale {

// Examples one round updates over all blocks, the trainer's global batch under the coordinate rule:
// min(P, local_steps x blocks), P for local_steps = 0; 0 when the objective does not ask for the rule.
template <class T>
Index coordinate_round_size(const Objective<T>& objective, Index blocks, Index examples);

template <class T>
class CoordinateAscent {
 public:
  // The rule for the objective when it asks for it (nullptr otherwise); refuses, naming objective.dual, a
  // model with hidden layers or single multipliers. It works on the host's weights and multipliers: a GPU
  // rank's trainer brings them to the host around each round.
  static std::unique_ptr<CoordinateAscent> make(Communicator& comm, const Dataset& train, Index examples,
                                                Index blocks, Network<T>& network, Objective<T>& objective);

  CoordinateAscent(Communicator& comm, const Dataset& train, Index examples, Index blocks, Network<T>& network,
                   Objective<T>& objective, LinearMinnorm model);

  // Collective: round `round` over this rank's blocks; `rows` are the round's global ids, grouped by virtual
  // shard in shard order. The stats' loss is the hinge violation (squared residual
  // for regression) of the updated examples before their update.
  // `velocity`: the trainer's (w - w at the last round's start with round momentum; unused otherwise).
  StepStats round(Index round, std::span<const Index> rows, std::vector<T>& velocity);

 private:
  struct BlockSums {
    double loss = 0.0;     // the stats' loss
    double against = 0.0;  // round momentum: this block's part of the restart test's sum
  };
  // The updates of one block from the shared weights `w`; its change u goes into `change`.
  BlockSums run_block(std::span<const Index> rows, const std::vector<double>& w, std::vector<double>& change);
  // Round momentum: this rank's multipliers and `w` moved to the round's extrapolated start.
  void extrapolate(Index round, std::vector<double>& w, const std::vector<T>& velocity);

  Communicator& comm_;
  const Dataset& train_;
  Index examples_;
  Index blocks_;
  Network<T>& network_;
  MultiplierStore& store_;
  LinearMinnorm model_;
  std::vector<double> local_w_;  // a block's w + sigma u_k
  std::vector<double> squared_norms_;  // ||x_aug||^2 of each local row, computed once
  bool momentum_ = false;
  double momentum_rounds_ = -1.0;  // round momentum: k of the next round (-1: read from the rows first)
};

}  // namespace normscale
