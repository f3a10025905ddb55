// CudaTrainer against Trainer<float> (the CPU path) on the same data, weights and minibatches: 20
// steps of SGD with weight decay and momentum, NMGD's vanishing decay, square loss, Minnorm with exact
// and lagged multiplier updates (minibatch and fused full batch) and the unbiased estimator; then
// the weights, momentum, multipliers, evaluations, Lagrangian and support count, to 1e-4 relative.
// Also: the support-vector skip is exercised, and a GPU trainer rebuilt from a host snapshot
// (checkpoint / resume) continues on the CPU's trajectory. With batch norm (the MLP of model.batch_norm,
// with and without affine, sync-bn on one rank): the same, plus the running statistics, and the host
// state of a GPU run continued by the CPU Trainer.
#include "gpu_support.hpp"

#include "normscale/cuda/cuda_trainer.hpp"
#include "normscale/model/architectures.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/config.hpp"

#include "support/random_data.hpp"

#include <memory>

namespace normscale {
namespace {

using gpu_testing::expect_close;

constexpr double kTolerance = 1e-4;

struct Case {
  std::string regime = "sgd";  // sgd, square, minnorm
  bool exact = true;
  Index batch = 16;
  double lr = 0.05;
  double momentum = 0.0;
  double weight_decay = 0.0;
  double decay_power = 0.0;
  double warmup_epochs = 0.0;
  bool unbiased = false;
  std::string bn = "none";  // none, bn, affine, sync (sync-bn with affine: one rank, so per-rank statistics)
  WeightNormalization normalization = WeightNormalization::kNone;
  void (*variant)(MinnormParams&) = nullptr;  // Minnorm's formulation and multiplier rule (issues #13, #19)
  bool graphs = false;                        // cuda_graphs
  bool linear = false;                        // no hidden layer (the coordinate rule's model)
};

std::unique_ptr<Objective<float>> objective_for(const Case& c, const Dataset& d) {
  if (c.regime == "sgd") return std::make_unique<CrossEntropy<float>>();
  if (c.regime == "square") return std::make_unique<Square<float>>(SquareTargets{true, 1.0, 1.0});
  MinnormParams p{MinnormTask::kMulticlass, 0.5, 0.3, c.exact ? MultiplierUpdate::kExact : MultiplierUpdate::kLagged,
                  c.unbiased};
  if (c.variant != nullptr) c.variant(p);
  return std::make_unique<Minnorm<float>>(p, d, 3);
}

struct Side {
  std::unique_ptr<Network<float>> network;
  std::unique_ptr<Objective<float>> objective;
};

std::unique_ptr<Network<float>> network_for(const Case& c) {
  if (c.linear) return make_mlp<float>({10, {}, 3, "relu", true});
  if (c.bn == "none") return make_mlp<float>({10, {24, 16}, 3, "relu", true});
  // As model_factory builds model.batch_norm = true: no hidden bias, BN before each ReLU.
  BnMlpSpec spec{10, {24, 16}, 3};
  spec.batch_norm.affine = c.bn != "bn";
  if (c.bn == "sync") spec.batch_norm.reducer = [](std::span<double>) {};  // the sum over one rank
  return make_bn_mlp<float>(spec);
}

Side make_side(const Case& c, const Dataset& d) {
  Side s{network_for(c), objective_for(c, d)};
  s.network->initialize({"he", 1.0}, 4);
  return s;
}

TrainerOptions options_for(const Case& c) {
  TrainerOptions o;
  o.batch = c.batch;
  o.virtual_shards = 4;
  o.seed = 3;
  o.lr = c.lr;
  o.momentum = c.momentum;
  o.weight_decay = c.weight_decay;
  o.normalization = c.normalization;
  o.decay_power = c.decay_power;
  o.warmup_epochs = c.warmup_epochs;
  return o;
}

void expect_same_state(CudaTrainer& gpu, Side& g, Trainer<float>& cpu, Side& h, const std::string& what) {
  gpu.sync_to_host();
  expect_close(g.network->parameters(), h.network->parameters(), kTolerance, what + ": parameters");
  expect_close(gpu.velocity(), cpu.velocity(), kTolerance, what + ": velocity");
  expect_close(g.network->layer_state(), h.network->layer_state(), kTolerance, what + ": batch-norm statistics");
  if (h.objective->multipliers() != nullptr) {
    expect_close(g.objective->multipliers()->values(), h.objective->multipliers()->values(), kTolerance,
                 what + ": multipliers");
  }
}

void compare(const Case& c, int steps = 20) {
  const Dataset d = testing::random_classification(96, 10, 3, 17, testing::LabelRule::kRandom, 0.2);
  Side h = make_side(c, d), g = make_side(c, d);
  LocalComm comm;
  const TrainerOptions options = options_for(c);
  Trainer<float> cpu(options, comm, d, d.rows, *h.network, *h.objective);
  CudaEngineOptions engine;
  engine.graphs = c.graphs;
  CudaTrainer gpu(options, engine, comm, d, d.rows, *g.network, *g.objective);
  gpu.load_from_host();
  Index fewest_backward_rows = d.rows;
  for (int t = 0; t < steps; ++t) {
    const StepStats a = cpu.step();
    const StepStats b = gpu.step();
    fewest_backward_rows = std::min(fewest_backward_rows, gpu.last_backward_rows());
    EXPECT_EQ(b.examples, a.examples);
    expect_close(b.loss_sum, a.loss_sum, kTolerance, "loss of step " + std::to_string(t));
  }
  cpu.flush_multipliers();
  gpu.flush_multipliers();
  expect_same_state(gpu, g, cpu, h, "after " + std::to_string(steps) + " steps");
  EXPECT_EQ(gpu.steps_done(), cpu.steps_done());
  EXPECT_DOUBLE_EQ(gpu.epochs_done(), cpu.epochs_done());

  const EvalStats ea = cpu.evaluate(d), eb = gpu.evaluate(d);
  EXPECT_EQ(eb.count, ea.count);
  EXPECT_NEAR(static_cast<double>(eb.errors), static_cast<double>(ea.errors), 1.0);  // a tie may flip
  expect_close(eb.loss_sum, ea.loss_sum, kTolerance, "evaluation loss");
  const Dataset other = testing::random_classification(50, 10, 3, 23, testing::LabelRule::kRandom);
  expect_close(gpu.evaluate(other).loss_sum, cpu.evaluate(other).loss_sum, kTolerance, "evaluation loss, other set");
  if (c.regime == "minnorm") {
    expect_close(gpu.lagrangian(), cpu.lagrangian(), kTolerance, "Lagrangian");
    EXPECT_NEAR(static_cast<double>(gpu.support_count()), static_cast<double>(cpu.support_count()), 1.0);
    if (c.linear) return;  // coordinate rounds run no backward pass
    if (c.bn != "none") {
      EXPECT_EQ(fewest_backward_rows, std::min<Index>(c.batch < 0 ? d.rows : c.batch, d.rows))
          << "batch norm couples the rows: no support-vector skip";
      return;
    }
    // Multi-class Minnorm starts with every multiplier at zero: the first backward pass skips every row.
    EXPECT_LT(fewest_backward_rows, std::min<Index>(c.batch < 0 ? d.rows : c.batch, d.rows))
        << "the support-vector skip never compacted a batch";
  }
}

TEST(GpuTrainer, SgdWithWeightDecayAndMomentumMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "sgd", .lr = 0.05, .momentum = 0.9, .weight_decay = 5e-3});
}

