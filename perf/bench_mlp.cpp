// The paper's 784-800-800-10 MLP: forward+backward throughput, and one Minnorm step vs one SGD step.
// Each benchmark checks its result (finite loss, weights moved) and reports samples/s and GFLOP/s.
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/trainer.hpp"

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cmath>
#include <stdexcept>

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

void set_threads(benchmark::State& state) { openblas_set_num_threads(static_cast<int>(state.range(1))); }

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

// A whole training step through the Trainer: sgd (cross-entropy) or minnorm (exact / lagged update).
void run_steps(benchmark::State& state, const std::string& regime, bool exact) {
  set_threads(state);
  const Index batch = state.range(0);
  const Dataset d = random_images(std::max<Index>(batch * 4, 4096));
  auto net = make_mlp<float>({kInputs, {800, 800}, 10, "relu", true});
  net->initialize({"he", 1}, 1);
  std::unique_ptr<Objective<float>> objective;
  if (regime == "sgd") {
    objective = std::make_unique<CrossEntropy<float>>();
  } else {
    objective = std::make_unique<Minnorm<float>>(MinnormParams{MinnormTask::kMulticlass, 1.0, 1e-3}, d, 10);
  }
  LocalComm comm;
  TrainerOptions options;
  options.batch = batch;
  options.lr = regime == "sgd" ? 0.01 : 1e-5;
  options.exact_multiplier_update = exact;
  Trainer<float> trainer(options, comm, d, d.rows, *net, *objective);
  const std::vector<float> before = net->parameters();
  for (auto _ : state) {
    const StepStats s = trainer.step();
    if (!std::isfinite(s.loss_sum)) throw std::runtime_error("non-finite loss");
  }
  if (net->parameters() == before) throw std::runtime_error("the step did not change the weights");
  const double samples = static_cast<double>(state.iterations() * batch);
  state.counters["samples/s"] = benchmark::Counter(samples, benchmark::Counter::kIsRate);
}

void BM_StepSgd(benchmark::State& state) { run_steps(state, "sgd", true); }
void BM_StepMinnormExact(benchmark::State& state) { run_steps(state, "minnorm", true); }
void BM_StepMinnormLagged(benchmark::State& state) { run_steps(state, "minnorm", false); }
BENCHMARK(BM_StepSgd)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepMinnormExact)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StepMinnormLagged)->ArgsProduct({{128, 1024}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace normscale

BENCHMARK_MAIN();
