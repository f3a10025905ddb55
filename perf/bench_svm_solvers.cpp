// Minnorm's multipliers at solver speed (issue #19), side by side with liblinear in one run: time (and steps or
// rounds) until a linear model holds the exact hard-margin SVM of the separable Fashion-MNIST pair that
// tests/data/fmnist_pair/ stores (2,000 images, trouser vs bag, pixels / 255 and a constant input): ||w||^2
// within 0.1% of the SVM's and every margin >= 0.999. liblinear is the dual coordinate descent solver
// (L2R_L1LOSS_SVC_DUAL, C = 1e4, the constant as a feature, so it is penalised as normscale's bias is), at the
// loosest eps that reaches that accuracy; every normscale benchmark times liblinear again just before itself
// and reports the ratio. normscale: the coordinate rule on 1, 2 and 4 CoCoA+ blocks (rounds = allreduces),
// without and with round momentum, the accelerated rule and plain ascent (full-batch steps, lr 1, rho 0, s at 1 / and 1.9 / lambda_max; ascent
// is stopped at `cap` steps and reports whether it got there). Each is run twice: once checking after every
// step (every 100 for the step rules) to count the steps it needs, then timed for that many without checks.
// One thread (OPENBLAS_NUM_THREADS=1).
#include "normscale/comm/communicator.hpp"
#include "normscale/core/stopwatch.hpp"
#include "normscale/data/idx_reader.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/optim/optim_config.hpp"
#include "normscale/train/trainer.hpp"

#include <benchmark/benchmark.h>
#include <linear.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;

struct Pair {
  Dataset data;
  double svm_norm2 = 0.0;
};

const fs::path kFashion = NORMSCALE_FASHION_MNIST_DIR;

bool have_data() { return fs::exists(kFashion / "train-images-idx3-ubyte.gz"); }

// The stored subset, read from the installed Fashion-MNIST files as the test reads it.
const Pair& pair() {
  static const Pair loaded = [] {
    std::ifstream file(fs::path(NORMSCALE_PERF_DATA_DIR) / "fmnist_pair" / "fmnist_pair_svm.json");
    if (!file) throw std::runtime_error("bench_svm_solvers: tests/data/fmnist_pair/fmnist_pair_svm.json not found");
    const nlohmann::json expected = nlohmann::json::parse(file);
    const auto indices = expected["indices"].get<std::vector<Index>>();
    const IdxImages images = read_idx_image_rows((kFashion / "train-images-idx3-ubyte.gz").string(), indices);
    Pair p;
    p.data.name = "fashion-mnist trouser/bag";
    p.data.rows = static_cast<Index>(indices.size());
    p.data.cols = images.rows * images.cols;
    p.data.num_classes = 2;
    p.data.labels = expected["labels"].get<std::vector<int>>();
    for (const std::uint8_t v : images.pixels) p.data.features.push_back(static_cast<float>(v) / 255.0f);
    p.svm_norm2 = expected["w_norm2"].get<double>();
    return p;
  }();
  return loaded;
}

double sign(int label) { return label == 1 ? 1.0 : -1.0; }

// Whether a model with squared weight norm `norm2` and outputs f on the pair is the SVM to the benchmark's
// accuracy.
bool at_the_svm(double norm2, const std::vector<double>& f) {
  const Pair& p = pair();
  if (std::abs(norm2 - p.svm_norm2) > 1e-3 * p.svm_norm2) return false;
  for (Index i = 0; i < p.data.rows; ++i) {
    if (sign(p.data.labels[static_cast<std::size_t>(i)]) * f[static_cast<std::size_t>(i)] < 0.999) return false;
  }
  return true;
}

// The same for w: the pixels' weights, then the constant's.
bool at_the_svm(const std::vector<double>& w) {
  const Pair& p = pair();
  const auto cols = static_cast<std::size_t>(p.data.cols);
  double norm2 = 0.0;
  for (const double v : w) norm2 += v * v;
  std::vector<double> f(static_cast<std::size_t>(p.data.rows));
  for (Index i = 0; i < p.data.rows; ++i) {
    const float* x = p.data.features.data() + static_cast<std::size_t>(i) * cols;
    double value = w[cols];
    for (std::size_t j = 0; j < cols; ++j) value += w[j] * x[j];
    f[static_cast<std::size_t>(i)] = value;
  }
  return at_the_svm(norm2, f);
}