// Theory III's normalized weight matrices (issue #14), both forms: block dot products and W <- a W + b G on
// the GPU, the biases' plain step between the blocks.
TEST(GpuTrainer, NormalizedWeightsMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "sgd", .lr = 0.05, .normalization = WeightNormalization::kLagrange});
  compare({.regime = "sgd", .lr = 0.05, .normalization = WeightNormalization::kTangent});
}

TEST(GpuTrainer, NmgdVanishingDecayMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "sgd", .lr = 0.05, .momentum = 0.5, .weight_decay = 0.05, .decay_power = 0.5});
}

TEST(GpuTrainer, LearningRateWarmupMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "sgd", .lr = 0.05, .momentum = 0.9, .warmup_epochs = 2.0});
}

TEST(GpuTrainer, SquareLossWithMomentumMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "square", .lr = 0.02, .momentum = 0.9, .weight_decay = 0.01});
}

TEST(GpuTrainer, MinnormExactMinibatchMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .exact = true, .lr = 0.01});
}

TEST(GpuTrainer, MinnormLaggedMinibatchMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .exact = false, .lr = 0.01});
}

TEST(GpuTrainer, MinnormExactFullBatchFusedMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .exact = true, .batch = kFullBatch, .lr = 0.002});
}

TEST(GpuTrainer, MinnormUnbiasedEstimatorWithMomentumMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .exact = true, .lr = 0.001, .momentum = 0.5, .unbiased = true});
}

