// The objective contract (issue #11). An objective owns its semantics: its traits say how the data
// term is scaled, which norm term it carries, and whether and when its per-example state (multipliers)
// is updated; it computes, over the given rows only, the output gradient, the reporting loss, the
// multiplier update and the Lagrangian's data terms. The step scales, reduces and adds the norm term,
// so the same objective runs unchanged on one rank or many. Objectives built from a per-example rule
// (ExampleObjective, example_objective.hpp) run on GPU ranks too; objective_registry.hpp names them.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/example.hpp"
#include "normscale/objective/multiplier_store.hpp"
#include "normscale/objective/objective_config.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>

namespace normscale {

template <class T>
class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string name() const = 0;
  virtual ObjectiveTraits traits() const = 0;
  // The per-example rule this objective applies (typeid of the rule struct): what a GPU rank looks up
  // its device implementation by.
  virtual std::type_index rule_type() const = 0;
  // The rule's constants (a pointer to its Params, the type rule_type() names).
  virtual const void* rule_params() const = 0;

  // grad (rows x outputs) = scale * dL/df for the examples `rows` (local row indices of `data`).
  virtual void output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f,
                               double scale, Matrix<T>& grad) const = 0;
  // Sum over rows of the per-example data loss used for reporting (cross-entropy, square loss,
  // Minnorm's constraint violation).
  virtual double loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const = 0;

  // Per-example state (Minnorm multipliers); null for a stateless objective.
  virtual MultiplierStore* multipliers() = 0;
  virtual const MultiplierStore* multipliers() const = 0;
  // Multiplier update with outputs f on the training rows (exact: new weights; lagged: old); `curvature`: one
  // value per row when traits().curvature_step (else empty).
  virtual void update_multipliers(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f,
                                  std::span<const double> curvature = {}) = 0;
  // The data terms of the augmented Lagrangian summed over rows, at the current multipliers, with the
  // violated constraints and complementary slackness (all 0 when the objective has no multipliers).
  virtual DualTerms dual_terms_sum(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f) const = 0;
  double lagrangian_data_sum(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f) const {
    return dual_terms_sum(train, rows, f).lagrangian;
  }
  // True when the example's output gradient is exactly zero (traits().sparse_gradient), so the
  // backward pass may skip it.
  virtual bool gradient_is_zero(Index global_id) const = 0;
};

// Classification errors among rows: argmax for several outputs, sign (positive = class 1) for one.
template <class T>
Index count_errors(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f);

// Builds the configured objective (objective.regime names an entry of the objective registry) for a
// training set (multipliers sized to its rows).
// Refuses a data set without class labels for `who` (e.g. "objective.regime = sgd"), saying how class labels are
// told from regression targets.
void require_class_labels(const Dataset& train, std::string_view who);

template <class T>
std::unique_ptr<Objective<T>> make_objective(const ObjectiveConfig& config, const Dataset& train,
                                             Index outputs);

}  // namespace normscale
