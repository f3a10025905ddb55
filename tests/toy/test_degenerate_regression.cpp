// Theory III Fig. 5-7: the degenerate linear regression y = W Phi(x) on monomial features, over-parametrized
// (more weights than points). Gradient descent from zero reaches the minimum-norm interpolant pinv(Phi) y; a
// perturbation's row-space part is undone by the next descent while its null-space part stays, so repeated
// perturbations make the weights random-walk in the null space of Phi.
#include "normscale/data/synthetic.hpp"
#include "normscale/train/run_directory_lock.hpp"
#include "normscale/train/weight_perturbation.hpp"
#include "support/linear_algebra.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"
#include "toy_harness.hpp"

#include <gtest/gtest.h>

#include <Eigen/Dense>


namespace normscale::toy {
namespace {

constexpr Index kPoints = 5;
constexpr Index kDegree = 8;  // 9 weights on 5 points: a 4-dimensional null space
constexpr double kLr = 0.2;   // the paper's step
constexpr Index kSteps = 40000;

struct Degenerate {
  Matrix<double> phi;            // the training features as the network sees them (float values)
  Eigen::VectorXd y;
  Eigen::VectorXd minimum_norm;  // pinv(Phi) y
  Matrix<double> null_projector; // I - pinv(Phi) Phi
};

Degenerate degenerate(const Dataset& train) {
  Degenerate d;
  d.phi = train.feature_matrix().cast<double>();
  d.y = Eigen::Map<const Eigen::VectorXf>(train.targets.data(), train.rows).cast<double>();
  const Matrix<double> pinv = testing::pseudo_inverse(d.phi);
  d.minimum_norm = pinv * d.y;
  d.null_projector = Matrix<double>::Identity(d.phi.cols(), d.phi.cols()) - pinv * d.phi;
  return d;
}

std::unique_ptr<ToyRun> regression_run(const Dataset& train) {
  ObjectiveConfig square;
  square.regime = "square";
  square.task = "regression";
  TrainerOptions options;
  options.lr = kLr;
  return make_toy_run(train, MlpSpec{kDegree + 1, {}, 1, "identity", false}, square, options, {}, {"zeros", 1.0});
}

Eigen::VectorXd weights(const ToyRun& run) {
  return Eigen::Map<const Eigen::VectorXd>(run.network->parameters().data(),
                                           static_cast<Index>(run.network->parameters().size()));
}

TEST(DegenerateRegression, PolynomialSineFeaturesAreMonomialsOfChebyshevNodes) {
  const DataSplits splits = make_polynomial_sine(kPoints, kDegree, true, 1);
  ASSERT_EQ(splits.train.rows, kPoints);
  ASSERT_EQ(splits.train.cols, kDegree + 1);
  EXPECT_EQ(splits.test.rows, 100);
  for (Index i = 0; i < kPoints; ++i) {
    const double x = std::cos((2.0 * static_cast<double>(i + 1) - 1.0) * std::numbers::pi / (2.0 * kPoints));
    for (Index k = 0; k <= kDegree; ++k) {
      EXPECT_FLOAT_EQ(splits.train.features[static_cast<std::size_t>(i * (kDegree + 1) + k)],
                      static_cast<float>(std::pow(x, static_cast<double>(k))));
    }
    EXPECT_FLOAT_EQ(splits.train.targets[static_cast<std::size_t>(i)],
                    static_cast<float>(std::sin(2 * std::numbers::pi * 4 * x)));
  }
  EXPECT_FLOAT_EQ(splits.test.features[1], -1.0f);                                // x of the first test point
  EXPECT_FLOAT_EQ(splits.test.features[static_cast<std::size_t>(99 * (kDegree + 1) + 1)], 1.0f);  // of the last
  // Random nodes come from the seed.
  EXPECT_EQ(make_polynomial_sine(kPoints, kDegree, false, 3).train.features,
            make_polynomial_sine(kPoints, kDegree, false, 3).train.features);
  EXPECT_NE(make_polynomial_sine(kPoints, kDegree, false, 3).train.features,
            make_polynomial_sine(kPoints, kDegree, false, 4).train.features);
}

TEST(DegenerateRegression, GradientDescentFromZeroReachesTheMinimumNormInterpolant) {
  const Dataset train = make_polynomial_sine(kPoints, kDegree, true, 1).train;
  const Degenerate d = degenerate(train);
  auto run = regression_run(train);
  run->train(kSteps);
  const Eigen::VectorXd w = weights(*run);
  EXPECT_LT((w - d.minimum_norm).norm(), 1e-6) << "pinv(Phi) y = " << d.minimum_norm.transpose()
                                               << "\nreached      " << w.transpose();
  EXPECT_LT((d.phi * w - d.y).norm(), 1e-6);
  EXPECT_LT((d.null_projector * w).norm(), 1e-12) << "descent from zero never leaves the row space";
}

TEST(DegenerateRegression, PerturbationsRandomWalkInTheNullSpaceOnly) {
  const Dataset train = make_polynomial_sine(kPoints, kDegree, true, 1).train;
  const Degenerate d = degenerate(train);
  auto run = regression_run(train);
  run->train(kSteps);
  PerturbConfig perturb;
  perturb.sd = 0.6;  // Fig. 7's absolute noise
  Eigen::VectorXd expected_null = Eigen::VectorXd::Zero(kDegree + 1);
  double previous_null_norm = 0;
  int null_norm_changes = 0;
  for (Index k = 1; k <= 4; ++k) {
    const Eigen::VectorXd before = weights(*run);
    const double noise2 = perturb_parameters(*run->network, perturb, 7, k);
    const Eigen::VectorXd noise = weights(*run) - before;
    EXPECT_NEAR(noise.squaredNorm(), noise2, 1e-9 * noise2);
    expected_null += d.null_projector * noise;
    run->train(kSteps);
    const Eigen::VectorXd w = weights(*run);
    // The row-space part returns to its value: the training error is zero again.
    EXPECT_LT((d.phi * w - d.y).norm(), 1e-6) << "perturbation " << k;
    EXPECT_LT(((w - d.null_projector * w) - d.minimum_norm).norm(), 1e-6) << "perturbation " << k;
    // The null-space part is the sum of the perturbations' null-space parts: descent never moves it.
    EXPECT_LT((d.null_projector * w - expected_null).norm(), 1e-9) << "perturbation " << k;
    const double null_norm = (d.null_projector * w).norm();
    null_norm_changes += std::abs(null_norm - previous_null_norm) > 1e-3 ? 1 : 0;
    previous_null_norm = null_norm;
    // So the weights' norm grows beyond the minimum norm's.
    EXPECT_GT(w.norm(), d.minimum_norm.norm());
  }
  EXPECT_EQ(null_norm_changes, 4);
}

TEST(DegenerateRegression, RelativeNoiseScalesWithEachLayersParameters) {
  auto network = make_mlp<double>({3, {50}, 40, "relu", false});
  network->initialize({"normal", 1.0}, 2);
  std::vector<double>& p = network->mutable_parameters();
  for (std::size_t i = 0; i < 150; ++i) p[i] *= 10.0;  // the first layer's parameters: sd 10, the second's 1
  const std::vector<double> before = p;
  PerturbConfig perturb;
  perturb.scale = 0.25;
  perturb_parameters(*network, perturb, 1, 5);
  const auto noise_sd = [&](std::size_t begin, std::size_t end) {
    double sum2 = 0;
    for (std::size_t i = begin; i < end; ++i) sum2 += (p[i] - before[i]) * (p[i] - before[i]);
    return std::sqrt(sum2 / static_cast<double>(end - begin));
  };
  EXPECT_NEAR(noise_sd(0, 150), 2.5, 0.4);
  EXPECT_NEAR(noise_sd(150, p.size()), 0.25, 0.02);
  // The same (seed, step) gives the same noise on every rank; another step, other noise.
  auto again = make_mlp<double>({3, {50}, 40, "relu", false});
  again->mutable_parameters() = before;
  perturb_parameters(*again, perturb, 1, 5);
  EXPECT_EQ(again->parameters(), p);
  again->mutable_parameters() = before;
  perturb_parameters(*again, perturb, 1, 6);
  EXPECT_NE(again->parameters(), p);
}

// The options end to end: perturb.every / until / sd through a run's callbacks, counted in metrics.jsonl,
// and a run stopped at a perturbation's step and resumed for more agrees with one that went straight on.
TrainConfig perturbed_run(const std::filesystem::path& out, Index steps) {
  TrainConfig c = testing::quick_cross_entropy_run(out);
  c.data.source = "polynomial-sine";
  c.data.synthetic_examples = kPoints;
  c.data.degree = kDegree;
  c.data.nodes = "chebyshev";
  c.model.hidden = {};
  c.model.bias = false;
  c.model.init = "zeros";
  c.objective.regime = "square";
  c.objective.task = "regression";
  c.optim.lr = kLr;
  c.virtual_shards = 1;
  c.steps = steps;
  c.eval_every = 10000;
  c.perturb.every = 10000;  // full batch: one step per epoch
  c.perturb.until = 30000;
  c.perturb.sd = 0.6;
  return c;
}

TEST(DegenerateRegression, PerturbOptionsRetrainToZeroErrorWithGrowingNormAndResumeExactly) {
  const testing::TempDir dir("normscale_perturb_", "run");
  const auto straight = dir.path() / "straight";
  testing::train_in_process(perturbed_run(straight, 40000));
  const auto r = evaluation_records(straight);
  ASSERT_EQ(r.size(), 5u);  // steps 0, 10k, 20k, 30k, 40k
  const int expected_count[] = {0, 0, 1, 2, 3};  // made at the end of steps 10k, 20k, 30k (until = 30k)
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i]["perturbations"].get<int>(), expected_count[i]) << "record " << i;
    EXPECT_FALSE(r[i].contains("train_error")) << "a regression run has no classification error, record " << i;
    if (i > 0) {
      EXPECT_LT(r[i]["train_loss"].get<double>(), 1e-10) << "retrained to zero error, record " << i;
    }
  }
  for (std::size_t i = 2; i < r.size(); ++i) {
    EXPECT_GT(r[i]["weight_norm"].get<double>(), r[1]["weight_norm"].get<double>()) << "record " << i;
  }

  const auto resumed = dir.path() / "resumed";
  testing::train_in_process(perturbed_run(resumed, 20000));  // ends at a perturbation's step
  TrainConfig more = perturbed_run(resumed, 40000);
  more.resume = true;
  const nlohmann::json last = testing::train_in_process(more);
  EXPECT_EQ(last["perturbations"], r.back()["perturbations"]);
  EXPECT_DOUBLE_EQ(last["weight_norm"].get<double>(), r.back()["weight_norm"].get<double>());
  EXPECT_DOUBLE_EQ(last["test_loss"].get<double>(), r.back()["test_loss"].get<double>());
}

