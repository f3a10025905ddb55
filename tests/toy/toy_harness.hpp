// Shared set-up of the toy-problem tests: a double-precision network and objective on one data set,
// trained full batch through the real Trainer on one process.
#pragma once

#include "normscale/objective/objective.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/duality_certificate.hpp"
#include "normscale/train/trainer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

namespace normscale::toy {

struct ToyRun {
  Dataset data;
  std::unique_ptr<Network<double>> network;
  std::unique_ptr<Objective<double>> objective;
  LocalComm comm;
  std::unique_ptr<Trainer<double>> trainer;

  // Takes `steps` full-batch steps (and applies any pending multiplier update).
  void train(Index steps) {
    for (Index t = 0; t < steps; ++t) trainer->step();
    trainer->flush_multipliers();
  }
  double alpha(Index example, Index output = 0) const { return objective->multipliers()->row(example)[output]; }
  Matrix<double> outputs() { return network->forward(data.feature_matrix().cast<double>()); }
};

// Builds the run; `weights` (if non-empty) replaces the initial parameters.
inline std::unique_ptr<ToyRun> make_toy_run(Dataset data, const MlpSpec& spec, const ObjectiveConfig& objective,
                                            TrainerOptions options, const std::vector<double>& weights = {},
                                            const InitSpec& init = {"he", 1.0}, std::uint64_t seed = 1) {
  auto run = std::make_unique<ToyRun>();
  run->data = std::move(data);
  run->network = make_mlp<double>(spec);
  run->network->initialize(init, seed);
  if (!weights.empty()) run->network->mutable_parameters() = weights;
  run->objective = make_objective<double>(objective, run->data, spec.outputs);
  options.batch = kFullBatch;
  options.virtual_shards = 1;
  run->trainer = std::make_unique<Trainer<double>>(options, run->comm, run->data, run->data.rows, *run->network,
                                                   *run->objective);
  return run;
}

// Separable set whose SVM is known by construction: w* = (2, 0) with support vectors a = (0.5, 0.5)
// (+1) and b = (-0.5, 0.5) (-1) on the margins; w* = 2 a + 2 b' so the dual coefficients are 2 and 2;
// every other point has y w*.x > 1 strictly, so KKT holds and the solution is unique.
inline Dataset svm_set() {
  Dataset d;
  d.name = "svm-by-construction";
  d.cols = 2;
  d.num_classes = 2;
  const std::vector<std::array<float, 2>> x = {{0.5f, 0.5f}, {-0.5f, 0.5f}, {1.5f, 2.f}, {2.f, -1.f},
                                               {-1.f, -1.f}, {-2.f, 1.f},  {-0.8f, 3.f}, {0.9f, -2.f}};
  d.labels = {1, 0, 1, 1, 0, 0, 0, 1};
  for (const auto& p : x) d.features.insert(d.features.end(), p.begin(), p.end());
  d.rows = static_cast<Index>(x.size());
  return d;
}

inline ObjectiveConfig minnorm_config(const std::string& task, double rho, double s) {
  ObjectiveConfig c;
  c.regime = "minnorm";
  c.task = task;
  c.rho = rho;
  c.s = s;
  return c;
}

// The soft-margin constant C of a hard margin (no slack).
inline constexpr double kHardMargin = std::numeric_limits<double>::infinity();

// objective.dual = "coordinate" (exact dual coordinate ascent) with slack C, local_steps and round momentum.
inline ObjectiveConfig coordinate(const std::string& task, double C = kHardMargin,
                                  Index local_steps = 0, bool round_momentum = false) {
  ObjectiveConfig c = minnorm_config(task, 0.0, 0.0);
  c.dual = "coordinate";
  c.C = C;
  c.local_steps = local_steps;
  c.round_momentum = round_momentum;
  return c;
}

// A run with `blocks` virtual shards (CoCoA+ blocks, sigma = blocks), from random initial weights: the rule
// starts from w(alpha) = 0 whatever they are.
inline std::unique_ptr<ToyRun> coordinate_run(Dataset data, const MlpSpec& spec, const ObjectiveConfig& objective,
                                              Index blocks = 1) {
  auto run = make_toy_run(std::move(data), spec, objective, TrainerOptions{});
  TrainerOptions options;
  options.batch = kFullBatch;
  options.virtual_shards = blocks;
  run->trainer = std::make_unique<Trainer<double>>(options, run->comm, run->data, run->data.rows, *run->network,
                                                   *run->objective);
  return run;
}

// The duality certificate of a linear run (std::bad_optional_access for any other).
inline DualityCertificate certificate(ToyRun& run) {
  return duality_certificate<double>(run.comm, *run.trainer, *run.network, *run.objective, run.data).value();
}

// The largest |w - sum alpha y x_aug| over the parameters, computed here from the data (one-vs-all signs;
// one output: +1 for class 1).
inline double largest_drift(const ToyRun& run) {
  const Dataset& d = run.data;
  const auto& w = run.network->parameters();
  const Index outputs = run.network->output_width();
  const Index cols = d.cols;
  const bool bias = static_cast<Index>(w.size()) == outputs * (cols + 1);
  std::vector<double> expected(w.size(), 0.0);
  for (Index i = 0; i < d.rows; ++i) {
    for (Index c = 0; c < outputs; ++c) {
      const int positive = outputs == 1 ? 1 : static_cast<int>(c);
      const double y = d.labels[static_cast<std::size_t>(i)] == positive ? 1.0 : -1.0;
      const double a = run.alpha(i, c) * y;
      for (Index j = 0; j < cols; ++j) expected[static_cast<std::size_t>(c * cols + j)] += a * d.row(i)[j];
      if (bias) expected[static_cast<std::size_t>(outputs * cols + c)] += a;
    }
  }
  double worst = 0.0;
  for (std::size_t k = 0; k < w.size(); ++k) worst = std::max(worst, std::abs(w[k] - expected[k]));
  return worst;
}

}  // namespace normscale::toy
