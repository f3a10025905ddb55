// Minnorm on a linear model as an SVM: the layout of [W | b], the multiplier scale and w(alpha).
#include "normscale/train/linear_dual.hpp"

#include "normscale/objective/objective_traits.hpp"

#include <typeindex>

namespace normscale {

double LinearMinnorm::squared_norm(const float* x) const {
  double sum = bias ? 1.0 : 0.0;
  for (Index j = 0; j < inputs; ++j) sum += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  return sum;
}

void LinearMinnorm::add_example(double* w, Index c, double coefficient, const float* x) const {
  double* row = w + c * inputs;
  for (Index j = 0; j < inputs; ++j) row[j] += coefficient * static_cast<double>(x[j]);
  if (bias) w[outputs * inputs + c] += coefficient;
}

double LinearMinnorm::output(const double* w, Index c, const float* x) const {
  // Eight partial sums: a single running sum is bound by the latency of one addition per input.
  const double* row = w + c * inputs;
  double partial[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  Index j = 0;
  for (; j + 8 <= inputs; j += 8) {
    for (int k = 0; k < 8; ++k) partial[k] += row[j + k] * static_cast<double>(x[j + k]);
  }
  for (; j < inputs; ++j) partial[0] += row[j] * static_cast<double>(x[j]);
  const double sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                     ((partial[4] + partial[5]) + (partial[6] + partial[7]));
  return sum + (bias ? w[outputs * inputs + c] : 0.0);
}

template <class T>
std::optional<LinearMinnorm> linear_minnorm(const Network<T>& network, const Objective<T>& objective) {
  if (objective.rule_type() != std::type_index(typeid(MinnormRule)) || network.layer_count() != 1) return std::nullopt;
  const std::string kind = network.layer(0).kind();
  if (kind != "dense" && kind != "dense-nobias") return std::nullopt;
  LinearMinnorm model;
  model.params = *static_cast<const MinnormParams*>(objective.rule_params());
  if (MinnormRule::single(model.params)) return std::nullopt;
  model.inputs = network.input_width();
  model.outputs = network.output_width();
  model.bias = kind == "dense";
  return model;
}

double svm_multiplier_scale(const MinnormParams& params, const ObjectiveTraits& traits, Index batch, Index examples) {
  if (params.dual == MinnormDual::kCoordinate) return 1.0;
  return data_term_scale(traits.data_term, batch, examples) * static_cast<double>(batch) /
         static_cast<double>(examples);
}

template <class T>
Example<T> linear_example(const Dataset& train, Index r, const T* f, int outputs, const MultiplierStore& store) {
  Example<T> e;
  e.f = f;
  e.outputs = outputs;
  if (train.is_classification()) {
    e.label = train.labels[static_cast<std::size_t>(r)];
  } else {
    e.target = train.targets.data() + r * train.target_cols;
  }
  // The rule's helpers only read the multipliers.
  e.alpha = const_cast<double*>(store.row(train.first_id + r));
  return e;
}

std::vector<double> local_dual_weights(const LinearMinnorm& model, const Dataset& train, const MultiplierStore& store,
                                       double scale) {
  std::vector<double> w(static_cast<std::size_t>(model.parameter_count()), 0.0);
  const int outputs = static_cast<int>(model.outputs);
  for (Index r = 0; r < train.rows; ++r) {
    const Example<double> e = linear_example<double>(train, r, nullptr, outputs, store);
    for (int c = 0; c < outputs; ++c) {
      if (e.alpha[c] == 0.0) continue;
      model.add_example(w.data(), c, scale * e.alpha[c] * weight_sign(model.params, e, c), train.row(r));
    }
  }
  return w;
}

template std::optional<LinearMinnorm> linear_minnorm(const Network<float>&, const Objective<float>&);
template std::optional<LinearMinnorm> linear_minnorm(const Network<double>&, const Objective<double>&);
template Example<float> linear_example(const Dataset&, Index, const float*, int, const MultiplierStore&);
template Example<double> linear_example(const Dataset&, Index, const double*, int, const MultiplierStore&);

}  // namespace normscale