// A network's: every parameter is a weight of the SVM (the bias is the constant's).
bool at_the_svm(Network<double>& network) {
  double norm2 = 0.0;
  for (const double v : network.parameters()) norm2 += v * v;
  const Matrix<double> out = network.forward(pair().data.feature_matrix().cast<double>());
  return at_the_svm(norm2, std::vector<double>(out.data(), out.data() + out.rows()));
}

// liblinear's dual coordinate descent at `eps`: its weights in the benchmark's layout.
std::vector<double> liblinear(double eps) {
  const Pair& p = pair();
  const auto cols = static_cast<int>(p.data.cols);
  std::vector<std::vector<feature_node>> rows(static_cast<std::size_t>(p.data.rows));
  std::vector<feature_node*> x;
  std::vector<double> y;
  for (Index i = 0; i < p.data.rows; ++i) {
    auto& row = rows[static_cast<std::size_t>(i)];
    const float* pixels = p.data.features.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(cols);
    for (int j = 0; j < cols; ++j) {
      if (pixels[j] != 0.0f) row.push_back({j + 1, pixels[j]});
    }
    row.push_back({cols + 1, 1.0});  // the constant input
    row.push_back({-1, 0.0});
    x.push_back(row.data());
    y.push_back(sign(p.data.labels[static_cast<std::size_t>(i)]));
  }
  problem prob{static_cast<int>(p.data.rows), cols + 1, y.data(), x.data(), -1.0};
  parameter param{};
  param.solver_type = L2R_L1LOSS_SVC_DUAL;
  param.eps = eps;
  param.C = 1e4;
  set_print_string_function([](const char*) {});
  model* trained = train(&prob, &param);
  // liblinear's decision value is w.x for its first label, which is y of the first example.
  const double flip = trained->label[0] == 1 ? 1.0 : -1.0;
  std::vector<double> w(static_cast<std::size_t>(cols + 1));
  for (int j = 0; j <= cols; ++j) w[static_cast<std::size_t>(j)] = flip * trained->w[j];
  free_and_destroy_model(&trained);
  return w;
}

// The loosest eps of 0.1, 0.01, ... at which liblinear reaches the SVM (found once, not timed).
double liblinear_eps() {
  static const double eps = [] {
    for (double e = 0.1; e >= 1e-9; e /= 10.0) {
      if (at_the_svm(liblinear(e))) return e;
    }
    throw std::runtime_error("bench_svm_solvers: liblinear did not reach the SVM at eps 1e-9");
  }();
  return eps;
}

double liblinear_seconds() {
  const double eps = liblinear_eps();
  const Stopwatch time;
  const std::vector<double> w = liblinear(eps);
  const double seconds = time.seconds();
  if (!at_the_svm(w)) throw std::runtime_error("bench_svm_solvers: liblinear's timed run missed the SVM");
  return seconds;
}

void BM_Liblinear(benchmark::State& state) {
  if (!have_data()) return state.SkipWithError("Fashion-MNIST is not installed (dataset-fashion-mnist)");
  double seconds = 0.0;
  for (auto _ : state) {
    seconds = liblinear_seconds();
    state.SetIterationTime(seconds);
  }
  state.counters["eps"] = liblinear_eps();
  state.counters["seconds"] = seconds;
}

// A linear Minnorm run on the pair: the steps it needs to be at the SVM, checked every `check` steps up to `cap`
// (untimed), then the seconds of a run of that many steps without the checks (liblinear's time has none).
struct Outcome {
  Index steps = 0;
  bool reached = false;
  double seconds = 0.0;
};

class MinnormRun {
 public:
  MinnormRun(const ObjectiveConfig& objective, double lr, Index blocks)
      : network_(make_mlp<double>({pair().data.cols, {}, 1, "identity", true})),
        loss_(make_objective<double>(objective, pair().data, 1)) {
    for (double& v : network_->mutable_parameters()) v = 0.0;
    TrainerOptions options;
    options.batch = kFullBatch;
    options.virtual_shards = blocks;
    options.lr = lr;
    trainer_ = std::make_unique<Trainer<double>>(options, comm_, pair().data, pair().data.rows, *network_, *loss_);
  }
  void steps(Index n) {
    for (Index k = 0; k < n; ++k) trainer_->step();
    trainer_->flush_multipliers();
  }
  Network<double>& network() { return *network_; }

 private:
  LocalComm comm_;
  std::unique_ptr<Network<double>> network_;
  std::unique_ptr<Objective<double>> loss_;
  std::unique_ptr<Trainer<double>> trainer_;
};