// Minnorm's formulations and multiplier rules of issues #13 and #19 run the one rule of minnorm_rule.hpp on
// both sides; the states after the multipliers (PI's integral, the accelerated anchor and count, the adaptive
// exponents, the averages) are compared with the multipliers.
TEST(GpuTrainer, MinnormSlackAndSingleMultiplierMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .lr = 0.01, .variant = [](MinnormParams& p) { p.C = 0.4; }});
  compare({.regime = "minnorm", .exact = false, .lr = 0.01,
           .variant = [](MinnormParams& p) { p.multipliers = MinnormMultipliers::kSingle; }});
}

TEST(GpuTrainer, MinnormPiAndAcceleratedUpdatesMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .lr = 0.01, .variant = [](MinnormParams& p) {
             p.dual = MinnormDual::kPI;
             p.kappa_p = 0.2;
           }});
  compare({.regime = "minnorm", .lr = 0.01, .variant = [](MinnormParams& p) { p.dual = MinnormDual::kAccelerated; }});
  compare({.regime = "minnorm", .exact = false, .batch = kFullBatch, .lr = 0.002,
           .variant = [](MinnormParams& p) { p.dual = MinnormDual::kAccelerated; }});
}

// The exponents grow (rho from 0.5 up to its cap 8) without a tolerance to cross: with rho_tolerance = 0.1 and
// rho_max = 4 this comparison failed on one H200 (2026-12-04; 317 of 715 weights off after 20 steps), and the
// CPU alone shows why: weights perturbed by 1e-7 end 2.3% apart after those 20 steps (a residual crossing the
// tolerance within rounding flips an exponent), while this setting keeps them 1e-6 apart, as plain ascent does.
TEST(GpuTrainer, MinnormAdaptivePenaltyMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .lr = 0.01, .variant = [](MinnormParams& p) {
             p.rho_growth = 1.5;
             p.rho_tolerance = 0.0;
             p.rho_max = 8.0;
           }});
}

TEST(GpuTrainer, MinnormAveragingMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .lr = 0.01, .variant = [](MinnormParams& p) { p.average_from = 1.0; }});
}

// The curvature-normalized step (issue #19): each row's ||h||^2 + 1 from the last layer's input, computed on
// the GPU, divides its step as on the CPU; exact, lagged and fused full batch.
TEST(GpuTrainer, MinnormCurvatureStepMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const auto curvature = [](MinnormParams& p) {
    p.curvature = true;
    p.s = 3.0;
  };
  compare({.regime = "minnorm", .exact = true, .lr = 0.01, .variant = curvature});
  compare({.regime = "minnorm", .exact = false, .lr = 0.01, .variant = curvature});
  compare({.regime = "minnorm", .exact = true, .batch = kFullBatch, .lr = 0.002, .variant = curvature});
}

// objective.dual = "coordinate" (issue #19) on a GPU rank: each round runs on the host between a download and an
// upload of the weights and multipliers, so it follows the CPU's rounds: 8 examples per block and round, whole
// shuffled passes, and round momentum (its velocity stays on the host from round to round).
TEST(GpuTrainer, CoordinateRoundsMatchCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .variant = [](MinnormParams& p) {
             p.dual = MinnormDual::kCoordinate;
             p.C = 1.0;
             p.local_steps = 8;
           }, .linear = true});
  compare({.regime = "minnorm", .variant = [](MinnormParams& p) {
             p.dual = MinnormDual::kCoordinate;
             p.C = 1.0;
           }, .linear = true});
  compare({.regime = "minnorm", .variant = [](MinnormParams& p) {
             p.dual = MinnormDual::kCoordinate;
             p.C = 1.0;
             p.round_momentum = true;
           }, .linear = true});
}

