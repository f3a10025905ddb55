// The square-loss papers' ConvNet (3x3 convolutions with 32, 64, 128 channels, BN, ReLU, 2x2 max
// pooling, linear classifier) on 32x32x3 inputs: one convolution layer forward/backward (GFLOP/s)
// and the whole network's forward+backward (samples/s). Results are checked to be finite.
#include "normscale/model/architectures.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/gemm_backend.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <stdexcept>

namespace normscale {
namespace {

// Untimed passes before the timed ones: a new network's first passes touch its buffers' pages for the first time
// (and malloc's mmap threshold settles), which took 0.4-1.1 s per pass of the whole ConvNet on a 2-core VM against
// ~0.12 s after. A run of the benchmark with one iteration measured mostly that.
constexpr int kWarmUpPasses = 3;

Matrix<float> random_batch(Index rows, Index cols) {
  RandomStream rng(1, StreamPurpose::kSynthetic);
  Matrix<float> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
  return x;
}

// One 3x3 "same" convolution, in -> out channels on H x W: 2 * out * in * 9 * H * W FLOPs forward,
// twice that backward (weights and inputs).
void BM_Conv2dForwardBackward(benchmark::State& state) {
  set_gemm_threads(static_cast<int>(state.range(3)));
  const Index in = state.range(0), out = state.range(1), side = state.range(2), batch = 128;
  const FeatureMapShape shape{in, side, side};
  Conv2d<float> conv(shape, out, 3, false);
  std::vector<float> params(static_cast<std::size_t>(conv.parameter_count())), grads(params.size());
  conv.bind(params.data(), grads.data());
  RandomStream rng(2, StreamPurpose::kInit);
  conv.initialize({"he", 1.0}, rng);
  const Matrix<float> x = random_batch(batch, shape.size());
  Matrix<float> y, dx;
  const Matrix<float> dy = random_batch(batch, out * side * side);
  for (int i = 0; i < kWarmUpPasses; ++i) {
    conv.forward(x, y, Mode::kTrain);
    conv.backward(x, y, dy, &dx);
  }
  for (auto _ : state) {
    conv.forward(x, y, Mode::kTrain);
    conv.backward(x, y, dy, &dx);
    benchmark::DoNotOptimize(dx.data());
  }
  if (!std::isfinite(dx(0, 0)) || !std::isfinite(grads[0])) throw std::runtime_error("non-finite convolution");
  const double flops = 3.0 * 2.0 * static_cast<double>(out * in * 9 * side * side * batch);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Conv2dForwardBackward)
    ->Args({3, 32, 32, 1})
    ->Args({32, 64, 16, 1})
    ->Args({64, 128, 8, 1})
    ->Args({32, 64, 16, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Arguments: batch, threads, and 1 for bf16 products (precision = "bf16"; skipped where the CPU has none).
void BM_ConvNetForwardBackward(benchmark::State& state) {
  set_gemm_threads(static_cast<int>(state.range(1)));
  const bool bf16 = state.range(2) == 1;
  if (bf16 && !bf16_gemm_supported()) {
    state.SkipWithError("no bf16 dot products on this CPU (or no oneDNN)");
    return;
  }
  const ScopedGemmPrecision precision(bf16 ? GemmPrecision::kBf16 : GemmPrecision::kFloat32);
  const Index batch = state.range(0);
  auto net = make_convnet<float>(ConvNetSpec{});
  net->initialize({"he", 1.0}, 1);
  const Matrix<float> x = random_batch(batch, 3 * 32 * 32);
  const Matrix<float> g = Matrix<float>::Constant(batch, 2, 1e-3f);
  for (int i = 0; i < kWarmUpPasses; ++i) {
    net->forward(x, Mode::kTrain);
    net->backward(g);
  }
  for (auto _ : state) {
    net->forward(x, Mode::kTrain);
    net->backward(g);
    benchmark::DoNotOptimize(net->gradient().data());
  }
  if (!std::isfinite(net->gradient()[0])) throw std::runtime_error("non-finite gradient");
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ConvNetForwardBackward)
    ->ArgsProduct({{128}, {1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace normscale

BENCHMARK_MAIN();
