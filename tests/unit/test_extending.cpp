// Adding an objective without touching the trainer, the executors or the option parser
// (docs/EXTENDING.md): the toy hinge rule of support/hinge_rule.hpp, registered by name here, is
// accepted by the options, has the gradient of its loss, trains a linear model on a separable set to
// zero error through `normscale train`'s own path on a CPU rank, and, with the CUDA backend, runs on
// a GPU rank the same way (its device registration is hinge_device.cu).
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/objective/example_objective.hpp"
#include "normscale/objective/objective_registry.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/trainer.hpp"

#include "support/finite_difference.hpp"
#include "support/hinge_rule.hpp"
#include "support/random_data.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <numeric>

#ifdef NORMSCALE_HAVE_CUDA
#include "normscale/cuda/cuda_trainer.hpp"
namespace normscale::testing {
void register_hinge_on_gpu();
}
#endif

namespace normscale {
namespace {

namespace fs = std::filesystem;
using testing::HingeRule;
template <class T>
using Hinge = ExampleObjective<T, HingeRule>;

// The whole registration of the new objective: a name, a line of help and how to build it.
void register_hinge() {
  if (objective_registry().find("hinge") != nullptr) return;
  objective_registry().add(objective_entry(
      "hinge", "one-vs-all hinge loss (a toy objective, tests/support/hinge_rule.hpp)",
      [](auto precision, const ObjectiveConfig&, const Dataset&, Index) {
        using T = decltype(precision);
        return std::unique_ptr<Objective<T>>(std::make_unique<Hinge<T>>(HingeRule::Params{1.0}));
      }));
}

std::vector<Index> all_rows(const Dataset& d) {
  std::vector<Index> rows(static_cast<std::size_t>(d.rows));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

TEST(Extending, RegisteredObjectiveIsAnOptionAndUnknownNamesListIt) {
  register_hinge();
  TrainConfig config;
  apply_override(config, "objective.regime=hinge");
  EXPECT_NO_THROW(validate(config));
  EXPECT_NE(describe_options(config).find("hinge"), std::string::npos);
  apply_override(config, "objective.regime=hinges");
  try {
    validate(config);
    FAIL() << "an unregistered objective was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("hinge"), std::string::npos) << error.what();
  }
  EXPECT_THROW(objective_registry().add(objective_registry().get("hinge")), Error);  // a name is registered once
}

TEST(Extending, HingeKnownValuesAndGradientCheck) {
  const Dataset data = testing::random_classification(9, 4, 3, 2, testing::LabelRule::kCyclic);
  Hinge<double> hinge(HingeRule::Params{1.0});
  // At f = 0 every margin is violated by 1: loss C per example, gradient -y * scale.
  const Matrix<double> zero = Matrix<double>::Zero(data.rows, 3);
  const auto rows = all_rows(data);
  EXPECT_DOUBLE_EQ(hinge.loss_sum(data, rows, zero), 3.0 * static_cast<double>(data.rows));
  Matrix<double> grad;
  hinge.output_gradient(data, rows, zero, 0.5, grad);
  for (Index k = 0; k < data.rows; ++k) {
    for (Index i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(grad(k, i), data.labels[static_cast<std::size_t>(k)] == i ? -0.5 : 0.5);
  }
  // Away from the kinks the output gradient is the derivative of the loss sum.
  auto net = make_mlp<double>({4, {5}, 3, "relu", true});
  net->initialize({"he", 1.0}, 3);
  Matrix<double> x = data.feature_matrix().cast<double>();
  hinge.output_gradient(data, rows, net->forward(x), 1.0, grad);
  net->backward(grad);
  const std::vector<double> analytic = net->gradient();
  const double worst = testing::worst_gradient_error(net->mutable_parameters(), analytic,
                                                     [&] { return hinge.loss_sum(data, rows, net->forward(x)); });
  EXPECT_LT(worst, 1e-6);
}

TEST(Extending, RegisteredObjectiveTrainsThroughTheRunOnACpuRank) {
  register_hinge();
  const testing::TempDir work("normscale_extending_", "hinge");
  const fs::path out = work.path() / "run";
  TrainConfig config;
  for (const char* option : {"data.source=separable-2d", "data.validation=0", "data.preprocess=none",
                             "model.hidden=[]", "objective.regime=hinge", "optim.batch=full", "optim.lr=0.5",
                             "steps=200", "eval_every=200", "progress=false", "gallery=0"}) {
    apply_override(config, option);
  }
  config.out = out.string();
  const nlohmann::json last = testing::train_in_process(config);
  EXPECT_EQ(last["step"].get<Index>(), 200);
  EXPECT_DOUBLE_EQ(last["train_error"].get<double>(), 0.0) << last.dump();
  EXPECT_LT(last["train_loss"].get<double>(), 0.05) << last.dump();
}

TEST(Extending, RegisteredObjectiveRunsOnAGpuRankAsOnTheCpu) {
#ifdef NORMSCALE_HAVE_CUDA
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU here; the hinge rule was compiled for GPU ranks (hinge_device.cu)";
  testing::register_hinge_on_gpu();
  const Dataset d = testing::random_classification(96, 10, 3, 17, testing::LabelRule::kRandom, 0.2);
  auto cpu_net = make_mlp<float>({10, {16}, 3, "relu", true});
  auto gpu_net = make_mlp<float>({10, {16}, 3, "relu", true});
  cpu_net->initialize({"he", 1.0}, 4);
  gpu_net->initialize({"he", 1.0}, 4);
  Hinge<float> cpu_hinge(HingeRule::Params{1.0}), gpu_hinge(HingeRule::Params{1.0});
  TrainerOptions options;
  options.batch = 16;
  options.virtual_shards = 4;
  options.lr = 0.05;
  options.momentum = 0.9;
  LocalComm comm;
  Trainer<float> cpu(options, comm, d, d.rows, *cpu_net, cpu_hinge);
  CudaTrainer gpu(options, CudaEngineOptions{}, comm, d, d.rows, *gpu_net, gpu_hinge);
  for (int t = 0; t < 20; ++t) {
    const StepStats a = cpu.step(), b = gpu.step();
    EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-4 * std::max(1.0, std::abs(a.loss_sum))) << "step " << t;
  }
  gpu.sync_to_host();
  for (std::size_t i = 0; i < cpu_net->parameters().size(); ++i) {
    ASSERT_NEAR(gpu_net->parameters()[i], cpu_net->parameters()[i], 1e-4) << "parameter " << i;
  }
#else
  GTEST_SKIP() << "this build has no CUDA backend (NORMSCALE_ENABLE_CUDA=OFF)";
#endif
}

}  // namespace
}  // namespace normscale
