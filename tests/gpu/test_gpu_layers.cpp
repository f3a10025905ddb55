// DeviceNetwork against Network<float> on the same weights and inputs: every layer's forward and
// backward (dense with and without bias, ReLU, identity, batch norm with and without affine, in
// training and eval mode, per rank and through a statistics reducer), and the support-vector skip's
// subset backward against the full backward with the skipped rows' output gradient zero.
#include "gpu_support.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"
#include "normscale/cuda/device_network.hpp"
#include "normscale/model/architectures.hpp"

#include <gmock/gmock.h>

#include <cmath>
#include <limits>

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

// The host network's parameters into the device network's.
void copy_parameters(const Network<float>& host, DeviceNetwork& device) {
  auto params = to_device(host.parameters());
  ASSERT_EQ(cudaMemcpy(device.parameters(), params.data(), params.size() * sizeof(float), cudaMemcpyDeviceToDevice),
            cudaSuccess);
}

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
  copy_parameters(*host, device);
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

// A NaN input row stays NaN through the hidden ReLU on both devices (fmaxf would have made the row's hidden
// activations 0 and its outputs finite, hiding a divergence from the loss).
TEST(GpuLayers, ANanRowStaysNanThroughReluAsOnTheCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const MlpSpec spec{3, {4}, 2, "relu", true};
  auto host = make_mlp<float>(spec);
  host->initialize({"he", 1.0}, 3);
  CudaContext context(false);
  DeviceNetwork device(*host, context);
  copy_parameters(*host, device);
  device.reserve(2);
  Matrix<float> x = random_matrix(2, 3, 11);
  x(0, 1) = std::numeric_limits<float>::quiet_NaN();
  const Matrix<float> f = host->forward(x);
  auto dx = to_device(as_vector(x));
  const std::vector<float> df = to_host(device.forward(dx.data(), 2), 4);
  for (std::size_t i = 0; i < df.size(); ++i) {
    EXPECT_EQ(std::isnan(df[i]), std::isnan(f.data()[i])) << "output " << i;
    EXPECT_EQ(std::isnan(df[i]), i < 2) << "output " << i;  // the first row's
  }
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

// Batch-norm MLP (dense -> BN -> ReLU per hidden layer, as make_bn_mlp): a training-mode forward
// (outputs, every activation, the updated running statistics) and backward (the flat gradient,
// gamma and beta included), then an eval-mode forward with the running statistics and its backward.
// Non-default running statistics and, with affine, non-trivial gamma and beta.
void check_bn_network(bool affine, Index n, const StatisticsReducer& host_reducer = {},
                      const DeviceStatisticsReducer& device_reducer = {}) {
  BnMlpSpec spec{13, {24, 17}, 4};
  spec.batch_norm.affine = affine;
  spec.batch_norm.momentum = 0.3;
  spec.batch_norm.reducer = host_reducer;
  auto host = make_bn_mlp<float>(spec);
  host->initialize({"he", 1.0}, 5);
  RandomStream rng(17, StreamPurpose::kSynthetic);
  Index offset = 0;
  for (std::size_t i = 0; i < host->layer_count(); ++i) {
    const Layer<float>& layer = host->layer(i);
    if (affine && layer.kind().find("batch-norm") != std::string::npos) {
      const Index c = layer.parameter_count() / 2;
      ASSERT_GT(c, 0) << layer.kind();
      for (Index k = 0; k < c; ++k) {
        host->mutable_parameters()[static_cast<std::size_t>(offset + k)] = static_cast<float>(1.0 + 0.3 * rng.normal());
        host->mutable_parameters()[static_cast<std::size_t>(offset + c + k)] = static_cast<float>(0.3 * rng.normal());
      }
    }
    offset += layer.parameter_count();
  }
  std::vector<float> state = host->layer_state();
  ASSERT_EQ(state.size(), 2u * (24 + 17));
  for (std::size_t k = 0; k < state.size(); ++k) {
    // Means, then variances, per layer: layer 1 is [0, 24) [24, 48), layer 2 [48, 65) [65, 82).
    const bool variance = (k >= 24 && k < 48) || k >= 65;
    state[k] = variance ? static_cast<float>(0.5 + std::abs(rng.normal())) : static_cast<float>(0.4 * rng.normal());
  }
  host->set_layer_state(state);

  CudaContext context(false);
  DeviceNetwork device(*host, context);
  if (device_reducer) device.set_statistics_reducer(device_reducer);
  ASSERT_TRUE(device.has_batch_norm());
  ASSERT_EQ(device.parameter_count(), host->parameter_count());
  ASSERT_EQ(device.state_size(), static_cast<Index>(state.size()));
  ASSERT_EQ(device.layers().size(), 3u);
  copy_parameters(*host, device);
  ASSERT_EQ(cudaMemcpy(device.state(), state.data(), state.size() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  device.reserve(n);

  Matrix<float> x = random_matrix(n, spec.inputs, 11);
  x.array() += 0.7f;  // a non-zero mean at the first batch norm
  const Matrix<float> dout = random_matrix(n, spec.outputs, 12);
  auto dx = to_device(as_vector(x));
  auto ddout = to_device(as_vector(dout));

  // Training mode.
  const Matrix<float> f = host->forward(x, Mode::kTrain);
  host->backward(dout);
  const float* df = device.forward(dx.data(), n, Mode::kTrain);
  expect_close(to_host(df, static_cast<std::size_t>(n * spec.outputs)), as_vector(f), 1e-4, "train outputs");
  for (std::size_t i = 1; i < device.layers().size(); ++i) {
    const Matrix<float>& a = host->activation(3 * i);  // dense, batch norm, relu per hidden layer
    expect_close(to_host(device.activation(i), static_cast<std::size_t>(a.size())), as_vector(a), 1e-4,
                 "train activation " + std::to_string(i));
  }
  expect_close(to_host(device.state(), state.size()), host->layer_state(), 1e-5, "running statistics");
  std::vector<std::size_t> ready;
  device.backward(ddout.data(), n, [&](std::size_t layer) { ready.push_back(layer); });
  expect_close(to_host(device.gradient(), host->gradient().size()), host->gradient(), 1e-4, "train gradient");
  EXPECT_EQ(ready, (std::vector<std::size_t>{2, 1, 0}));

  // A second training step's statistics accumulate on the first's.
  host->forward(x * 0.5f, Mode::kTrain);
  auto dx_half = to_device(as_vector(x * 0.5f));
  device.forward(dx_half.data(), n, Mode::kTrain);
  expect_close(to_host(device.state(), state.size()), host->layer_state(), 1e-5, "running statistics, two updates");

  // Eval mode: the running statistics, left unchanged.
  const std::vector<float> running = host->layer_state();
  const Matrix<float> fe = host->forward(x, Mode::kEval);
  host->backward(dout);
  const float* dfe = device.forward(dx.data(), n, Mode::kEval);
  expect_close(to_host(dfe, static_cast<std::size_t>(n * spec.outputs)), as_vector(fe), 1e-4, "eval outputs");
  device.backward(ddout.data(), n);
  expect_close(to_host(device.gradient(), host->gradient().size()), host->gradient(), 1e-4, "eval gradient");
  EXPECT_EQ(host->layer_state(), running);
  expect_close(to_host(device.state(), state.size()), running, 1e-5, "running statistics after eval");
}

TEST(GpuLayers, BatchNormTrainAndEvalMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  check_bn_network(false, 37);
}

TEST(GpuLayers, AffineBatchNormTrainAndEvalMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  check_bn_network(true, 64);
}

TEST(GpuLayers, AffineBatchNormAtPaperWidthMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  BnMlpSpec spec{784, {512, 512, 512}, 1};
  auto host = make_bn_mlp<float>(spec);
  host->initialize({"frobenius", 5.0}, 2);
  CudaContext context(false);
  DeviceNetwork device(*host, context);
  const Index n = 128;
  copy_parameters(*host, device);
  device.reserve(n);
  const Matrix<float> x = random_matrix(n, spec.inputs, 31);
  const Matrix<float> dout = random_matrix(n, spec.outputs, 32);
  const Matrix<float> f = host->forward(x, Mode::kTrain);
  host->backward(dout);
  auto dx = to_device(as_vector(x));
  auto ddout = to_device(as_vector(dout));
  expect_close(to_host(device.forward(dx.data(), n), static_cast<std::size_t>(n)), as_vector(f), 1e-4, "outputs");
  device.backward(ddout.data(), n);
  expect_close(to_host(device.gradient(), host->gradient().size()), host->gradient(), 1e-4, "gradient");
  expect_close(to_host(device.state(), static_cast<std::size_t>(device.state_size())), host->layer_state(), 1e-5,
               "running statistics");
}

// Sync-bn: the reducer gets the same sums at the same points as BatchNorm's. Both sides double them
// (as if a second rank held the same rows), which changes the count and so the running variance.
TEST(GpuLayers, SyncBatchNormReducesTheSameSumsAsCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  std::vector<std::size_t> host_calls, device_calls;
  const StatisticsReducer host_reducer = [&](std::span<double> sums) {
    host_calls.push_back(sums.size());
    for (double& v : sums) v *= 2.0;
  };
  const DeviceStatisticsReducer device_reducer = [&](double* values, std::size_t count) {
    device_calls.push_back(count);
    std::vector<double> sums = to_host(values, count);
    for (double& v : sums) v *= 2.0;
    ASSERT_EQ(cudaMemcpy(values, sums.data(), count * sizeof(double), cudaMemcpyHostToDevice), cudaSuccess);
  };
  check_bn_network(true, 29, host_reducer, device_reducer);
  EXPECT_FALSE(host_calls.empty());
  EXPECT_EQ(device_calls, host_calls);
}

// cuda_graphs: the training forward and the whole-batch backward are captured once per input and row count and
// replayed; a replay reads the current weights (they are changed between the calls here), every result equals
// the host network's, and what may not be replayed (eval mode, a gradient_ready callback, a row subset) is not.
void check_graph_replay(std::unique_ptr<Network<float>> host, Index n) {
  host->initialize({"he", 1.0}, 3);
  CudaContext context(false);
  DeviceNetwork device(*host, context);
  device.reserve(2 * n);
  device.use_graphs(true);
  const Matrix<float> x = random_matrix(2 * n, host->input_width(), 11);
  const Matrix<float> dout = random_matrix(2 * n, host->output_width(), 12);
  auto dx = to_device(as_vector(x));
  auto ddout = to_device(as_vector(dout));
  for (int round = 0; round < 3; ++round) {
    // New weights each round: a replayed graph must read them, not the ones of its capture.
    auto& params = host->mutable_parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i] *= 1.0f + 0.1f * static_cast<float>(round);
    auto dparams = to_device(params);
    ASSERT_EQ(cudaMemcpy(device.parameters(), dparams.data(), params.size() * sizeof(float), cudaMemcpyDeviceToDevice),
              cudaSuccess);
    for (const Index rows : {n, 2 * n}) {
      const std::string what = "round " + std::to_string(round) + ", " + std::to_string(rows) + " rows";
      const Matrix<float> xr = x.topRows(rows);
      const Matrix<float> f = host->forward(xr);
      host->backward(dout.topRows(rows));
      const float* df = device.forward(dx.data(), rows);
      expect_close(to_host(df, static_cast<std::size_t>(f.size())), as_vector(f), 1e-4, what + ": outputs");
      device.backward(ddout.data(), rows);
      expect_close(to_host(device.gradient(), host->gradient().size()), host->gradient(), 1e-4, what + ": gradient");
    }
    EXPECT_EQ(device.graph_count(), 4u) << "a forward and a backward graph per row count, captured once";
  }
  device.forward(dx.data(), n, Mode::kEval);
  device.backward(ddout.data(), n, [](std::size_t) {});
  EXPECT_EQ(device.graph_count(), 4u) << "eval mode and a gradient_ready callback are issued directly";
}

TEST(GpuLayers, CudaGraphsReplayForwardAndBackwardWithTheCurrentWeights) {
  NS_REQUIRE_CUDA_DEVICE();
  check_graph_replay(make_mlp<float>({17, {33, 20}, 5, "relu", true}), 19);
  BnMlpSpec spec{13, {24, 17}, 4};
  spec.batch_norm.affine = true;
  check_graph_replay(make_bn_mlp<float>(spec), 21);
}

// Mode::kTrainRepeat (Minnorm's exact update at the new weights): the outputs of a training pass, the running
// statistics left as the step's pass set them, as BatchNorm<float> does; with cuda_graphs too, where the repeated pass
// has a graph of its own (the step's graph updates them).
TEST(GpuLayers, ARepeatedTrainingPassLeavesTheRunningStatisticsAsOnTheCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  for (const bool graphs : {false, true}) {
    SCOPED_TRACE(graphs ? "with graphs" : "without graphs");
    BnMlpSpec spec{13, {24, 17}, 4};
    auto host = make_bn_mlp<float>(spec);
    host->initialize({"he", 1.0}, 3);
    CudaContext context(false);
    DeviceNetwork device(*host, context);
    copy_parameters(*host, device);
    const Index n = 21;
    device.reserve(n);
    device.use_graphs(graphs);
    const Matrix<float> x = random_matrix(n, spec.inputs, 41);
    auto dx = to_device(as_vector(x));
    for (int round = 0; round < 2; ++round) {  // the second replays the graphs
      const Matrix<float> f = host->forward(x, Mode::kTrain);
      const std::vector<float> running = host->layer_state();
      const std::vector<float> step = to_host(device.forward(dx.data(), n, Mode::kTrain), as_vector(f).size());
      const std::vector<float> state = to_host(device.state(), static_cast<std::size_t>(device.state_size()));
      expect_close(step, as_vector(f), 1e-4, "the step's outputs");
      expect_close(state, running, 1e-5, "running statistics after the step's pass");
      const Matrix<float> again = host->forward(x, Mode::kTrainRepeat);
      EXPECT_EQ(host->layer_state(), running);
      const std::vector<float> repeat = to_host(device.forward(dx.data(), n, Mode::kTrainRepeat), step.size());
      expect_close(repeat, as_vector(again), 1e-4, "the repeated pass's outputs");
      EXPECT_EQ(to_host(device.state(), state.size()), state) << "the repeated pass moved the running statistics";
    }
  }
}

TEST(GpuLayers, BatchNormNeedsTwoRowsAndNoSubsetBackward) {
  NS_REQUIRE_CUDA_DEVICE();
  BnMlpSpec spec{5, {4}, 2};
  auto host = make_bn_mlp<float>(spec);
  host->initialize({"he", 1.0}, 1);
  CudaContext context(false);
  DeviceNetwork device(*host, context);
  device.reserve(8);
  auto dx = to_device(std::vector<float>(40, 0.5f));
  auto ddout = to_device(std::vector<float>(16, 1.0f));
  try {
    device.forward(dx.data(), 1, Mode::kTrain);
    FAIL() << "expected an error for a one-row training batch";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("more than one value per channel"));
  }
  device.forward(dx.data(), 1, Mode::kEval);  // eval mode needs no batch statistics
  device.forward(dx.data(), 8, Mode::kTrain);
  auto subset = to_device(std::vector<std::int32_t>{0, 2});
  EXPECT_THROW(device.backward(ddout.data(), 8, {}, subset.data(), 2), Error);
}

TEST(GpuLayers, WeightNormIsAClearErrorNamingTheOption) {
  NS_REQUIRE_CUDA_DEVICE();
  BnMlpSpec spec{5, {4}, 2};
  spec.use_batch_norm = false;
  spec.weight_norm = true;
  auto host = make_bn_mlp<float>(spec);
  CudaContext context(false);
  try {
    DeviceNetwork device(*host, context);
    FAIL() << "expected an error for weight norm on the GPU";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("model.weight_norm"));
    EXPECT_THAT(error.what(), ::testing::HasSubstr("device = \"cpu\""));
  }
}

}  // namespace
}  // namespace normscale
