// The objectives on the GPU: CrossEntropy, Square and Minnorm (with its multipliers in device memory,
// in double like the host MultiplierStore), each as one kernel per call that also sums the reporting
// loss, plus the data set rows (features, labels, targets) they read.
#pragma once

#include "normscale/cuda/device.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/multiplier_store.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/objective/square.hpp"

#include <cstdint>
#include <memory>

namespace normscale {

// A data set's rows in device memory.
struct DeviceDataset {
  Index rows = 0;
  Index cols = 0;
  Index first_id = 0;
  Index target_cols = 0;
  bool classification = false;
  DeviceBuffer<float> features;       // rows x cols
  DeviceBuffer<std::int32_t> labels;  // rows (classification)
  DeviceBuffer<float> targets;        // rows x target_cols (regression)

  void upload(const Dataset& data);
};

class DeviceObjective {
 public:
  // Mirrors `objective` (its kind and constants, Square's targets) for the rows of `train` and a
  // network with `outputs` outputs.
  DeviceObjective(const Objective<float>& objective, const Dataset& train, Index outputs, CudaContext& context);
  ~DeviceObjective();
  DeviceObjective(const DeviceObjective&) = delete;
  DeviceObjective& operator=(const DeviceObjective&) = delete;

  bool is_minnorm() const;
  // Minnorm classification: an example with all multipliers zero has a zero output gradient.
  bool skips_inactive() const;
  Index outputs() const { return outputs_; }
  // Train rows x outputs multipliers in device memory (null for a stateless objective).
  double* multipliers() { return alpha_.empty() ? nullptr : alpha_.data(); }
  void load_multipliers(const MultiplierStore& store);
  void store_multipliers(MultiplierStore& store) const;

  // grad (n x outputs) = scale * dL/df for the rows `rows` (device, local rows of `data`) and
  // *loss_sum += their reporting loss (device double). active (optional): 1 where a row's gradient
  // can be non-zero. lagged_update: Minnorm's multiplier update with f right after the gradient.
  void output_gradient(const DeviceDataset& data, const float* f, const std::int32_t* rows, Index n, float scale,
                       float* grad, double* loss_sum, std::int32_t* active, bool lagged_update) const;
  void update_multipliers(const DeviceDataset& train, const float* f, const std::int32_t* rows, Index n);
  // Rows [row_offset, row_offset + n) of `data`: *loss_sum += reporting loss, *errors += errors.
  void loss_and_errors(const DeviceDataset& data, const float* f, Index row_offset, Index n, double* loss_sum,
                       unsigned long long* errors) const;
  // Rows [row_offset, row_offset + n) of the training set: *sum += Lagrangian data terms.
  void lagrangian_data_sum(const DeviceDataset& train, const float* f, Index row_offset, Index n, double* sum) const;
  // *count += training rows with any multiplier > 0.
  void count_support(unsigned long long* count) const;

 private:
  struct Spec;
  CudaContext& context_;
  std::unique_ptr<Spec> spec_;
  Index outputs_ = 0;
  Index rows_ = 0;
  DeviceBuffer<double> alpha_;
};

}  // namespace normscale