Outcome minnorm(const ObjectiveConfig& objective, double lr, Index blocks, Index check, Index cap) {
  Outcome outcome;
  {
    MinnormRun counted(objective, lr, blocks);
    const Stopwatch time;
    while (outcome.steps < cap && !outcome.reached) {
      counted.steps(check);
      outcome.steps += check;
      outcome.reached = at_the_svm(counted.network());
    }
    outcome.seconds = time.seconds();  // a run that never got there is not repeated
  }
  if (!outcome.reached) return outcome;
  MinnormRun timed(objective, lr, blocks);
  const Stopwatch time;
  timed.steps(outcome.steps);
  outcome.seconds = time.seconds();
  if (at_the_svm(timed.network()) != outcome.reached) throw std::runtime_error("bench_svm_solvers: runs differ");
  return outcome;
}

ObjectiveConfig minnorm_config(const char* dual, double s) {
  ObjectiveConfig c;
  c.regime = "minnorm";
  c.task = "binary";
  c.dual = dual;
  c.s = s;
  return c;
}

void report(benchmark::State& state, const Outcome& outcome, double liblinear) {
  state.counters["steps"] = static_cast<double>(outcome.steps);
  state.counters["reached"] = outcome.reached ? 1.0 : 0.0;
  state.counters["seconds"] = outcome.seconds;
  state.counters["liblinear_s"] = liblinear;
  state.counters["vs_liblinear"] = outcome.seconds / liblinear;
}

// Rounds of the coordinate rule (one allreduce each) with state.range(0) CoCoA+ blocks, with round momentum
// where state.range(1) is 1.
void BM_CoordinateRule(benchmark::State& state) {
  if (!have_data()) return state.SkipWithError("Fashion-MNIST is not installed (dataset-fashion-mnist)");
  ObjectiveConfig objective = minnorm_config("coordinate", 0.0);
  objective.round_momentum = state.range(1) == 1;
  for (auto _ : state) {
    const double reference = liblinear_seconds();
    const Outcome outcome = minnorm(objective, 0.0, state.range(0), 1, 100000);
    state.SetIterationTime(outcome.seconds);
    report(state, outcome, reference);
    if (!outcome.reached) state.SkipWithError("the coordinate rule did not reach the SVM");
  }
}

// lambda_max of the dual's Q on this pair (power iteration on X^T X with the constant column): the step bound.
double largest_eigenvalue() {
  static const double lambda = [] {
    const Pair& p = pair();
    const auto cols = static_cast<std::size_t>(p.data.cols);
    std::vector<double> v(cols + 1, 1.0), next(cols + 1);
    double value = 0.0;
    for (int iteration = 0; iteration < 200; ++iteration) {
      std::fill(next.begin(), next.end(), 0.0);
      for (Index i = 0; i < p.data.rows; ++i) {
        const float* x = p.data.features.data() + static_cast<std::size_t>(i) * cols;
        double xv = v[cols];
        for (std::size_t j = 0; j < cols; ++j) xv += x[j] * v[j];
        for (std::size_t j = 0; j < cols; ++j) next[j] += x[j] * xv;
        next[cols] += xv;
      }
      double norm = 0.0;
      for (const double n : next) norm += n * n;
      value = std::sqrt(norm);
      for (std::size_t j = 0; j <= cols; ++j) v[j] = next[j] / value;
    }
    return value;
  }();
  return lambda;
}

// Full-batch dual ascent, lr 1 and rho 0 (the weights are w(alpha) after every step): accelerated at
// s = 1 / lambda_max, plain ascent at s = 1.9 / lambda_max, stopped at state.range(0) steps.
void step_rule(benchmark::State& state, const char* dual, double step_bound_fraction, Index check) {
  if (!have_data()) return state.SkipWithError("Fashion-MNIST is not installed (dataset-fashion-mnist)");
  for (auto _ : state) {
    const double reference = liblinear_seconds();
    const Outcome outcome =
        minnorm(minnorm_config(dual, step_bound_fraction / largest_eigenvalue()), 1.0, 1, check, state.range(0));
    state.SetIterationTime(outcome.seconds);
    report(state, outcome, reference);
  }
}

void BM_Accelerated(benchmark::State& state) { step_rule(state, "accelerated", 1.0, 100); }
void BM_PlainAscent(benchmark::State& state) { step_rule(state, "ascent", 1.9, 1000); }

BENCHMARK(BM_Liblinear)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CoordinateRule)
    ->ArgsProduct({{1, 2, 4}, {0, 1}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Accelerated)->Arg(40000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
// Ten times the steps the accelerated rule needs here (measured: 3,600).
BENCHMARK(BM_PlainAscent)->Arg(36000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace normscale

BENCHMARK_MAIN();
