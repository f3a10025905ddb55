// DeviceObjective's multipliers and data, and the registry that finds a rule's device implementation.
#include "normscale/cuda/device_objective.hpp"

#include "normscale/cuda/device_dataset.hpp"

#include "cuda/check.hpp"
#include "cuda/kernels.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/objective/multiplier_store.hpp"

#include <map>
#include <mutex>

namespace normscale {

namespace {

std::map<std::type_index, DeviceObjectiveFactory>& device_rules() {
  static std::map<std::type_index, DeviceObjectiveFactory> rules;
  return rules;
}

std::mutex& device_rules_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

struct DeviceObjective::Multipliers {
  DeviceBuffer<double> values;
};

DeviceObjective::DeviceObjective(std::int64_t rows, std::int64_t outputs, int per_example, int multipliers,
                                 CudaContext& context)
    : context_(context), rows_(rows), outputs_(outputs), per_example_(per_example), multipliers_(multipliers),
      alpha_(std::make_unique<Multipliers>()) {
  if (per_example > 0) {
    alpha_->values.resize(static_cast<std::size_t>(rows * per_example));
    alpha_->values.zero(context.compute());
  }
}

DeviceObjective::~DeviceObjective() = default;

CUstream_st* DeviceObjective::stream() const { return context_.compute(); }

double* DeviceObjective::alpha() const { return alpha_->values.empty() ? nullptr : alpha_->values.data(); }

RowTargets DeviceObjective::targets_of(const DeviceDataset& data, const std::int32_t* rows, std::int64_t row_offset) {
  RowTargets t;
  t.rows = rows;
  t.row_offset = row_offset;
  t.labels = data.classification ? data.labels.data() : nullptr;
  t.targets = data.classification ? nullptr : data.targets.data();
  t.target_cols = static_cast<int>(data.target_cols);
  return t;
}

void DeviceObjective::load_multipliers(const MultiplierStore& store) {
  if (alpha_->values.empty()) return;
  NS_CHECK(static_cast<std::int64_t>(store.values().size()) == rows_ * per_example_,
           "multiplier store holds {} values; the device expects {} rows x {}", store.values().size(), rows_,
           per_example_);
  context_.synchronize();
  alpha_->values.upload(store.values());
}

void DeviceObjective::store_multipliers(MultiplierStore& store) const {
  if (alpha_->values.empty()) return;
  NS_CHECK(static_cast<std::int64_t>(store.values().size()) == rows_ * per_example_,
           "multiplier store holds {} values; the device has {} rows x {}", store.values().size(), rows_,
           per_example_);
  context_.synchronize();
  alpha_->values.download(store.values());
}

void DeviceObjective::count_support(unsigned long long* count) const {
  if (alpha_->values.empty()) return;
  kernels::count_support(alpha_->values.data(), rows_, per_example_, multipliers_, count, context_.compute());
  NS_CUDA_CHECK_LAUNCH("count_support");
}

void register_device_objective(std::type_index rule, DeviceObjectiveFactory factory) {
  const std::lock_guard<std::mutex> lock(device_rules_mutex());
  device_rules()[rule] = factory;
}

std::unique_ptr<DeviceObjective> make_device_objective(std::type_index rule, const void* params,
                                                       const std::string& name, std::int64_t rows,
                                                       std::int64_t outputs, CudaContext& context) {
  static std::once_flag builtins;
  std::call_once(builtins, register_builtin_device_rules);
  DeviceObjectiveFactory factory = nullptr;
  {
    const std::lock_guard<std::mutex> lock(device_rules_mutex());
    const auto found = device_rules().find(rule);
    if (found != device_rules().end()) factory = found->second;
  }
  NS_CHECK(factory != nullptr,
           "device = \"cuda\": objective '{}' has no GPU implementation (its rule was never registered with "
           "register_device_rule, docs/EXTENDING.md); use device = \"cpu\"",
           name);
  return factory(params, rows, outputs, context);
}

void check_kernel_launch(const char* kernel) { NS_CUDA_CHECK_LAUNCH(kernel); }

}  // namespace normscale
