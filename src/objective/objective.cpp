// The objective factory (through the registry) and the error count shared by all classification objectives.
#include "normscale/objective/objective.hpp"

#include "normscale/core/error.hpp"
#include "normscale/objective/objective_registry.hpp"

namespace normscale {

template <class T>
Index count_errors(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) {
  if (!data.is_classification()) return 0;
  Index errors = 0;
  const int outputs = static_cast<int>(f.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const int predicted = predicted_class(f.row(static_cast<Index>(k)).data(), outputs);
    errors += predicted != data.labels[static_cast<std::size_t>(rows[k])] ? 1 : 0;
  }
  return errors;
}

void require_class_labels(const Dataset& train, std::string_view who) {
  NS_CHECK(train.is_classification(),
           "{} needs class labels; the training set '{}' has regression targets ({} column(s) of real values); "
           "hint: "
           "class labels are integers (numpy: save y.astype(numpy.int64)); real-valued labels are read as targets",
           who, train.name, train.target_cols);
}

// Every loss reads an example's outputs at its label (or its targets): a network with fewer outputs than classes
// would read and write past them.
void check_outputs_fit(const ObjectiveConfig& config, const Dataset& train, Index outputs) {
  // Binary Minnorm sets the output count (one) itself: the classes are what does not fit.
  NS_CHECK(!(config.regime == "minnorm" && config.task == "binary" && train.num_classes > 2),
           "objective.task = binary needs two classes; '{}' has {}; hint: data.classes = [a, b] keeps two of them, or "
           "objective.task = multiclass",
           train.name, train.num_classes);
  if (train.is_classification()) {
    NS_CHECK(outputs == train.num_classes || (outputs == 1 && train.num_classes <= 2),
             "objective.regime = {}: the network has {} output(s) (model.outputs) and '{}' has {} classes; expected "
             "one output per class ({}), or 1 where there are two classes (model.outputs = 0 derives it from the data)",
             config.regime, outputs, train.name, train.num_classes, train.num_classes);
  } else {
    NS_CHECK(outputs == train.target_cols,
             "objective.regime = {}: the network has {} output(s) (model.outputs) and '{}' has {} target column(s); "
             "expected one output per target (model.outputs = 0 derives it from the data)",
             config.regime, outputs, train.name, train.target_cols);
  }
}

template <class T>
std::unique_ptr<Objective<T>> make_objective(const ObjectiveConfig& config, const Dataset& train,
                                             Index outputs) {
  check_outputs_fit(config, train, outputs);
  return objective_registry().get(config.regime).template make<T>(config, train, outputs);
}

template Index count_errors<float>(const Dataset&, std::span<const Index>, const Matrix<float>&);
template Index count_errors<double>(const Dataset&, std::span<const Index>, const Matrix<double>&);
template std::unique_ptr<Objective<float>> make_objective<float>(const ObjectiveConfig&, const Dataset&, Index);
template std::unique_ptr<Objective<double>> make_objective<double>(const ObjectiveConfig&, const Dataset&, Index);

}  // namespace normscale