// The paper's rule (perturb.start = 0): the first perturbation is at the first multiple of perturb.every at or
// after the first evaluation that found zero training error, and a run resumed after that fit (found again in
// its metrics.jsonl) continues the same schedule.
TEST(PerturbAndRetrain, ScheduleStartsAtTheFirstMultipleAfterZeroTrainingError) {
  const testing::TempDir dir("normscale_perturb_fit_", "run");
  const auto config = [&](const std::filesystem::path& out, Index steps) {
    TrainConfig c = testing::quick_cross_entropy_run(out);
    c.data.source = "separable-2d";
    c.data.synthetic_examples = 40;
    c.virtual_shards = 4;
    c.model.hidden = {8};
    c.optim.lr = 0.1;  // fits at step 40, after the first multiple of `every`
    c.steps = steps;
    c.eval_every = 10;
    c.perturb.every = 25;
    c.perturb.until = 200;
    c.perturb.scale = 0.05;
    return c;
  };
  const auto straight = dir.path() / "straight";
  testing::train_in_process(config(straight, 300));
  const std::vector<nlohmann::json> r = evaluation_records(straight);
  Index fitted = -1, first_perturbed = -1;
  for (const nlohmann::json& record : r) {
    const Index step = record["step"].get<Index>();
    if (fitted < 0 && record["train_error"].get<double>() == 0.0) fitted = step;
    if (first_perturbed < 0 && record["perturbations"].get<int>() > 0) first_perturbed = step;
    if (fitted < 0) {
      EXPECT_EQ(record["perturbations"].get<int>(), 0) << "perturbed before the fit, step " << step;
    }
  }
  ASSERT_GT(fitted, 25) << "the fit must come after the first multiple of perturb.every to test the rule";
  ASSERT_LT(fitted, 150) << "and fit well before the end";
  const Index expected_first = (fitted + 24) / 25 * 25;  // at its end: seen by the next evaluation
  EXPECT_GT(first_perturbed, expected_first);
  EXPECT_LE(first_perturbed, expected_first + 10);
  EXPECT_EQ(r.back()["perturbations"].get<int>(), static_cast<int>((200 - expected_first) / 25 + 1));

  const auto resumed = dir.path() / "resumed";
  testing::train_in_process(config(resumed, 160));
  TrainConfig more = config(resumed, 300);
  more.resume = true;
  const nlohmann::json last = testing::train_in_process(more);
  EXPECT_EQ(last["perturbations"], r.back()["perturbations"]);
  EXPECT_DOUBLE_EQ(last["weight_norm"].get<double>(), r.back()["weight_norm"].get<double>());
}