// cuda_graphs: the step's forward and backward replayed as graphs keep the CPU's trajectory (momentum, batch
// norm's running statistics, Minnorm's exact update with its second forward and the support-vector skip, whose
// compacted backward is issued directly).
TEST(GpuTrainer, CudaGraphsKeepTheCpuTrajectory) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "sgd", .lr = 0.05, .momentum = 0.9, .weight_decay = 5e-3, .graphs = true});
  compare({.regime = "sgd", .lr = 0.05, .momentum = 0.5, .weight_decay = 1e-3, .bn = "affine", .graphs = true});
  compare({.regime = "minnorm", .exact = true, .lr = 0.01, .graphs = true});
  compare({.regime = "minnorm", .exact = true, .batch = kFullBatch, .lr = 0.002, .graphs = true});
  // The exact update's repeated training pass with batch norm has a graph of its own (it normalises by the batch's
  // statistics but leaves the running ones alone).
  compare({.regime = "minnorm", .exact = true, .lr = 0.005, .bn = "affine", .graphs = true});
  compare({.regime = "minnorm", .exact = true, .batch = kFullBatch, .lr = 0.002, .bn = "bn", .graphs = true});
}

// precision = "bf16" on a GPU rank: cuBLAS rounds the products' operands to bf16 (fp32 accumulation, fp32
// weights): 20 SGD steps stay within bf16 rounding of the fp32 CPU trajectory, and are not that trajectory.
TEST(GpuTrainer, Bf16ProductsStayNearTheFp32Trajectory) {
  NS_REQUIRE_CUDA_DEVICE();
  const Case c{.regime = "sgd", .lr = 0.05, .momentum = 0.9};
  const Dataset d = testing::random_classification(96, 10, 3, 17, testing::LabelRule::kRandom, 0.2);
  Side h = make_side(c, d), g = make_side(c, d);
  LocalComm comm;
  Trainer<float> cpu(options_for(c), comm, d, d.rows, *h.network, *h.objective);
  CudaEngineOptions bf16;
  bf16.bf16 = true;
  CudaTrainer gpu(options_for(c), bf16, comm, d, d.rows, *g.network, *g.objective);
  gpu.load_from_host();
  for (int t = 0; t < 20; ++t) {
    const double expected = cpu.step().loss_sum;
    expect_close(gpu.step().loss_sum, expected, 2e-2, "loss of step " + std::to_string(t));
  }
  gpu.sync_to_host();
  const auto& a = g.network->parameters();
  const auto& b = h.network->parameters();
  expect_close(a, b, 3e-2, "parameters after 20 bf16 steps");
  double largest = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) largest = std::max(largest, std::abs(static_cast<double>(a[i]) - b[i]));
  EXPECT_GT(largest, 1e-6) << "the bf16 run followed the fp32 trajectory exactly: bf16 products were not used";
}

TEST(GpuTrainer, SquareLossBatchNormWithDecayAndMomentumMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  // square-bn-wd's recipe: +-1 square loss, BN without affine, weight decay 0.01, momentum 0.9.
  compare({.regime = "square", .lr = 0.01, .momentum = 0.9, .weight_decay = 0.01, .bn = "bn"});
}

TEST(GpuTrainer, AffineBatchNormCrossEntropyMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "sgd", .lr = 0.05, .momentum = 0.5, .weight_decay = 1e-3, .bn = "affine"});
}

TEST(GpuTrainer, SyncBatchNormOnOneRankMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "square", .batch = 32, .lr = 0.01, .momentum = 0.9, .weight_decay = 0.01, .bn = "sync"});
}

TEST(GpuTrainer, MinnormExactWithBatchNormMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  // The exact update's second training-mode forward normalises by the batch's statistics and leaves the running
  // ones alone, as on the CPU.
  compare({.regime = "minnorm", .exact = true, .lr = 0.005, .bn = "affine"});
}

TEST(GpuTrainer, MinnormFullBatchWithBatchNormMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  compare({.regime = "minnorm", .exact = true, .batch = kFullBatch, .lr = 0.002, .bn = "bn"});
}

