// The paper's 784-800-800-10 MLP: forward+backward throughput, and one Minnorm step vs one SGD step.
// Each benchmark checks its result (finite loss, weights moved) and reports samples/s and GFLOP/s.
#include "normscale/model/gemm.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/trainer.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <vector>

namespace normscale {
namespace {

constexpr Index kInputs = 784;
constexpr double kForwardFlops = 2.0 * (784 * 800 + 800 * 800 + 800 * 10);  // 2.55 M per sample

Dataset random_images(Index rows) {
  Dataset d;
  d.name = "bench";
  d.rows = rows;
  d.cols = kInputs;
  d.num_classes = 10;
  RandomStream rng(1, StreamPurpose::kSynthetic);
  d.features.resize(static_cast<std::size_t>(rows * kInputs));
  for (float& v : d.features) v = static_cast<float>(rng.uniform());
  for (Index i = 0; i < rows; ++i) d.labels.push_back(static_cast<std::int32_t>(i % 10));
  return d;
}

// Threads from the benchmark's second argument; the label names the GEMM back end that ran
// (NORMSCALE_GEMM selects it, perf/compare --gemm).
void set_threads(benchmark::State& state) {
  set_gemm_threads(static_cast<int>(state.range(1)));
  state.SetLabel(gemm_backend_name(active_gemm_backend()));
}

// Forward + backward of the network alone (the GEMMs): 3x the forward FLOPs.
void BM_MlpForwardBackward(benchmark::State& state) {
  set_threads(state);
  const Index batch = state.range(0);
  const Dataset d = random_images(batch);
  auto net = make_mlp<float>({kInputs, {800, 800}, 10, "relu", true});
  net->initialize({"he", 1}, 1);
  Matrix<float> x = d.feature_matrix();
  Matrix<float> g = Matrix<float>::Constant(batch, 10, 1e-3f);
  for (auto _ : state) {
    net->forward(x);
    net->backward(g);
    benchmark::DoNotOptimize(net->gradient().data());
  }
  if (!std::isfinite(net->gradient()[0])) throw std::runtime_error("non-finite gradient");
  const double samples = static_cast<double>(state.iterations() * batch);
  state.counters["samples/s"] = benchmark::Counter(samples, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(samples * 3 * kForwardFlops * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MlpForwardBackward)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

// The GEMMs of one SGD step alone, straight to gemm<float> (the active back end): forward Y = X W^T,
// then dW = dY^T X and dX = dY W (no dX for the input layer): 6.40 MFLOP per sample. The rate the step
// is measured against. With bf16 operands every operand is rounded once, before the timed loop, and its copy
// multiplied at every product: oneDNN's bf16 kernels alone, the most a bf16 step could gain from its products.
void gemm_of_step(benchmark::State& state, bool bf16) {
  set_threads(state);
  const Index batch = state.range(0);
  const std::vector<Index> widths = {784, 800, 800, 10};
  std::vector<std::vector<float>> acts(4), grads(4), weights(3), weight_grads(3);
  for (std::size_t l = 0; l < 4; ++l) {
    acts[l].assign(static_cast<std::size_t>(batch * widths[l]), 0.5f);
    grads[l].assign(acts[l].size(), 1e-3f);
  }
  for (std::size_t l = 0; l < 3; ++l) {
    weights[l].assign(static_cast<std::size_t>(widths[l] * widths[l + 1]), 0.01f);
    weight_grads[l].assign(weights[l].size(), 0.0f);
  }
  double flops = 0;
  for (std::size_t l = 0; l < 3; ++l) {
    const double mnk = 2.0 * batch * widths[l] * widths[l + 1];
    flops += l == 0 ? 2 * mnk : 3 * mnk;
  }
  // Copies of the activations, output gradients and weights (float32: unused).
  std::vector<Bf16Copy> act16(4), grad16(4), weight16(3);
  const auto products = [&](CopyUse use) {
    for (std::size_t l = 0; l < 3; ++l) {
      const Index in = widths[l], out = widths[l + 1];
      gemm_keeping<float>({&act16[l], use}, {&weight16[l], use}, false, true, batch, out, in, 1.0f, acts[l].data(),
                          in, weights[l].data(), in, 0.0f, acts[l + 1].data(), out);
    }
    for (std::size_t l = 3; l-- > 0;) {
      const Index in = widths[l], out = widths[l + 1];
      gemm_keeping<float>({&grad16[l + 1], use}, {&act16[l], CopyUse::kReuse}, true, false, out, in, batch, 1.0f,
                          grads[l + 1].data(), out, acts[l].data(), in, 0.0f, weight_grads[l].data(), in);
      if (l > 0) {
        gemm_keeping<float>({&grad16[l + 1], CopyUse::kReuse}, {&weight16[l], CopyUse::kReuse}, false, false, batch,
                            in, out, 1.0f, grads[l + 1].data(), out, weights[l].data(), in, 0.0f, grads[l].data(), in);
      }
    }
  };
  std::optional<ScopedGemmPrecision> precision;
  if (bf16) {
    if (!bf16_gemm_supported()) return state.SkipWithError("no bf16 dot products on this CPU (or no oneDNN)");
    precision.emplace(GemmPrecision::kBf16);
    products(CopyUse::kRefresh);  // the copies, rounded once
  }
  for (auto _ : state) {
    products(CopyUse::kReuse);
    benchmark::DoNotOptimize(weight_grads[0].data());
  }
  if (!std::isfinite(weight_grads[0][0]) || weight_grads[0][0] == 0.0f) throw std::runtime_error("bad GEMM result");
  const double samples = static_cast<double>(state.iterations()) * batch;
  state.counters["samples/s"] = benchmark::Counter(samples, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * flops * 1e-9,
                                                 benchmark::Counter::kIsRate);
}
void BM_GemmOfStep(benchmark::State& state) { gemm_of_step(state, false); }
void BM_GemmOfStepBf16(benchmark::State& state) { gemm_of_step(state, true); }
BENCHMARK(BM_GemmOfStep)->ArgsProduct({{128, 1024, 10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmOfStepBf16)->ArgsProduct({{128, 1024, 10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Every tenth example a support vector (one positive multiplier), the others all zero.
void make_sparse(MultiplierStore& store) {
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    if (id % 10 == 0) store.row(id)[id % store.per_example()] = 1.0;
  }
}

// A whole training step through the Trainer: "sgd" (cross-entropy), "minnorm" (exact / lagged update),
// "sparse" (Minnorm with 10% support vectors kept fixed by s = 0, so the skipped backward pass is
// measured at that fraction; the multiplier update still runs), and their "-full" (full batch) forms.
// `variant` sets Minnorm's constraint form, slack and multiplier update rule (objective.multipliers, C, dual).
void run_steps(benchmark::State& state, const std::string& regime, bool exact, MinnormParams variant = {}) {
  set_threads(state);
  const bool full = regime.ends_with("-full");
  const Index batch = full ? kFullBatch : state.range(0);
  const Dataset d = random_images(full ? state.range(0) : std::max<Index>(batch * 4, 4096));
  auto net = make_mlp<float>({kInputs, {800, 800}, 10, "relu", true});
  net->initialize({"he", 1}, 1);
  std::unique_ptr<Objective<float>> objective;
  const bool minnorm = !regime.starts_with("sgd");
  const bool sparse = regime.starts_with("sparse");
  if (!minnorm) {
    objective = std::make_unique<CrossEntropy<float>>();
  } else {
    MinnormParams params = variant;
    params.task = MinnormTask::kMulticlass;
    params.rho = 1.0;
    params.s = sparse ? 0.0 : 1e-3;
    params.update = exact ? MultiplierUpdate::kExact : MultiplierUpdate::kLagged;
    objective = std::make_unique<Minnorm<float>>(params, d, 10);
    // Without skipping to measure, start with every example a support vector.
    if (sparse) {
      make_sparse(*objective->multipliers());
    } else {
      std::fill(objective->multipliers()->values().begin(), objective->multipliers()->values().end(), 1e-3);
    }
  }
  LocalComm comm;
  TrainerOptions options;
  options.batch = batch;
  // Minnorm's data term is a sum over the batch: its stable lr shrinks as the batch grows.
  options.lr = minnorm ? 1e-5 * std::min(1.0, 1024.0 / static_cast<double>(full ? d.rows : batch)) : 0.01;
  Trainer<float> trainer(options, comm, d, d.rows, *net, *objective);
  const std::vector<float> before = net->parameters();
  const std::vector<double> multipliers = minnorm ? objective->multipliers()->values() : std::vector<double>{};
  // One untimed step first, as the PyTorch peer warms up: it gathers the batch and touches every
  // buffer once (at full batch the first step's page faults alone cost ~8% of a few timed steps).
  trainer.step();
  Index steps = 0;
  for (auto _ : state) {
    // Random labels cannot be fitted: Minnorm's multipliers grow for as long as it runs. Back to the start every
    // 32 steps (untimed, before a step, so the run ends on one), and any run length measures the same step.
    if (minnorm && steps > 0 && steps % 32 == 0) {
      state.PauseTiming();
      net->mutable_parameters() = before;
      objective->multipliers()->values() = multipliers;
      state.ResumeTiming();
    }
    ++steps;
    const StepStats s = trainer.step();
    if (!std::isfinite(s.loss_sum)) throw std::runtime_error("non-finite loss at timed step " + std::to_string(steps));
  }
  if (net->parameters() == before) throw std::runtime_error("the step did not change the weights");
  if (sparse && trainer.last_backward_rows() * 5 > (full ? d.rows : batch)) {
    throw std::runtime_error("support-vector skipping did not happen");
  }
  const double samples = static_cast<double>(state.iterations() * (full ? d.rows : batch));
  state.counters["samples/s"] = benchmark::Counter(samples, benchmark::Counter::kIsRate);
  state.counters["backward rows"] = static_cast<double>(trainer.last_backward_rows());
}

void BM_StepSgd(benchmark::State& state) { run_steps(state, "sgd", true); }
// Full batch: every one of 10 000 resident examples each step, in order (perf/compare's third column).
void BM_StepSgdFullBatch(benchmark::State& state) { run_steps(state, "sgd-full", true); }
void BM_StepMinnormExact(benchmark::State& state) { run_steps(state, "minnorm", true); }
void BM_StepMinnormLagged(benchmark::State& state) { run_steps(state, "minnorm", false); }
BENCHMARK(BM_StepSgd)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepSgdFullBatch)->ArgsProduct({{10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

// precision = "bf16" (issue #16): the same SGD step with bf16 operands in every product; skipped where the CPU
// has no bf16 dot products. Side by side with BM_StepSgd in one run: the ratio of their samples/s.
void bf16_steps(benchmark::State& state, const std::string& regime) {
  if (!bf16_gemm_supported()) return state.SkipWithError("no bf16 dot products on this CPU (or no oneDNN)");
  const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
  run_steps(state, regime, true);
  state.SetLabel(gemm_kernel_family<float>());
}
void BM_StepSgdBf16(benchmark::State& state) { bf16_steps(state, "sgd"); }
void BM_StepSgdFullBatchBf16(benchmark::State& state) { bf16_steps(state, "sgd-full"); }
BENCHMARK(BM_StepSgdBf16)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepSgdFullBatchBf16)->ArgsProduct({{10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepMinnormExact)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepMinnormLagged)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
// Issue #13: the multiplier update rules and constraint forms against plain ascent (BM_StepMinnormExact)
// at the same batch: PI (kappa_p = 1), slack (C = 0.01, many multipliers at C), a single multiplier per
// example. Each may cost at most 5% more.
MinnormParams pi_rule() {
  MinnormParams p;
  p.dual = MinnormDual::kPI;
  p.kappa_p = 1.0;
  return p;
}
MinnormParams slack_rule() {
  MinnormParams p;
  p.C = 0.01;
  return p;
}
MinnormParams single_rule() {
  MinnormParams p;
  p.multipliers = MinnormMultipliers::kSingle;
  return p;
}
void BM_StepMinnormPi(benchmark::State& state) { run_steps(state, "minnorm", true, pi_rule()); }
void BM_StepMinnormSlack(benchmark::State& state) { run_steps(state, "minnorm", true, slack_rule()); }
void BM_StepMinnormSingle(benchmark::State& state) { run_steps(state, "minnorm", true, single_rule()); }
BENCHMARK(BM_StepMinnormPi)->ArgsProduct({{128, 1024}, {1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepMinnormSlack)->ArgsProduct({{128, 1024}, {1}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepMinnormSingle)->ArgsProduct({{128, 1024}, {1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Full batch: the exact update fused into the next step's forward pass.
void BM_StepMinnormFullBatch(benchmark::State& state) { run_steps(state, "minnorm-full", true); }
BENCHMARK(BM_StepMinnormFullBatch)->ArgsProduct({{10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Issue #6 target 3: Minnorm with 10% support vectors, skipped backward pass. An epoch is P/Q steps
// for every regime, so the epoch cost ratio is the step time ratio against BM_StepSgd at the same
// batch (BM_StepSgdFullBatch for full batch).
void BM_StepSparseExact(benchmark::State& state) { run_steps(state, "sparse", true); }
void BM_StepSparseLagged(benchmark::State& state) { run_steps(state, "sparse", false); }
void BM_StepSparseFullBatch(benchmark::State& state) { run_steps(state, "sparse-full", true); }
void BM_StepSparseFullBatchLagged(benchmark::State& state) { run_steps(state, "sparse-full", false); }
BENCHMARK(BM_StepSparseExact)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepSparseLagged)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepSparseFullBatch)->ArgsProduct({{10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepSparseFullBatchLagged)->ArgsProduct({{10000}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace normscale

BENCHMARK_MAIN();
