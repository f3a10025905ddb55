// DeviceObjective: the host objective's kind and constants handed to the kernels of kernels.cu.
#include "normscale/cuda/device_objective.hpp"

#include "cuda/check.hpp"
#include "cuda/kernels.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"

namespace normscale {

struct DeviceObjective::Spec {
  kernels::ObjectiveSpec value;
};

namespace {

kernels::RowTargets targets_of(const DeviceDataset& data, const std::int32_t* rows, Index row_offset) {
  kernels::RowTargets t;
  t.rows = rows;
  t.row_offset = row_offset;
  t.labels = data.classification ? data.labels.data() : nullptr;
  t.targets = data.classification ? nullptr : data.targets.data();
  t.target_cols = static_cast<int>(data.target_cols);
  return t;
}

}  // namespace

void DeviceDataset::upload(const Dataset& data) {
  rows = data.rows;
  cols = data.cols;
  first_id = data.first_id;
  target_cols = data.target_cols;
  classification = data.is_classification();
  features.upload(std::span<const float>(data.features.data(), static_cast<std::size_t>(data.rows * data.cols)));
  if (classification) {
    labels.upload(std::span<const std::int32_t>(data.labels.data(), data.labels.size()));
  } else {
    targets.upload(std::span<const float>(data.targets.data(), data.targets.size()));
  }
}

DeviceObjective::DeviceObjective(const Objective<float>& objective, const Dataset& train, Index outputs,
                                 CudaContext& context)
    : context_(context), spec_(std::make_unique<Spec>()), outputs_(outputs), rows_(train.rows) {
  kernels::ObjectiveSpec& s = spec_->value;
  if (const auto* minnorm = dynamic_cast<const Minnorm<float>*>(&objective)) {
    s.kind = kernels::ObjectiveKind::kMinnorm;
    const MinnormParams& p = minnorm->params();
    s.task = p.task == MinnormTask::kRegression ? kernels::MinnormKind::kRegression
             : p.task == MinnormTask::kBinary  ? kernels::MinnormKind::kBinary
                                               : kernels::MinnormKind::kMulticlass;
    s.rho = p.rho;
    s.s = p.s;
    const MultiplierStore* store = minnorm->multipliers();
    NS_CHECK(store->per_example() == outputs_, "Minnorm keeps {} multipliers per example for {} outputs",
             store->per_example(), outputs_);
    alpha_.resize(static_cast<std::size_t>(rows_ * outputs_));
    load_multipliers(*store);
  } else if (const auto* square_loss = dynamic_cast<const Square<float>*>(&objective)) {
    const SquareTargets& square = square_loss->targets();
    s.kind = kernels::ObjectiveKind::kSquare;
    s.plus_minus_one = square.plus_minus_one ? 1 : 0;
    s.true_weight = square.true_weight;
    s.true_target = square.true_target;
  } else if (dynamic_cast<const CrossEntropy<float>*>(&objective) != nullptr) {
    s.kind = kernels::ObjectiveKind::kCrossEntropy;
  } else {
    NS_FAIL("device = \"cuda\": objective '{}' has no GPU implementation; use device = \"cpu\"", objective.name());
  }
}

DeviceObjective::~DeviceObjective() = default;

bool DeviceObjective::is_minnorm() const { return spec_->value.kind == kernels::ObjectiveKind::kMinnorm; }

bool DeviceObjective::skips_inactive() const {
  return is_minnorm() && spec_->value.task != kernels::MinnormKind::kRegression;
}

void DeviceObjective::load_multipliers(const MultiplierStore& store) {
  if (alpha_.empty()) return;
  NS_CHECK(static_cast<Index>(store.values().size()) == rows_ * outputs_,
           "multiplier store holds {} values; the device expects {} rows x {}", store.values().size(), rows_, outputs_);
  context_.synchronize();
  alpha_.upload(store.values());
}

void DeviceObjective::store_multipliers(MultiplierStore& store) const {
  if (alpha_.empty()) return;
  NS_CHECK(static_cast<Index>(store.values().size()) == rows_ * outputs_,
           "multiplier store holds {} values; the device has {} rows x {}", store.values().size(), rows_, outputs_);
  context_.synchronize();
  alpha_.download(store.values());
}

void DeviceObjective::output_gradient(const DeviceDataset& data, const float* f, const std::int32_t* rows, Index n,
                                      float scale, float* grad, double* loss_sum, std::int32_t* active,
                                      bool lagged_update) const {
  kernels::output_gradient(spec_->value, f, n, static_cast<int>(outputs_), targets_of(data, rows, 0),
                           const_cast<double*>(alpha_.data()), scale, grad, loss_sum, active,
                           lagged_update && is_minnorm(), context_.compute());
  NS_CUDA_CHECK_LAUNCH("output_gradient");
}

void DeviceObjective::update_multipliers(const DeviceDataset& train, const float* f, const std::int32_t* rows,
                                         Index n) {
  if (!is_minnorm()) return;
  kernels::update_multipliers(spec_->value, f, n, static_cast<int>(outputs_), targets_of(train, rows, 0),
                              alpha_.data(), context_.compute());
  NS_CUDA_CHECK_LAUNCH("update_multipliers");
}

void DeviceObjective::loss_and_errors(const DeviceDataset& data, const float* f, Index row_offset, Index n,
                                      double* loss_sum, unsigned long long* errors) const {
  kernels::loss_and_errors(spec_->value, f, n, static_cast<int>(outputs_), targets_of(data, nullptr, row_offset),
                           data.classification, loss_sum, errors, context_.compute());
  NS_CUDA_CHECK_LAUNCH("loss_and_errors");
}

void DeviceObjective::lagrangian_data_sum(const DeviceDataset& train, const float* f, Index row_offset, Index n,
                                          double* sum) const {
  if (!is_minnorm()) return;
  kernels::lagrangian_data_sum(spec_->value, f, n, static_cast<int>(outputs_), targets_of(train, nullptr, row_offset),
                               alpha_.data(), sum, context_.compute());
  NS_CUDA_CHECK_LAUNCH("lagrangian_data_sum");
}

void DeviceObjective::count_support(unsigned long long* count) const {
  if (!is_minnorm()) return;
  kernels::count_support(alpha_.data(), rows_, static_cast<int>(outputs_), count, context_.compute());
  NS_CUDA_CHECK_LAUNCH("count_support");
}

}  // namespace normscale
