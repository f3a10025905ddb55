// GPU throughput of the paper's 784-800-800-10 MLP on one rank's GPU: training steps (SGD and Minnorm
// exact) in samples/s at batch 128, 1024 and the 60000-example full batch, SGD also with TF32 and bf16
// products and CUDA graphs; the square-bn-wd batch-norm MLP's steps at batch 128 and 1024; cuBLAS SGEMM GFLOP/s on the
// layer shapes (fp32 and TF32); and the device communicator's (NCCL) allreduce of the 5.1 MB gradient
// buffer, whole or as three grouped buckets (bus bandwidth 2(p-1)/p * bytes / time; run under mpirun,
// one GPU per rank, for p > 1). Each benchmark checks its
// result: the step's loss against the CPU Trainer's first step, GEMM entries against a host dot
// product, the allreduce sum against its expected value.
#include "normscale/comm/communicator_factory.hpp"
#include "normscale/cuda/cuda_trainer.hpp"
#include "normscale/cuda/device.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/model/architectures.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/config.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <mpi.h>

#include <cmath>
#include <memory>
#include <vector>

namespace normscale {
namespace {

constexpr Index kInputs = 784;
constexpr Index kExamples = 60000;
constexpr double kForwardFlops = 2.0 * (784 * 800 + 800 * 800 + 800 * 10);  // per sample

// Set by main (collective setup happens there once, never inside a benchmark's repetitions).
Communicator* g_world = nullptr;
std::string g_no_device;  // why there is no GPU, or empty
Communicator& world() { return *g_world; }

bool gpu_ready(benchmark::State& state) {
  if (!g_no_device.empty()) {
    state.SkipWithError(("no CUDA device: " + g_no_device).c_str());
    return false;
  }
  return true;
}

const Dataset& images() {
  static const Dataset d = [] {
    Dataset data;
    data.name = "bench";
    data.rows = data.total_rows = kExamples;
    data.cols = kInputs;
    data.num_classes = 10;
    RandomStream rng(1, StreamPurpose::kSynthetic);
    data.features.resize(static_cast<std::size_t>(kExamples * kInputs));
    for (float& v : data.features) v = static_cast<float>(rng.uniform());
    for (Index i = 0; i < kExamples; ++i) data.labels.push_back(static_cast<std::int32_t>(rng.below(10)));
    return data;
  }();
  return d;
}

// One rank's training steps; range(0) = batch (0: full batch), range(1) = 1 for Minnorm exact, range(2) = the
// GEMMs' products: 0 fp32, 1 TF32 (cuda_tf32), 2 bf16 operands with fp32 accumulation (precision = "bf16"),
// 3 fp32 with the forward and backward replayed as CUDA graphs (cuda_graphs).
void BM_GpuMlpStep(benchmark::State& state) {
  if (!gpu_ready(state)) return;
  LocalComm local;
  const Dataset& d = images();
  const bool minnorm = state.range(1) == 1;
  CudaEngineOptions products;
  products.tf32 = state.range(2) == 1;
  products.bf16 = state.range(2) == 2;
  products.graphs = state.range(2) == 3;
  // The first loss against the CPU's fp32 one: TF32 keeps 10 mantissa bits, bf16 7.
  const double tolerance = products.bf16 ? 2e-2 : products.tf32 ? 3e-3 : 1e-4;
  const auto make = [&](std::unique_ptr<Network<float>>& net, std::unique_ptr<Objective<float>>& obj) {
    net = make_mlp<float>({kInputs, {800, 800}, 10, "relu", true});
    net->initialize({"he", 1.0}, 1);
    if (minnorm) {
      obj = std::make_unique<Minnorm<float>>(MinnormParams{MinnormTask::kMulticlass, 1.0, 1e-3}, d, 10);
    } else {
      obj = std::make_unique<CrossEntropy<float>>();
    }
  };
  TrainerOptions options;
  options.batch = state.range(0) == 0 ? kFullBatch : state.range(0);
  options.lr = minnorm ? 1e-6 : 0.05;
  options.momentum = minnorm ? 0.0 : 0.9;
  options.weight_decay = minnorm ? 0.0 : 5e-4;
  std::unique_ptr<Network<float>> net;
  std::unique_ptr<Objective<float>> obj;
  make(net, obj);
  CudaTrainer trainer(options, products, local, d, d.rows, *net, *obj);
  trainer.load_from_host();
  // Correctness: the first step's loss equals the CPU Trainer's (minibatch only: a CPU full batch is slow).
  const StepStats first = trainer.step();
  if (!std::isfinite(first.loss_sum)) state.SkipWithError("non-finite loss");
  if (options.batch != kFullBatch) {
    std::unique_ptr<Network<float>> cpu_net;
    std::unique_ptr<Objective<float>> cpu_obj;
    make(cpu_net, cpu_obj);
    Trainer<float> cpu(options, local, d, d.rows, *cpu_net, *cpu_obj);
    const double expected = cpu.step().loss_sum;
    if (std::abs(first.loss_sum - expected) > tolerance * std::abs(expected)) {
      state.SkipWithError(fmt::format("GPU loss {} differs from the CPU's {}", first.loss_sum, expected).c_str());
    }
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(trainer.step());
  }
  cudaDeviceSynchronize();
  const double batch = static_cast<double>(trainer.global_batch());
  state.counters["samples_per_s"] = benchmark::Counter(batch * static_cast<double>(state.iterations()),
                                                       benchmark::Counter::kIsRate);
  // Forward + backward (3x forward) for SGD; Minnorm exact adds the multiplier update's forward.
  const double flops = (minnorm ? 4.0 : 3.0) * kForwardFlops * batch;
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GpuMlpStep)
    ->ArgsProduct({{128, 1024, 0}, {0, 1}, {0}})
    ->ArgsProduct({{128, 1024, 0}, {0}, {1, 2, 3}})
    ->ArgsProduct({{128, 1024}, {1}, {3}})
    ->ArgNames({"batch", "minnorm", "products"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The square-bn-wd model (784-512-512-512-1, batch norm without affine before each ReLU, +-1 square
// loss on a two-class split, weight decay and momentum); range(0) = batch. Checked like BM_GpuMlpStep.
void BM_GpuBnMlpStep(benchmark::State& state) {
  if (!gpu_ready(state)) return;
  LocalComm local;
  static const Dataset binary = [] {
    Dataset d = images();
    for (auto& label : d.labels) label = label % 2;
    d.num_classes = 2;
    return d;
  }();
  const auto make = [] {
    auto net = make_bn_mlp<float>(BnMlpSpec{kInputs, {512, 512, 512}, 1});
    net->initialize({"frobenius", 5.0}, 1);
    return net;
  };
  TrainerOptions options;
  options.batch = state.range(0);
  options.lr = 0.01;
  options.momentum = 0.9;
  options.weight_decay = 0.01;
  auto net = make();
  Square<float> objective(SquareTargets{true, 1.0, 1.0});
  CudaTrainer trainer(options, CudaEngineOptions{}, local, binary, binary.rows, *net, objective);
  trainer.load_from_host();
  const StepStats first = trainer.step();
  auto cpu_net = make();
  Square<float> cpu_objective(SquareTargets{true, 1.0, 1.0});
  Trainer<float> cpu(options, local, binary, binary.rows, *cpu_net, cpu_objective);
  const double expected = cpu.step().loss_sum;
  if (!(std::abs(first.loss_sum - expected) <= 1e-4 * std::abs(expected))) {
    state.SkipWithError(fmt::format("GPU loss {} differs from the CPU's {}", first.loss_sum, expected).c_str());
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(trainer.step());
  }
  cudaDeviceSynchronize();
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(options.batch * state.iterations()),
                                                       benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GpuBnMlpStep)->Arg(128)->Arg(1024)->ArgName("batch")->Unit(benchmark::kMillisecond)->UseRealTime();

// out (n x m) = x (n x k) W^T (m x k) as the dense layers issue it; range = n, k, m, tf32.
void BM_CublasSgemm(benchmark::State& state) {
  if (!gpu_ready(state)) return;
  const int n = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)),
            m = static_cast<int>(state.range(2));
  const bool tf32 = state.range(3) == 1;
  CudaContext context(tf32);
  RandomStream rng(2, StreamPurpose::kSynthetic);
  std::vector<float> x(static_cast<std::size_t>(n) * k), w(static_cast<std::size_t>(m) * k);
  for (float& v : x) v = static_cast<float>(rng.normal());
  for (float& v : w) v = static_cast<float>(rng.normal());
  DeviceBuffer<float> dx, dw, dout(static_cast<std::size_t>(n) * m);
  dx.upload(x);
  dw.upload(w);
  const float one = 1.0f, zero = 0.0f;
  const auto gemm = [&] {
    cublasSgemm(context.blas(), CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, dw.data(), k, dx.data(), k, &zero,
                dout.data(), m);
  };
  gemm();
  context.synchronize();
  std::vector<float> out(static_cast<std::size_t>(n) * m);
  dout.download(out);
  for (int probe = 0; probe < 4; ++probe) {
    const int r = (probe * 7919) % n, c = (probe * 104729) % m;
    double expected = 0.0, magnitude = 0.0;
    for (int i = 0; i < k; ++i) {
      expected += static_cast<double>(x[static_cast<std::size_t>(r) * k + i]) * w[static_cast<std::size_t>(c) * k + i];
      magnitude += std::abs(static_cast<double>(x[static_cast<std::size_t>(r) * k + i]) * w[static_cast<std::size_t>(c) * k + i]);
    }
    const double tolerance = (tf32 ? 2e-3 : 1e-5) * magnitude;
    if (std::abs(out[static_cast<std::size_t>(r) * m + c] - expected) > tolerance) {
      state.SkipWithError("SGEMM result differs from the host dot product");
      return;
    }
  }
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    cudaEventRecord(start, context.compute());
    gemm();
    cudaEventRecord(stop, context.compute());
    cudaEventSynchronize(stop);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(static_cast<double>(ms) / 1000.0);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.counters["GFLOP_per_s"] = benchmark::Counter(2.0 * n * k * m * static_cast<double>(state.iterations()) / 1e9,
                                                     benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CublasSgemm)
    ->ArgsProduct({{128, 1024, 60000}, {784}, {800}, {0, 1}})
    ->ArgsProduct({{128, 1024, 60000}, {800}, {800}, {0, 1}})
    ->ArgsProduct({{128, 1024, 60000}, {800}, {10}, {0, 1}})
    ->ArgNames({"n", "k", "m", "tf32"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// In-place sum of the MLP's gradient buffer (1,276,810 floats = 5.1 MB) over the device communicator
// (NCCL), enqueued on a stream and waited for: range(0) = 1 reduces it whole, 3 as the three layers'
// buckets in one grouped launch (as the trainer's buckets could go). A fixed iteration count keeps
// every rank in step.
void BM_NcclAllreduceGradient(benchmark::State& state) {
  if (!gpu_ready(state)) return;
  Communicator& comm = world();
  std::string why;
  double missing = cuda_device_count(&why) >= comm.size() ? 0.0 : 1.0;
  comm.allreduce_max(std::span<double>(&missing, 1));
  if (missing > 0) {
    state.SkipWithError("NCCL needs one GPU per rank on this node");
    return;
  }
  const std::unique_ptr<DeviceCommunicator> device_comm = make_device_communicator(comm);
  const std::vector<std::size_t> layers = {784 * 800 + 800, 800 * 800 + 800, 800 * 10 + 10};
  const std::size_t count = layers[0] + layers[1] + layers[2];
  std::vector<float> ones(count, 1.0f);
  DeviceBuffer<float> buffer;
  buffer.upload(ones);
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  const auto reduce = [&] {
    if (state.range(0) == 1) {
      device_comm->allreduce_sum_async(buffer.data(), count, stream);
    } else {
      device_comm->begin_group();
      std::size_t offset = 0;
      for (const std::size_t bucket : layers) {
        device_comm->allreduce_sum_async(buffer.data() + offset, bucket, stream);
        offset += bucket;
      }
      device_comm->end_group();
    }
    cudaStreamSynchronize(stream);
  };
  reduce();
  std::vector<float> check(count);
  buffer.download(check);
  const auto p = static_cast<float>(comm.size());
  if (check.front() != p || check[layers[0]] != p || check.back() != p) {
    cudaStreamDestroy(stream);
    state.SkipWithError("allreduce result differs from the rank count");
    return;
  }
  for (auto _ : state) reduce();
  cudaStreamDestroy(stream);
  const double bytes = static_cast<double>(count * sizeof(float));
  const double ranks = comm.size();
  state.counters["bytes"] = bytes;
  state.counters["algbw_GB_per_s"] =
      benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["busbw_GB_per_s"] = benchmark::Counter(
      2.0 * (ranks - 1.0) / ranks * bytes * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_NcclAllreduceGradient)->ArgName("buckets")->Arg(1)->Arg(3)->Iterations(200)->UseRealTime()->Unit(
    benchmark::kMicrosecond);

// Ranks other than 0 run the same benchmarks silently.
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace
}  // namespace normscale

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  benchmark::Initialize(&argc, argv);
  {
    const std::unique_ptr<normscale::Communicator> world = normscale::make_host_communicator();
    normscale::g_world = world.get();
    std::string why;
    if (normscale::cuda_device_count(&why) > 0) {
      normscale::select_cuda_device(*world, "device");  // local rank mod device count
    } else {
      normscale::g_no_device = why.empty() ? "none found" : why;
    }
    if (world->is_root()) {
      benchmark::RunSpecifiedBenchmarks();
    } else {
      normscale::SilentReporter silent;
      benchmark::RunSpecifiedBenchmarks(&silent);
    }
  }
  benchmark::Shutdown();
  MPI_Finalize();
  return 0;
}
