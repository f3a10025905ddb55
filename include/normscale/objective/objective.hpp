// The objective contract: an output gradient from outputs, targets and per-example state, plus a
// post-step state update. Sums over the given rows only; the Trainer scales, reduces and adds the
// norm term, so the same objective runs unchanged on one rank or many.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/multiplier_store.hpp"

#include <memory>
#include <span>
#include <string>

namespace normscale {

struct ObjectiveConfig;

template <class T>
class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;
  // Minnorm sums the data term over the minibatch and carries the norm term 1/2 sum ||W||^2 itself;
  // the other objectives average over the minibatch and leave the norm to weight decay.
  virtual bool is_minnorm() const { return false; }

  // grad (rows x outputs) = scale * dL/df for the examples `rows` (local row indices of `data`).
  virtual void output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f,
                               T scale, Matrix<T>& grad) const = 0;
  // Sum over rows of the per-example data loss used for reporting (cross-entropy, square loss,
  // Minnorm's constraint violation).
  virtual double loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const = 0;

  // Per-example state (Minnorm multipliers); the defaults describe a stateless objective.
  virtual MultiplierStore* multipliers() { return nullptr; }
  virtual const MultiplierStore* multipliers() const { return nullptr; }
  // Multiplier update with outputs f on the training rows (exact: new weights; lagged: old).
  virtual void update_multipliers(const Dataset& /*train*/, std::span<const Index> /*rows*/,
                                  const Matrix<T>& /*f*/) {}
  // Minnorm: the data terms of the augmented Lagrangian summed over rows, at the current multipliers.
  virtual double lagrangian_data_sum(const Dataset& /*train*/, std::span<const Index> /*rows*/,
                                     const Matrix<T>& /*f*/) const {
    return 0.0;
  }
  // True when the example's output gradient is exactly zero (Minnorm classification, all alpha = 0),
  // so the backward pass may skip it.
  virtual bool gradient_is_zero(Index /*global_id*/) const { return false; }
};

// Classification errors among rows: argmax for several outputs, sign (positive = class 1) for one.
template <class T>
Index count_errors(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f);

// Builds the configured objective for a training set (multipliers sized to its rows).
template <class T>
std::unique_ptr<Objective<T>> make_objective(const ObjectiveConfig& config, const Dataset& train,
                                             Index outputs);

}  // namespace normscale
