// DeviceExampleObjective<Rule>: the GPU's kernels over a per-example rule (objective/example_objective.hpp
// states the rule contract), one thread per example, the same rule functions the CPU runs. A .cu file
// makes a rule available on GPU ranks with one call: register_device_rule<Rule>() (the built-ins in
// src/cuda/device_objectives.cu).
#pragma once

#include "normscale/cuda/block_add.cuh"
#include "normscale/cuda/device_objective.hpp"
#include "normscale/objective/example.hpp"

#include <typeinfo>

namespace normscale {

namespace device_rule_kernels {

__device__ inline std::int64_t row_of(const RowTargets& t, std::int64_t k) {
  return t.rows != nullptr ? static_cast<std::int64_t>(t.rows[k]) : t.row_offset + k;
}

// Batch position k with outputs f (n x C) and its row's targets and M multiplier values (alpha may be null).
__device__ inline Example<float> example_at(const RowTargets& t, const float* f, std::int64_t k, int C,
                                            double* alpha, int M) {
  const std::int64_t r = row_of(t, k);
  Example<float> e;
  e.f = f + k * C;
  e.outputs = C;
  if (t.labels != nullptr) {
    e.label = t.labels[r];
  } else {
    e.target = t.targets + r * t.target_cols;
  }
  e.alpha = alpha != nullptr ? alpha + r * M : nullptr;
  return e;
}

template <class Rule>
__global__ void output_gradient(typename Rule::Params p, const float* f, std::int64_t n, int C, RowTargets t,
                                double* alpha, int M, double scale, float* grad, double* loss_sum, std::int32_t* active,
                                bool lagged_update, const double* curvature) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  double loss = 0.0;
  if (k < n) {
    Example<float> e = example_at(t, f, k, C, alpha, M);
    if (curvature != nullptr) e.curvature = curvature[k];
    loss = Rule::loss(p, e);
    if constexpr (Rule::kMultipliers) {
      // Decided with the multipliers the gradient uses, before a lagged update changes them.
      if (active != nullptr) active[k] = Rule::zero_gradient(p, e.alpha, C) ? 0 : 1;
      Rule::gradient(p, e, scale, grad + k * C);
      if (lagged_update) Rule::update(p, e);
    } else {
      if (active != nullptr) active[k] = 1;
      Rule::gradient(p, e, scale, grad + k * C);
    }
  }
  if (loss_sum != nullptr) kernels::block_add(loss, loss_sum);
}

template <class Rule>
__global__ void update_multipliers(typename Rule::Params p, const float* f, std::int64_t n, int C, RowTargets t,
                                   double* alpha, int M, const double* curvature) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (k < n) {
    Example<float> e = example_at(t, f, k, C, alpha, M);
    if (curvature != nullptr) e.curvature = curvature[k];
    Rule::update(p, e);
  }
}

template <class Rule>
__global__ void loss_and_errors(typename Rule::Params p, const float* f, std::int64_t n, int C, RowTargets t,
                                double* loss_sum, unsigned long long* errors) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  double loss = 0.0;
  unsigned long long wrong = 0;
  if (k < n) {
    const Example<float> e = example_at(t, f, k, C, nullptr, 0);
    loss = Rule::loss(p, e);
    if (e.classification()) wrong = predicted_class(e.f, C) != e.label ? 1 : 0;
  }
  kernels::block_add(loss, loss_sum);
  kernels::block_add(wrong, errors);
}

// sums[0..2] += the rows' DualTerms (Lagrangian data terms, violated constraints, complementary slackness).
template <class Rule>
__global__ void dual_terms(typename Rule::Params p, const float* f, std::int64_t n, int C, RowTargets t,
                           double* alpha, int M, double* sums) {
  const std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  DualTerms terms;
  if (k < n) Rule::add_dual_terms(p, example_at(t, f, k, C, alpha, M), terms);
  kernels::block_add(terms.lagrangian, sums);
  __syncthreads();  // block_add's shared storage is used again
  kernels::block_add(terms.violated, sums + 1);
  __syncthreads();
  kernels::block_add(terms.slackness, sums + 2);
}

}  // namespace device_rule_kernels

template <class Rule>
class DeviceExampleObjective final : public DeviceObjective {
 public:
  using Params = typename Rule::Params;

  DeviceExampleObjective(const Params& params, std::int64_t rows, std::int64_t outputs, CudaContext& context)
      : DeviceObjective(rows, outputs, state_count_of<Rule>(params, static_cast<int>(outputs)),
                        multiplier_count_of<Rule>(params, static_cast<int>(outputs)), context),
        params_(params) {}

  void output_gradient(const DeviceDataset& data, const float* f, const std::int32_t* rows, std::int64_t n,
                       double scale, float* grad, double* loss_sum, std::int32_t* active, bool lagged_update,
                       const double* curvature) override {
    if (n == 0) return;
    device_rule_kernels::output_gradient<Rule><<<kernels::blocks_for(n), kernels::kThreads, 0, stream()>>>(
        params_, f, n, width(), targets_of(data, rows, 0), alpha(), per_example(), scale, grad, loss_sum, active,
        lagged_update, curvature);
    check_kernel_launch("output_gradient");
  }

  void update_multipliers(const DeviceDataset& train, const float* f, const std::int32_t* rows, std::int64_t n,
                          const double* curvature) override {
    if constexpr (Rule::kMultipliers) {
      if (n == 0) return;
      device_rule_kernels::update_multipliers<Rule><<<kernels::blocks_for(n), kernels::kThreads, 0, stream()>>>(
          params_, f, n, width(), targets_of(train, rows, 0), alpha(), per_example(), curvature);
      check_kernel_launch("update_multipliers");
    }
  }

  void loss_and_errors(const DeviceDataset& data, const float* f, std::int64_t row_offset, std::int64_t n,
                       double* loss_sum, unsigned long long* errors) const override {
    if (n == 0) return;
    device_rule_kernels::loss_and_errors<Rule><<<kernels::blocks_for(n), kernels::kThreads, 0, stream()>>>(
        params_, f, n, width(), targets_of(data, nullptr, row_offset), loss_sum, errors);
    check_kernel_launch("loss_and_errors");
  }

  void dual_terms_sum(const DeviceDataset& train, const float* f, std::int64_t row_offset, std::int64_t n,
                      double* sums) const override {
    if constexpr (Rule::kMultipliers) {
      if (n == 0) return;
      device_rule_kernels::dual_terms<Rule><<<kernels::blocks_for(n), kernels::kThreads, 0, stream()>>>(
          params_, f, n, width(), targets_of(train, nullptr, row_offset), alpha(), per_example(), sums);
      check_kernel_launch("dual_terms_sum");
    }
  }

 private:
  int width() const { return static_cast<int>(outputs()); }
  Params params_;
};

// Makes the rule's objectives trainable on GPU ranks (call once, before the first GPU trainer is built).
template <class Rule>
void register_device_rule() {
  register_device_objective(typeid(Rule), [](const void* params, std::int64_t rows, std::int64_t outputs,
                                             CudaContext& context) -> std::unique_ptr<DeviceObjective> {
    return std::make_unique<DeviceExampleObjective<Rule>>(*static_cast<const typename Rule::Params*>(params), rows,
                                                          outputs, context);
  });
}

}  // namespace normscale
