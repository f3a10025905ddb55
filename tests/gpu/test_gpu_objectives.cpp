// The device objectives (found by each host objective's rule) against the host objectives on the same outputs: cross-entropy (softmax and
// logistic), square loss (one-hot, +-1 with Hui-Belkin k/M, one output, regression) and Minnorm
// (multi-class, binary, regression): output gradients with a scale, loss sums, errors, the lagged
// and exact multiplier updates, the Lagrangian data terms and the support count.
#include "gpu_support.hpp"

#include "normscale/core/rng.hpp"
#include "normscale/cuda/device_dataset.hpp"
#include "normscale/cuda/device_objective.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"

#include "support/random_data.hpp"

#include <memory>
#include <numeric>

namespace normscale {
namespace {

using gpu_testing::expect_close;
using gpu_testing::to_device;
using gpu_testing::to_host;

constexpr Index kRows = 61;

Dataset classification(Index classes) {
  return testing::random_classification(kRows, 3, classes, 5, testing::LabelRule::kRandom);
}

Dataset regression(Index targets) {
  Dataset d = testing::random_classification(kRows, 3, 2, 6, testing::LabelRule::kCyclic);
  d.labels.clear();
  d.num_classes = 0;
  d.target_cols = targets;
  RandomStream rng(7, StreamPurpose::kSynthetic);
  for (Index i = 0; i < kRows * targets; ++i) d.targets.push_back(static_cast<float>(rng.normal()));
  return d;
}

Matrix<float> outputs_for(Index n, Index C, std::uint64_t seed) {
  RandomStream rng(seed, StreamPurpose::kSynthetic);
  Matrix<float> f(n, C);
  for (Index i = 0; i < f.size(); ++i) f.data()[i] = static_cast<float>(1.5 * rng.normal());
  return f;
}

std::vector<float> as_vector(const Matrix<float>& m) { return {m.data(), m.data() + m.size()}; }

// Every rule of one objective on a batch of scattered rows and on a contiguous evaluation range.
void check_objective(Objective<float>& host, const Dataset& data, Index C) {
  CudaContext context(false);
  std::vector<Index> rows;
  for (Index r = 0; r < data.rows; r += 2) rows.push_back((r * 7) % data.rows);  // scattered, distinct
  const Index n = static_cast<Index>(rows.size());
  std::vector<std::int32_t> rows32(rows.begin(), rows.end());
  MultiplierStore* store = host.multipliers();
  if (store != nullptr) {
    // Random multipliers, a third of the examples with all zero (non-support).
    RandomStream rng(8, StreamPurpose::kSynthetic);
    for (Index r = 0; r < data.rows; ++r) {
      for (Index i = 0; i < C; ++i) {
        const double value = std::abs(rng.normal());
        store->row(data.first_id + r)[i] = r % 3 == 0 ? 0.0 : (i % 2 == 0 ? value : 0.0) + (i == 1 ? value : 0.0);
      }
    }
  }
  const std::unique_ptr<DeviceObjective> made =
      make_device_objective(host.rule_type(), host.rule_params(), host.name(), data.rows, C, context);
  DeviceObjective& device = *made;
  if (store != nullptr) device.load_multipliers(*store);
  DeviceDataset ddata;
  ddata.upload(data);
  const Matrix<float> f = outputs_for(n, C, 21);
  auto df = to_device(as_vector(f));
  auto drows = to_device(rows32);
  DeviceBuffer<float> dgrad(static_cast<std::size_t>(n * C));
  DeviceBuffer<double> dsum(1);
  DeviceBuffer<std::int32_t> dactive(static_cast<std::size_t>(n));
  DeviceBuffer<unsigned long long> derrors(1);

  // Output gradient and loss, with a scale.
  const float scale = 0.37f;
  Matrix<float> grad;
  host.output_gradient(data, rows, f, scale, grad);
  dsum.zero();
  device.output_gradient(ddata, df.data(), drows.data(), n, scale, dgrad.data(), dsum.data(), dactive.data(), false, nullptr);
  expect_close(to_host(dgrad, static_cast<std::size_t>(n * C)), as_vector(grad), 1e-5, "output gradient");
  expect_close(to_host(dsum, 1)[0], host.loss_sum(data, rows, f), 1e-6, "loss sum");
  const std::vector<std::int32_t> active = to_host(dactive, static_cast<std::size_t>(n));
  for (Index k = 0; k < n; ++k) {
    const bool zero_gradient = grad.row(k).isZero(0.0f);
    if (host.traits().sparse_gradient) {
      EXPECT_EQ(active[static_cast<std::size_t>(k)] == 0, host.gradient_is_zero(data.first_id + rows[static_cast<std::size_t>(k)]))
          << "row " << k;
      if (active[static_cast<std::size_t>(k)] == 0) {
        EXPECT_TRUE(zero_gradient) << "row " << k;
      }
    } else {
      EXPECT_EQ(active[static_cast<std::size_t>(k)], 1) << "row " << k;
    }
  }

  // Errors and loss on a contiguous range (evaluation).
  const Index offset = 5, count = data.rows - 9;
  std::vector<Index> range(static_cast<std::size_t>(count));
  std::iota(range.begin(), range.end(), offset);
  const Matrix<float> fe = outputs_for(count, C, 22);
  auto dfe = to_device(as_vector(fe));
  dsum.zero();
  derrors.zero();
  device.loss_and_errors(ddata, dfe.data(), offset, count, dsum.data(), derrors.data());
  expect_close(to_host(dsum, 1)[0], host.loss_sum(data, range, fe), 1e-6, "evaluation loss");
  EXPECT_EQ(static_cast<Index>(to_host(derrors, 1)[0]), count_errors(data, range, fe));

  if (store == nullptr) return;
  // Lagrangian data terms at the current multipliers, violated constraints and slackness, and the support count.
  auto dterms = to_device(std::vector<double>(3, 0.0));
  device.dual_terms_sum(ddata, dfe.data(), offset, count, dterms.data());
  const std::vector<double> terms = to_host(dterms, 3);
  const DualTerms want = host.dual_terms_sum(data, range, fe);
  expect_close(terms[0], want.lagrangian, 1e-6, "Lagrangian data sum");
  expect_close(terms[1], want.violated, 1e-6, "violated constraints");
  expect_close(terms[2], want.slackness, 1e-6, "complementary slackness");
  derrors.zero();
  device.count_support(derrors.data());
  EXPECT_EQ(static_cast<Index>(to_host(derrors, 1)[0]), store->support_count());

  // Lagged update: the gradient with the old multipliers, then the update with the same outputs.
  const std::vector<double> before = store->values();
  host.update_multipliers(data, rows, f);
  device.output_gradient(ddata, df.data(), drows.data(), n, scale, dgrad.data(), nullptr, nullptr, true, nullptr);
  expect_close(to_host(dgrad, static_cast<std::size_t>(n * C)), as_vector(grad), 1e-5, "lagged gradient (old alpha)");
  MultiplierStore copy = *store;
  device.store_multipliers(copy);
  expect_close(copy.values(), store->values(), 1e-6, "lagged multipliers");

  // Exact update (the trainer's second forward pass supplies new outputs).
  const Matrix<float> f_new = outputs_for(n, C, 23);
  auto df_new = to_device(as_vector(f_new));
  host.update_multipliers(data, rows, f_new);
  device.update_multipliers(ddata, df_new.data(), drows.data(), n, nullptr);
  device.store_multipliers(copy);
  expect_close(copy.values(), store->values(), 1e-6, "exact multipliers");
  EXPECT_NE(store->values(), before);
}

TEST(GpuObjectives, SoftmaxCrossEntropy) {
  NS_REQUIRE_CUDA_DEVICE();
  CrossEntropy<float> ce;
  check_objective(ce, classification(4), 4);
}

TEST(GpuObjectives, LogisticCrossEntropyWithOneOutput) {
  NS_REQUIRE_CUDA_DEVICE();
  CrossEntropy<float> ce;
  check_objective(ce, classification(2), 1);
}

TEST(GpuObjectives, SquareOneHotPlusMinusOneRescaledAndRegression) {
  NS_REQUIRE_CUDA_DEVICE();
  const SquareTargets one_hot{};
  Square<float> a(one_hot);
  check_objective(a, classification(5), 5);
  const SquareTargets pm1{true, 2.5, 3.0};
  Square<float> b(pm1);
  check_objective(b, classification(5), 5);
  Square<float> c(pm1);
  check_objective(c, classification(2), 1);
  Square<float> d(one_hot);
  check_objective(d, regression(2), 2);
}

TEST(GpuObjectives, MinnormMulticlass) {
  NS_REQUIRE_CUDA_DEVICE();
  const Dataset data = classification(4);
  Minnorm<float> m({MinnormTask::kMulticlass, 0.7, 0.3}, data, 4);
  check_objective(m, data, 4);
}

TEST(GpuObjectives, MinnormBinary) {
  NS_REQUIRE_CUDA_DEVICE();
  const Dataset data = classification(2);
  Minnorm<float> m({MinnormTask::kBinary, 0.5, 0.2}, data, 1);
  check_objective(m, data, 1);
}

TEST(GpuObjectives, MinnormRegressionNeverSkips) {
  NS_REQUIRE_CUDA_DEVICE();
  const Dataset data = regression(2);
  Minnorm<float> m({MinnormTask::kRegression, 0.5, 0.2}, data, 2);
  check_objective(m, data, 2);
}

}  // namespace
}  // namespace normscale