// A checkpoint of a GPU run with batch norm: the host copies (weights, running statistics, momentum)
// taken by sync_to_host let the CPU Trainer continue exactly on the uninterrupted CPU trajectory.
TEST(GpuTrainer, BatchNormStateMovesFromGpuToCpuMidRun) {
  NS_REQUIRE_CUDA_DEVICE();
  const Case c{.regime = "square", .lr = 0.01, .momentum = 0.9, .weight_decay = 0.01, .bn = "affine"};
  const Dataset d = testing::random_classification(96, 10, 3, 17, testing::LabelRule::kRandom, 0.2);
  Side h = make_side(c, d), g = make_side(c, d);
  LocalComm comm;
  const TrainerOptions options = options_for(c);
  Trainer<float> cpu(options, comm, d, d.rows, *h.network, *h.objective);
  std::vector<float> velocity;
  {
    CudaTrainer gpu(options, CudaEngineOptions{}, comm, d, d.rows, *g.network, *g.objective);
    gpu.load_from_host();
    for (int t = 0; t < 10; ++t) gpu.step();
    gpu.sync_to_host();  // what a checkpoint stores: parameters, layer_state(), velocity
    velocity = gpu.velocity();
  }
  for (int t = 0; t < 10; ++t) cpu.step();
  expect_close(g.network->layer_state(), h.network->layer_state(), kTolerance, "statistics at the checkpoint");
  ASSERT_NE(g.network->layer_state(), network_for(c)->layer_state()) << "the running statistics never moved";
  Trainer<float> continued(options, comm, d, d.rows, *g.network, *g.objective);
  continued.velocity() = velocity;
  continued.restore(10);
  for (int t = 0; t < 10; ++t) {
    const StepStats a = cpu.step();
    const StepStats b = continued.step();
    expect_close(b.loss_sum, a.loss_sum, kTolerance, "loss of step " + std::to_string(10 + t));
  }
  expect_close(g.network->parameters(), h.network->parameters(), kTolerance, "parameters after 20 steps");
  expect_close(g.network->layer_state(), h.network->layer_state(), kTolerance, "statistics after 20 steps");
  expect_close(continued.velocity(), cpu.velocity(), kTolerance, "velocity after 20 steps");

  // And back: a GPU trainer loaded from the CPU's host state continues on the same trajectory.
  CudaTrainer back(options, CudaEngineOptions{}, comm, d, d.rows, *g.network, *g.objective);
  back.velocity() = continued.velocity();
  back.restore(20);
  back.load_from_host();
  for (int t = 0; t < 5; ++t) {
    const StepStats a = cpu.step();
    const StepStats b = back.step();
    expect_close(b.loss_sum, a.loss_sum, kTolerance, "loss of step " + std::to_string(20 + t));
  }
  expect_same_state(back, g, cpu, h, "GPU again for 5 steps");
}

TEST(GpuTrainer, ResumesFromAHostSnapshotOnTheCpuTrajectory) {
  NS_REQUIRE_CUDA_DEVICE();
  const Case c{.regime = "minnorm", .exact = true, .lr = 0.005, .momentum = 0.9};
  const Dataset d = testing::random_classification(96, 10, 3, 17, testing::LabelRule::kRandom, 0.2);
  Side h = make_side(c, d), g = make_side(c, d);
  LocalComm comm;
  const TrainerOptions options = options_for(c);
  Trainer<float> cpu(options, comm, d, d.rows, *h.network, *h.objective);
  std::vector<float> velocity;
  {
    CudaTrainer gpu(options, CudaEngineOptions{}, comm, d, d.rows, *g.network, *g.objective);
    gpu.load_from_host();
    for (int t = 0; t < 10; ++t) gpu.step();
    gpu.flush_multipliers();
    gpu.sync_to_host();  // what a checkpoint stores
    velocity = gpu.velocity();
  }
  for (int t = 0; t < 10; ++t) cpu.step();
  CudaTrainer resumed(options, CudaEngineOptions{}, comm, d, d.rows, *g.network, *g.objective);
  resumed.velocity() = velocity;
  resumed.restore(10);
  resumed.load_from_host();
  for (int t = 0; t < 10; ++t) {
    cpu.step();
    resumed.step();
  }
  cpu.flush_multipliers();
  resumed.flush_multipliers();
  expect_same_state(resumed, g, cpu, h, "resumed at step 10, then 10 more");
}

}  // namespace
}  // namespace normscale
