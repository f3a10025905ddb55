// Minnorm's checks of the task against the data and the outputs (the math: minnorm_rule.hpp).
#include "normscale/objective/minnorm.hpp"

#include "normscale/core/error.hpp"

#include <cmath>

namespace normscale {

template <class T>
Minnorm<T>::Minnorm(MinnormParams params, const Dataset& train, Index outputs)
    : ExampleObjective<T, MinnormRule>(params, train, outputs) {
  this->multipliers()->set_average_column(MinnormRule::average_column(params, static_cast<int>(outputs)));
  NS_CHECK(params.rho >= 0 && params.s >= 0, "objective.rho and objective.s must be >= 0 (got {} and {})",
           params.rho, params.s);
  NS_CHECK(params.multipliers == MinnormMultipliers::kPerOutput || params.task == MinnormTask::kMulticlass,
           "objective.multipliers = single puts one constraint on the margin over the other classes; it needs "
           "objective.task = multiclass (got {})",
           params.task == MinnormTask::kBinary ? "binary" : "regression");
  if (params.task == MinnormTask::kRegression) {
    NS_CHECK(std::isinf(params.C),
             "objective.C = {} bounds inequality multipliers; objective.task = regression has equality constraints "
             "(set objective.C = inf)",
             params.C);
    NS_CHECK(!train.is_classification(),
             "objective.task = regression needs real-valued regression targets; the training set '{}' has class labels "
             "(integers); hint: objective.task = multiclass or binary for classes, or real-valued labels for "
             "regression (numpy: save y.astype(numpy.float32))",
             train.name);
    NS_CHECK(train.target_cols == outputs,
             "objective.task = regression needs {} regression targets per example; the data set '{}' has {}", outputs,
             train.name, train.target_cols);
  } else {
    require_class_labels(
        train, params.task == MinnormTask::kBinary ? "objective.task = binary" : "objective.task = multiclass");
    if (params.task == MinnormTask::kBinary) {
      NS_CHECK(outputs == 1 && train.num_classes <= 2,
               "objective.task = binary needs one output and two classes (got {} outputs, {} classes)", outputs,
               train.num_classes);
    } else {
      NS_CHECK(outputs == train.num_classes,
               "objective.task = multiclass needs one output per class ({} outputs, {} classes)", outputs,
               train.num_classes);
    }
  }
}

template class Minnorm<float>;
template class Minnorm<double>;

}  // namespace normscale