// Full-batch Minnorm's exact multiplier update waits for the next step's forward pass (fused), unless an
// evaluation or a checkpoint takes it first. A perturbation at the step's end takes it first too, at the
// weights the step left: so the run is the same whatever its evaluation cadence (the update followed the
// noise when no evaluation fell on the step: alpha_mean 9.5e-4 apart between eval_every 1 and 4).
TEST(PerturbAndRetrain, FullBatchMinnormIsTheSameAtAnyEvaluationCadence) {
  const testing::TempDir dir("normscale_perturb_cadence_", "run");
  const auto run = [&](Index eval_every, Index checkpoint_every) {
    TrainConfig c = testing::quick_cross_entropy_run(dir.path() / fmt::format("e{}_c{}", eval_every, checkpoint_every));
    c.objective.regime = "minnorm";
    c.objective.task = "regression";
    c.data.source = "student-teacher";
    c.model.hidden = {};
    c.optim.lr = 0.01;
    c.perturb.every = 1;  // full batch: every step
    c.steps = 4;
    c.eval_every = eval_every;
    c.checkpoint_every = checkpoint_every;
    return testing::train_in_process(c);
  };
  const nlohmann::json every = run(1, 100), last_only = run(4, 100), checkpointed = run(4, 1);
  for (const char* key : {"alpha_mean", "weight_norm", "train_loss"}) {
    const double a = every[key].get<double>();
    EXPECT_NEAR(last_only[key].get<double>(), a, 1e-12 * std::abs(a)) << key;
    EXPECT_NEAR(checkpointed[key].get<double>(), a, 1e-12 * std::abs(a)) << key;
  }
  EXPECT_EQ(every["perturbations"], 3) << "at the ends of steps 1, 2 and 3";
}

