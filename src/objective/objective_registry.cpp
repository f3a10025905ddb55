// The objective registry and the built-in objectives' entries: cross-entropy ("sgd"), the square loss
// and Minnorm, each built from its options here, in one place.
#include "normscale/objective/objective_registry.hpp"

#include "normscale/core/error.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"

namespace normscale {

namespace {

MinnormTask minnorm_task(const std::string& task) {
  if (task == "regression") return MinnormTask::kRegression;
  if (task == "binary") return MinnormTask::kBinary;
  NS_CHECK(task == "multiclass", "objective.task: expected multiclass, binary or regression, got '{}'", task);
  return MinnormTask::kMulticlass;
}

MinnormParams minnorm_params(const ObjectiveConfig& c) {
  MinnormParams p;
  p.task = minnorm_task(c.task);
  p.rho = c.rho;
  p.s = c.s;
  p.update = c.alpha_update == "lagged" ? MultiplierUpdate::kLagged : MultiplierUpdate::kExact;
  p.unbiased = c.estimator == "unbiased";
  return p;
}

void add_builtins(ObjectiveRegistry& registry) {
  registry.add(objective_entry(
      "sgd", "softmax cross-entropy (logistic loss with one output), minibatch mean, weight decay",
      [](auto precision, const ObjectiveConfig&, const Dataset& train, Index) {
        using T = decltype(precision);
        NS_CHECK(train.is_classification(),
                 "objective.regime = sgd (cross-entropy) needs class labels; '{}' has none", train.name);
        return std::unique_ptr<Objective<T>>(std::make_unique<CrossEntropy<T>>());
      }));
  registry.add(objective_entry(
      "square", "square loss on one-hot / +-1 / regression targets (objective.square_*), minibatch mean, weight decay",
      [](auto precision, const ObjectiveConfig& c, const Dataset&, Index) {
        using T = decltype(precision);
        return std::unique_ptr<Objective<T>>(
            std::make_unique<Square<T>>(SquareTargets{c.square_targets == "pm1", c.square_k, c.square_m}));
      }));
  ObjectiveEntry minnorm = objective_entry(
      "minnorm", "Minnorm: min 1/2 ||W||^2 subject to every constraint, by dual ascent (objective.task, rho, s, "
                 "alpha_update, estimator)",
      [](auto precision, const ObjectiveConfig& c, const Dataset& train, Index outputs) {
        using T = decltype(precision);
        return std::unique_ptr<Objective<T>>(std::make_unique<Minnorm<T>>(minnorm_params(c), train, outputs));
      });
  // Binary Minnorm is one output with +-1 labels.
  minnorm.outputs = [](const ObjectiveConfig& c, const Dataset&) -> Index { return c.task == "binary" ? 1 : 0; };
  registry.add(std::move(minnorm));
}

}  // namespace

ObjectiveRegistry& objective_registry() {
  static ObjectiveRegistry registry(
      "objective.regime", "registered objective",
      [](const ObjectiveEntry& entry) {
        NS_CHECK(entry.make_float && entry.make_double, "objective '{}' is registered without its makers", entry.name);
      },
      add_builtins);
  return registry;
}

}  // namespace normscale
