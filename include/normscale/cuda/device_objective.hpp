// An objective on the GPU: its multipliers in device memory (double, like the host MultiplierStore)
// and the calls the CUDA executor makes. The implementation for every objective made of a per-example
// rule is DeviceExampleObjective<Rule> (device_example_objective.cuh); it is found by the rule's
// typeid, registered once per rule. .cu files include this header, so it holds neither Eigen nor
// C++20 (nvcc compiles C++17): the device buffers stay behind forward declarations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <typeindex>

struct CUstream_st;

namespace normscale {

class CudaContext;
struct DeviceDataset;
class MultiplierStore;

// Where the targets of batch position k live: local row rows[k] (or row_offset + k when rows is
// null) of labels (classification) or targets (row-major, target_cols wide; regression).
struct RowTargets {
  const std::int32_t* rows = nullptr;
  std::int64_t row_offset = 0;
  const std::int32_t* labels = nullptr;
  const float* targets = nullptr;
  int target_cols = 0;
};

class DeviceObjective {
 public:
  // `rows` training rows x `per_example` values (0: the objective has no multipliers), the first
  // `multipliers` of each row its multipliers.
  DeviceObjective(std::int64_t rows, std::int64_t outputs, int per_example, int multipliers, CudaContext& context);
  virtual ~DeviceObjective();
  DeviceObjective(const DeviceObjective&) = delete;
  DeviceObjective& operator=(const DeviceObjective&) = delete;

  std::int64_t outputs() const { return outputs_; }
  int per_example() const { return per_example_; }
  void load_multipliers(const MultiplierStore& store);
  void store_multipliers(MultiplierStore& store) const;

  // grad (n x outputs) = scale * dL/df for the rows `rows` (device, local rows of `data`) and
  // *loss_sum += their reporting loss (device double). active (optional): 1 where a row's gradient
  // can be non-zero. lagged_update: the multiplier update with f right after the gradient. curvature (device,
  // one value per batch position, or null): each example's Example::curvature for the multiplier update.
  virtual void output_gradient(const DeviceDataset& data, const float* f, const std::int32_t* rows, std::int64_t n,
                               double scale, float* grad, double* loss_sum, std::int32_t* active,
                               bool lagged_update, const double* curvature) = 0;
  virtual void update_multipliers(const DeviceDataset& train, const float* f, const std::int32_t* rows,
                                  std::int64_t n, const double* curvature) = 0;
  // Rows [row_offset, row_offset + n) of `data`: *loss_sum += reporting loss, *errors += errors.
  virtual void loss_and_errors(const DeviceDataset& data, const float* f, std::int64_t row_offset, std::int64_t n,
                               double* loss_sum, unsigned long long* errors) const = 0;
  // Rows [row_offset, row_offset + n) of the training set: sums[0], [1], [2] += the Lagrangian data terms,
  // violated constraints and complementary slackness (DualTerms, device doubles).
  virtual void dual_terms_sum(const DeviceDataset& train, const float* f, std::int64_t row_offset, std::int64_t n,
                              double* sums) const = 0;
  // *count += training rows with any multiplier > 0.
  void count_support(unsigned long long* count) const;

 protected:
  static RowTargets targets_of(const DeviceDataset& data, const std::int32_t* rows, std::int64_t row_offset);
  // rows x per_example values in device memory (null for a stateless objective).
  double* alpha() const;
  CUstream_st* stream() const;

 private:
  struct Multipliers;
  CudaContext& context_;
  std::int64_t rows_ = 0;
  std::int64_t outputs_ = 0;
  int per_example_ = 0;
  int multipliers_ = 0;
  std::unique_ptr<Multipliers> alpha_;
};

// Builds the device objective of a rule from its constants (a pointer to the rule's Params).
using DeviceObjectiveFactory = std::unique_ptr<DeviceObjective> (*)(const void* params, std::int64_t rows,
                                                                    std::int64_t outputs, CudaContext& context);
// Registers the device implementation of the objectives made of the rule with typeid `rule`.
void register_device_objective(std::type_index rule, DeviceObjectiveFactory factory);
// The device implementation of an objective (its rule_type() and rule_params()); an error naming
// `name` when its rule has none.
std::unique_ptr<DeviceObjective> make_device_objective(std::type_index rule, const void* params,
                                                       const std::string& name, std::int64_t rows,
                                                       std::int64_t outputs, CudaContext& context);
// Registers the built-in rules (cross-entropy, square loss, Minnorm); src/cuda/device_objectives.cu.
void register_builtin_device_rules();
// Throws normscale::Error naming `kernel` when the last launch failed.
void check_kernel_launch(const char* kernel);

}  // namespace normscale
