// ExampleObjective<T, Rule>: an Objective made of a per-example rule, the one place where the loops
// over a minibatch's rows are written for CPU ranks (src/cuda/device_example_objective.cuh holds the
// GPU's kernels over the same rule). A rule is a struct with
//   using Params = ...;                        trivially copyable constants (copied to the GPU)
//   static constexpr bool kMultipliers;        per-example multipliers
//   static std::string name(const Params&);    for messages
//   static ObjectiveTraits traits(const Params&);
//   NS_HOST_DEVICE static void gradient(const Params&, const Example<T>&, double scale, T* grad);
//   NS_HOST_DEVICE static double loss(const Params&, const Example<T>&);
// and, with multipliers,
//   NS_HOST_DEVICE static int multiplier_count(const Params&, int outputs);    per example
//   NS_HOST_DEVICE static int state_count(const Params&, int outputs);         values kept per example:
//                                            the multipliers, then the update's own state (>= multiplier_count)
//   NS_HOST_DEVICE static void update(const Params&, const Example<T>&);       alpha in place
//   NS_HOST_DEVICE static void add_dual_terms(const Params&, const Example<T>&, DualTerms&);
//   NS_HOST_DEVICE static bool zero_gradient(const Params&, const double* alpha, int outputs);
// The contract is checked at compile time (ExampleRule below).
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective.hpp"

#include <concepts>
#include <type_traits>
#include <utility>

namespace normscale {

template <class Rule>
concept ExampleRule =
    std::is_trivially_copyable_v<typename Rule::Params> &&
    requires(const typename Rule::Params& p, const Example<float>& e, float* g) {
      { Rule::kMultipliers } -> std::convertible_to<bool>;
      { Rule::name(p) } -> std::convertible_to<std::string>;
      { Rule::traits(p) } -> std::same_as<ObjectiveTraits>;
      Rule::gradient(p, e, 1.0, g);
      { Rule::loss(p, e) } -> std::convertible_to<double>;
    } &&
    (!Rule::kMultipliers || requires(const typename Rule::Params& p, const Example<float>& e, const double* a) {
      { Rule::multiplier_count(p, 1) } -> std::convertible_to<int>;
      { Rule::state_count(p, 1) } -> std::convertible_to<int>;
      Rule::update(p, e);
      Rule::add_dual_terms(p, e, std::declval<DualTerms&>());
      { Rule::zero_gradient(p, a, 1) } -> std::convertible_to<bool>;
    });

template <class T, ExampleRule Rule>
class ExampleObjective : public Objective<T> {
 public:
  using Params = typename Rule::Params;

  // A stateless rule.
  explicit ExampleObjective(Params params = {}) : params_(params) {
    static_assert(!Rule::kMultipliers, "a rule with multipliers needs the training set to size them");
  }
  // A rule with multipliers: state_count values (multiplier_count multipliers first) for each row of
  // `train`, all zero.
  ExampleObjective(Params params, const Dataset& train, Index outputs)
      : params_(params),
        outputs_(static_cast<int>(outputs)),
        alpha_(Rule::kMultipliers ? MultiplierStore(train.first_id, train.rows, state_count_of<Rule>(params, outputs_),
                                                    multiplier_count_of<Rule>(params, outputs_))
                                  : MultiplierStore()) {}

  const Params& params() const { return params_; }
  std::string name() const override { return Rule::name(params_); }
  ObjectiveTraits traits() const override { return Rule::traits(params_); }
  std::type_index rule_type() const override { return typeid(Rule); }
  const void* rule_params() const override { return &params_; }

  void output_gradient(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f, double scale,
                       Matrix<T>& grad) const override {
    grad.resize(static_cast<Index>(rows.size()), f.cols());
    for (std::size_t k = 0; k < rows.size(); ++k) {
      Rule::gradient(params_, example(data, rows[k], f, k), scale, grad.row(static_cast<Index>(k)).data());
    }
  }

  double loss_sum(const Dataset& data, std::span<const Index> rows, const Matrix<T>& f) const override {
    double total = 0.0;
    for (std::size_t k = 0; k < rows.size(); ++k) total += Rule::loss(params_, example(data, rows[k], f, k));
    return total;
  }

  MultiplierStore* multipliers() override { return Rule::kMultipliers ? &alpha_ : nullptr; }
  const MultiplierStore* multipliers() const override { return Rule::kMultipliers ? &alpha_ : nullptr; }

  void update_multipliers(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f,
                          std::span<const double> curvature = {}) override {
    if constexpr (Rule::kMultipliers) {
      for (std::size_t k = 0; k < rows.size(); ++k) {
        Example<T> e = example(train, rows[k], f, k);
        if (!curvature.empty()) e.curvature = curvature[k];
        Rule::update(params_, e);
      }
    }
  }

  DualTerms dual_terms_sum(const Dataset& train, std::span<const Index> rows, const Matrix<T>& f) const override {
    DualTerms terms;
    if constexpr (Rule::kMultipliers) {
      for (std::size_t k = 0; k < rows.size(); ++k) Rule::add_dual_terms(params_, example(train, rows[k], f, k), terms);
    }
    return terms;
  }

  bool gradient_is_zero(Index global_id) const override {
    if constexpr (Rule::kMultipliers) {
      return Rule::zero_gradient(params_, alpha_.row(global_id), outputs_);
    }
    return false;
  }

 private:
  // Row r of `data` with the outputs of batch position k, and its multipliers when it is a row of the
  // training shard (evaluation sets have none: their rules read no multipliers).
  Example<T> example(const Dataset& data, Index r, const Matrix<T>& f, std::size_t k) const {
    Example<T> e;
    e.f = f.row(static_cast<Index>(k)).data();
    e.outputs = static_cast<int>(f.cols());
    if (data.is_classification()) {
      e.label = data.labels[static_cast<std::size_t>(r)];
    } else {
      e.target = data.targets.data() + r * data.target_cols;
    }
    if constexpr (Rule::kMultipliers) {
      const Index id = data.first_id + r;
      if (id >= alpha_.first_id() && id < alpha_.first_id() + alpha_.count()) e.alpha = const_cast<double*>(alpha_.row(id));
    }
    return e;
  }

  Params params_;
  int outputs_ = 0;
  MultiplierStore alpha_;
};

}  // namespace normscale
