// The objective factory and the error count shared by all classification objectives.
#include "normscale/objective/objective.hpp"

#include "normscale/core/error.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/config.hpp"

namespace normscale {

template <class T>
Index count_errors(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) {
  if (!data.is_classification()) return 0;
  Index errors = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Index i = static_cast<Index>(k);
    Index predicted = 0;
    if (f.cols() == 1) {
      predicted = f(i, 0) > T(0) ? 1 : 0;
    } else {
      f.row(i).maxCoeff(&predicted);
    }
    errors += predicted != data.labels[static_cast<std::size_t>(rows[k])] ? 1 : 0;
  }
  return errors;
}

template <class T>
std::unique_ptr<Objective<T>> make_objective(const ObjectiveConfig& config, const Dataset& train,
                                             Index outputs) {
  if (config.regime == "sgd") {
    NS_CHECK(train.is_classification(), "objective.regime = sgd (cross-entropy) needs class labels; '{}' has none",
             train.name);
    return std::make_unique<CrossEntropy<T>>();
  }
  if (config.regime == "square") {
    return std::make_unique<Square<T>>(
        SquareTargets{config.square_targets == "pm1", config.square_k, config.square_m});
  }
  if (config.regime == "minnorm") {
    MinnormParams params;
    params.rho = config.rho;
    params.s = config.s;
    if (config.task == "regression") {
      params.task = MinnormTask::kRegression;
    } else if (config.task == "binary") {
      params.task = MinnormTask::kBinary;
    } else if (config.task == "multiclass") {
      params.task = MinnormTask::kMulticlass;
    } else {
      NS_FAIL("objective.task: expected multiclass, binary or regression, got '{}'", config.task);
    }
    return std::make_unique<Minnorm<T>>(params, train, outputs);
  }
  NS_FAIL("objective.regime: expected sgd, square or minnorm, got '{}'", config.regime);
}

template Index count_errors<float>(const Dataset&, std::span<const Index>, const Matrix<float>&);
template Index count_errors<double>(const Dataset&, std::span<const Index>, const Matrix<double>&);
template std::unique_ptr<Objective<float>> make_objective<float>(const ObjectiveConfig&, const Dataset&, Index);
template std::unique_ptr<Objective<double>> make_objective<double>(const ObjectiveConfig&, const Dataset&, Index);

}  // namespace normscale