// A run stopped early evaluates after its last step, off the eval_every cadence: at zero training error that
// evaluation must not start the perturbations (perturb.start = 0), or the run resumed with more steps perturbs
// where the uninterrupted one does not (14 perturbations against 0, weight norm 45.1 against 33.3).
TEST(PerturbAndRetrain, AShorterRunsLastEvaluationDoesNotStartTheSchedule) {
  const testing::TempDir dir("normscale_perturb_short_", "run");
  const auto config = [&](const std::filesystem::path& out, Index steps) {
    TrainConfig c = testing::quick_cross_entropy_run(out);
    c.data.source = "two-point";
    c.objective.regime = "square";
    c.model.hidden = {16};
    c.optim.lr = 0.2;
    c.perturb.every = 1;
    c.eval_every = 28;
    c.checkpoint_every = 7;
    c.steps = steps;
    return c;
  };
  const nlohmann::json straight = testing::train_in_process(config(dir.path() / "straight", 28));
  const nlohmann::json short_run = testing::train_in_process(config(dir.path() / "resumed", 14));
  ASSERT_EQ(short_run["train_error"].get<double>(), 0.0) << "the shorter run's last evaluation must find the fit";
  TrainConfig more = config(dir.path() / "resumed", 28);
  more.resume = true;
  const nlohmann::json resumed = testing::train_in_process(more);
  EXPECT_EQ(resumed["perturbations"], straight["perturbations"]);
  EXPECT_DOUBLE_EQ(resumed["weight_norm"].get<double>(), straight["weight_norm"].get<double>());
}

}  // namespace
}  // namespace normscale::toy
