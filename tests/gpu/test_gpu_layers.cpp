// DeviceNetwork against Network<float> on the same weights and inputs: every layer's forward and
// backward (dense with and without bias, ReLU, identity), and the support-vector skip's subset
// backward against the full backward with the skipped rows' output gradient zero.
#include "gpu_support.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"
#include "normscale/cuda/device_network.hpp"
#include "normscale/model/architectures.hpp"

#include <gmock/gmock.h>

namespace normscale {
namespace {

using gpu_testing::expect_close;
using gpu_testing::to_device;
using gpu_testing::to_host;

Matrix<float> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  RandomStream rng(seed, StreamPurpose::kSynthetic);
  Matrix<float> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
  return m;
}

std::vector<float> as_vector(const Matrix<float>& m) { return {m.data(), m.data() + m.size()}; }

// Forward and backward of `spec` on n random rows, device against host.
void check_network(const MlpSpec& spec, Index n) {
  auto host = make_mlp<float>(spec);
  host->initialize({"he", 1.0}, 3);
  if (spec.bias) {
    // Non-zero biases, so that the bias path is exercised.
    RandomStream rng(9, StreamPurpose::kSynthetic);
    for (auto& b : host->biases()) {
      auto* p = const_cast<float*>(b.matrix.data());
      for (Index i = 0; i < b.matrix.size(); ++i) p[i] = static_cast<float>(0.3 * rng.normal());
    }
  }
  CudaContext context(false);
  DeviceNetwork device(*host, context);
  ASSERT_EQ(device.parameter_count(), host->parameter_count());
  auto params = to_device(host->parameters());
  ASSERT_EQ(cudaMemcpy(device.parameters(), params.data(), params.size() * sizeof(float), cudaMemcpyDeviceToDevice),
            cudaSuccess);
  device.reserve(n);

  const Matrix<float> x = random_matrix(n, spec.inputs, 11);
  const Matrix<float> dout = random_matrix(n, spec.outputs, 12);
  const Matrix<float> f = host->forward(x);
  host->backward(dout);

  auto dx = to_device(as_vector(x));
  auto ddout = to_device(as_vector(dout));
  const float* df = device.forward(dx.data(), n);
  expect_close(to_host(df, static_cast<std::size_t>(n * spec.outputs)), as_vector(f), 1e-4, "outputs");
  // Every hidden activation, not only the outputs.
  for (std::size_t i = 1; i < device.layers().size(); ++i) {
    const std::size_t host_index = spec.activation == "relu" ? 2 * i : i;
    const Matrix<float>& a = host->activation(host_index);
    expect_close(to_host(device.activation(i), static_cast<std::size_t>(a.size())), as_vector(a), 1e-4,
                 "activation " + std::to_string(i));
  }
  std::vector<std::size_t> ready;
  device.backward(ddout.data(), n, [&](std::size_t layer) { ready.push_back(layer); });
  expect_close(to_host(device.gradient(), host->gradient().size()), host->gradient(), 1e-4, "gradient");
  std::vector<std::size_t> expected_order;
  for (std::size_t i = device.layers().size(); i-- > 0;) expected_order.push_back(i);
  EXPECT_EQ(ready, expected_order) << "gradient_ready must report layers from the last to the first";

  // Support-vector skip: the backward over a subset equals the full one with the others' dout zeroed.
  std::vector<std::int32_t> subset;
  Matrix<float> masked = Matrix<float>::Zero(n, spec.outputs);
  for (Index k = 0; k < n; ++k) {
    if (k % 3 == 1) continue;
    subset.push_back(static_cast<std::int32_t>(k));
    masked.row(k) = dout.row(k);
  }
  host->forward(x);
  host->backward(masked);
  device.forward(dx.data(), n);
  auto dsubset = to_device(subset);
  device.backward(ddout.data(), n, {}, dsubset.data(), static_cast<Index>(subset.size()));
  expect_close(to_host(device.gradient(), host->gradient().size()), host->gradient(), 1e-4, "subset gradient");

  // No active row at all: the gradient is exactly zero.
  device.forward(dx.data(), n);
  device.backward(ddout.data(), n, {}, dsubset.data(), 0);
  for (float g : to_host(device.gradient(), host->gradient().size())) ASSERT_EQ(g, 0.0f);
}

TEST(GpuLayers, DenseReluWithBiasMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  check_network({17, {33, 20}, 5, "relu", true}, 37);
}

TEST(GpuLayers, DenseIdentityWithoutBiasMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  check_network({9, {12}, 3, "identity", false}, 21);
}

TEST(GpuLayers, LinearModelAndOneOutputMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  check_network({6, {}, 1, "relu", true}, 8);
}

TEST(GpuLayers, PaperMlpShapesMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  check_network({784, {800, 800}, 10, "relu", true}, 128);
}

TEST(GpuLayers, BatchNormIsAClearErrorNamingTheOption) {
  NS_REQUIRE_CUDA_DEVICE();
  BnMlpSpec spec{5, {4}, 2};
  spec.use_batch_norm = true;
  auto host = make_bn_mlp<float>(spec);
  CudaContext context(false);
  try {
    DeviceNetwork device(*host, context);
    FAIL() << "expected an error for batch norm on the GPU";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("model.batch_norm"));
    EXPECT_THAT(error.what(), ::testing::HasSubstr("device = \"cpu\""));
  }
}

}  // namespace
}  // namespace normscale
