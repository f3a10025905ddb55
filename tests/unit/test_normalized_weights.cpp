// Theory III's normalized weight matrices (normalized_weights.hpp): each form's step is its equations written
// out with the lambda_k that keeps ||V_k|| = 1, the gradients in (rho_k, V_k) match finite differences, the
// Trainer keeps ||W_k|| equal to the rho_k of eq. 13 over many steps, and the tangent form follows plain
// gradient descent for small steps.
#include "normscale/model/architectures.hpp"
#include "normscale/objective/example_objective.hpp"
#include "normscale/objective/exponential_rule.hpp"
#include "normscale/optim/normalized_weights.hpp"
#include "normscale/optim/optim_config.hpp"
#include "normscale/train/run_directory_lock.hpp"
#include "normscale/train/trainer.hpp"

#include "support/error_text.hpp"
#include "support/finite_difference.hpp"
#include "support/random_data.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <cmath>
#include <numeric>

namespace normscale {
namespace {

using ::testing::HasSubstr;

Eigen::VectorXd random_vector(Index size, std::uint64_t seed) {
  RandomStream rng(seed, StreamPurpose::kSynthetic);
  Eigen::VectorXd v(size);
  for (Index i = 0; i < size; ++i) v[i] = rng.normal();
  return v;
}

BlockDots dots_of(const Eigen::VectorXd& w, const Eigen::VectorXd& g) { return {w.dot(w), w.dot(g), g.dot(g)}; }

// Eq. 13-14 (lagrange) and eq. 84-85 (tangent) written out: rho - eta <G, V>, and V - eta (g - 2 lambda V)
// with g = rho G or G / rho and the lambda (the root near the tangent-space value) that makes the new V a
// unit vector.
TEST(NormalizedWeights, StepIsTheFormsEquationsWithTheLambdaThatKeepsUnitNorm) {
  for (const WeightNormalization form : {WeightNormalization::kLagrange, WeightNormalization::kTangent}) {
    for (const double lr : {1e-3, 1e-2, 0.05}) {
      const Eigen::VectorXd w = 3.0 * random_vector(12, 1);
      const Eigen::VectorXd g = 0.3 * random_vector(12, 2);
      const double rho = w.norm();
      const Eigen::VectorXd v = w / rho;
      const double rho_next = rho - lr * g.dot(v);
      const Eigen::VectorXd v_gradient = form == WeightNormalization::kLagrange ? Eigen::VectorXd(rho * g)
                                                                                : Eigen::VectorXd(g / rho);
      // ||(1 + 2 eta lambda) V - eta g_V|| = 1: a quadratic in a = 1 + 2 eta lambda.
      const double p = lr * v_gradient.dot(v), q = lr * lr * v_gradient.squaredNorm();
      const double a = p + std::sqrt(p * p - q + 1.0);
      const Eigen::VectorXd v_next = a * v - lr * v_gradient;
      ASSERT_NEAR(v_next.norm(), 1.0, 1e-12) << "the test's own lambda";

      const ScaleAdd step = normalized_weight_step(dots_of(w, g), lr, form);
      const Eigen::VectorXd w_next = step.a * w + step.b * g;
      EXPECT_NEAR(w_next.norm(), rho_next, 1e-12 * rho) << "lr " << lr;
      EXPECT_LT((w_next / rho_next - v_next).norm(), 1e-12) << "lr " << lr;
    }
  }
}

// Where eta ||g_perp|| >= 1 no lambda gives a unit vector; the step is the tangent step scaled back to unit norm.
TEST(NormalizedWeights, TooLargeAStepFallsBackToTheRetractedTangentStep) {
  const Eigen::VectorXd w = random_vector(8, 3);
  const Eigen::VectorXd g = 50.0 * random_vector(8, 4);
  const double lr = 1.0, rho = w.norm();
  const Eigen::VectorXd v = w / rho;
  const Eigen::VectorXd g_perp = rho * g - rho * g.dot(v) * v;
  ASSERT_GE(lr * g_perp.norm(), 1.0);
  const ScaleAdd step = normalized_weight_step(dots_of(w, g), lr, WeightNormalization::kLagrange);
  const double rho_next = rho - lr * g.dot(v);
  const Eigen::VectorXd expected = rho_next * (v - lr * g_perp).normalized();
  EXPECT_LT((step.a * w + step.b * g - expected).norm(), 1e-9 * expected.norm());
  // A zero block has no direction: the plain step.
  const ScaleAdd zero = normalized_weight_step({0.0, 0.0, 4.0}, 0.1, WeightNormalization::kTangent);
  EXPECT_EQ(zero.a, 1.0);
  EXPECT_EQ(zero.b, -0.1);
}

// dL/drho_k = <G_k, V_k> and dL/dV_k = rho_k G_k, against central differences of the loss as a function of
// (rho_1, ..., rho_K, V_1, ..., V_K) with W_k = rho_k V_k.
TEST(NormalizedWeights, GradientsInRhoAndVMatchFiniteDifferences) {
  const Dataset data = testing::random_classification(6, 4, 3, 5, testing::LabelRule::kRandom);
  auto net = make_mlp<double>({4, {7, 5}, 3, "relu", false});
  net->initialize({"he", 1.0}, 3);
  ExampleObjective<double, ExponentialRule> objective;
  std::vector<Index> rows(6);
  std::iota(rows.begin(), rows.end(), 0);
  const Matrix<double> x = data.feature_matrix().cast<double>();
  const std::vector<ParameterBlock> blocks = weight_blocks(*net);
  ASSERT_EQ(blocks.size(), 3u);

  // The point (rho, V) and the analytic gradient there.
  std::vector<double> point, analytic;
  Matrix<double> grad_out;
  objective.output_gradient(data, rows, net->forward(x), 1.0, grad_out);
  net->backward(grad_out);
  const std::vector<double>& w = net->parameters();
  const std::vector<double>& g = net->gradient();
  for (const ParameterBlock& b : blocks) {
    double ww = 0, wg = 0;
    for (Index i = b.offset; i < b.offset + b.size; ++i) ww += w[i] * w[i], wg += w[i] * g[i];
    point.push_back(std::sqrt(ww));
    analytic.push_back(wg / std::sqrt(ww));
  }
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    for (Index i = blocks[k].offset; i < blocks[k].offset + blocks[k].size; ++i) {
      point.push_back(w[i] / point[k]);
      analytic.push_back(point[k] * g[i]);
    }
  }
  const auto loss = [&] {
    std::size_t at = blocks.size();
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      for (Index i = blocks[k].offset; i < blocks[k].offset + blocks[k].size; ++i) {
        net->mutable_parameters()[i] = point[k] * point[at++];
      }
    }
    return objective.loss_sum(data, rows, net->forward(x));
  };
  EXPECT_LT(testing::worst_gradient_error(point, analytic, loss), 2e-5);
}

// Full-batch exponential loss on a bias-free 5-16-3 ReLU network and 12 points in 5 dimensions (separable, so
// the loss falls and rho grows for ever), with the given normalization and step.
struct ExponentialRun {
  Dataset data = testing::random_classification(12, 5, 3, 8, testing::LabelRule::kRandom);
  std::unique_ptr<Network<double>> net = make_mlp<double>({5, {16}, 3, "relu", false});
  ExampleObjective<double, ExponentialRule> objective;
  LocalComm comm;
  TrainerOptions options;
  std::unique_ptr<Trainer<double>> trainer;

  ExponentialRun(WeightNormalization form, double lr) {
    net->initialize({"he", 1.0}, 4);
    options.batch = kFullBatch;
    options.virtual_shards = 1;
    options.lr = lr;
    options.normalization = form;
    trainer = std::make_unique<Trainer<double>>(options, comm, data, data.rows, *net, objective);
  }
  Eigen::VectorXd weights() const {
    return Eigen::Map<const Eigen::VectorXd>(net->parameters().data(), static_cast<Index>(net->parameters().size()));
  }
};

// Over 2000 full-batch steps, ||W_k|| stays the rho_k of eq. 13 (rho_k <- rho_k - eta <G_k, V_k> with the step's
// own gradient) to 1e-6: V_k = W_k / rho_k keeps unit norm. The layers' rho_k all move by the same
// <G_k, W_k> = sum_n f_n . dL/df_n (the network is 1-homogeneous in each layer), so their squares grow alike.
TEST(NormalizedWeights, TrainerKeepsEachLayersNormOnTheRhoOfEquation13) {
  for (const WeightNormalization form : {WeightNormalization::kLagrange, WeightNormalization::kTangent}) {
    SCOPED_TRACE(form == WeightNormalization::kLagrange ? "lagrange" : "tangent");
    ExponentialRun run(form, 0.05);
    const std::vector<ParameterBlock> blocks = weight_blocks(*run.net);
    const auto block_norm = [&](const ParameterBlock& b, const std::vector<double>& v) {
      double sum = 0;
      for (Index i = b.offset; i < b.offset + b.size; ++i) sum += v[i] * v[i];
      return std::sqrt(sum);
    };
    std::vector<double> rho;
    for (const ParameterBlock& b : blocks) rho.push_back(block_norm(b, run.net->parameters()));
    const std::vector<double> rho_start = rho;
    double worst = 0;
    for (int t = 0; t < 2000; ++t) {
      const std::vector<double> before = run.net->parameters();
      run.trainer->step();
      const std::vector<double>& g = run.net->gradient();  // the step's reduced gradient, at `before`
      for (std::size_t k = 0; k < blocks.size(); ++k) {
        double wg = 0;
        for (Index i = blocks[k].offset; i < blocks[k].offset + blocks[k].size; ++i) wg += before[i] * g[i];
        rho[k] -= run.options.lr * wg / block_norm(blocks[k], before);
        worst = std::max(worst, std::abs(block_norm(blocks[k], run.net->parameters()) / rho[k] - 1.0));
      }
    }
    EXPECT_LT(worst, 1e-6);
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      EXPECT_GT(rho[k], rho_start[k] + 0.1) << "the exponential loss grows rho";
      // Same growth of rho_k^2 in every layer (Theory III §7), up to the discrete steps' second-order terms.
      EXPECT_NEAR(rho[k] * rho[k] - rho_start[k] * rho_start[k], rho[0] * rho[0] - rho_start[0] * rho_start[0],
                  0.05 * (rho[0] * rho[0] - rho_start[0] * rho_start[0]));
    }
  }
}

// §21: the tangent form is the dynamics gradient descent on W induces on (rho, V), so at a small step its
// trajectory stays on plain descent's (the difference is second order in the step); the Lagrange form's
// V-step is rho_k^2 times larger and leaves it.
TEST(NormalizedWeights, TangentFormFollowsPlainGradientDescentAtSmallSteps) {
  const auto weights_after = [](WeightNormalization form) {
    ExponentialRun run(form, 1e-3);
    for (int t = 0; t < 200; ++t) run.trainer->step();
    return run.weights();
  };
  const Eigen::VectorXd start = ExponentialRun(WeightNormalization::kNone, 1e-3).weights();
  const Eigen::VectorXd plain = weights_after(WeightNormalization::kNone);
  const double moved = (plain - start).norm();
  ASSERT_GT(moved, 1e-2);
  EXPECT_LT((weights_after(WeightNormalization::kTangent) - plain).norm(), 1e-3 * moved);
  EXPECT_GT((weights_after(WeightNormalization::kLagrange) - plain).norm(), 0.1 * moved);
}

TEST(NormalizedWeights, ConflictingSettingsAreErrorsNamingTheOptions) {
  const Dataset data = testing::random_classification(8, 3, 2, 1, testing::LabelRule::kRandom);
  LocalComm comm;
  TrainerOptions options;
  options.batch = kFullBatch;
  options.virtual_shards = 1;
  options.normalization = WeightNormalization::kTangent;
  options.momentum = 0.9;
  auto net = make_mlp<double>({3, {4}, 2, "relu", false});
  ExampleObjective<double, ExponentialRule> objective;
  EXPECT_THAT(testing::error_of([&] { Trainer<double>(options, comm, data, data.rows, *net, objective); }),
              AllOf(HasSubstr("optim.normalization"), HasSubstr("optim.momentum")));
  BnMlpSpec spec{3, {4}, 2};
  spec.use_batch_norm = false;
  spec.weight_norm = true;
  auto weight_normed = make_bn_mlp<double>(spec);
  EXPECT_THAT(testing::error_of([&] { weight_blocks(*weight_normed); }),
              AllOf(HasSubstr("weight-norm-dense"), HasSubstr("model.weight_norm")));
}

// The option end to end with Theory III's instruments: a bias-free ReLU network under the exponential loss
// separates the set, its normalized margin grows, and every layer's squared norm grows by the same amount
// (norm_growth_spread near 0; Theory III §7).
TEST(NormalizedWeights, LagrangeRunReportsGrowingMarginAndEqualNormGrowth) {
  const testing::TempDir dir("normscale_lagrange_", "run");
  TrainConfig c = testing::quick_cross_entropy_run(dir.path() / "run");
  c.data.source = "separable-2d";
  c.data.synthetic_examples = 40;
  c.virtual_shards = 4;
  c.model.hidden = {16};
  c.model.bias = false;
  c.objective.regime = "exponential";
  c.objective.task = "binary";
  c.optim.normalization = "lagrange";
  c.optim.lr = 0.05;
  c.steps = 3000;
  c.eval_every = 1000;
  c.instruments = true;
  testing::train_in_process(c);
  const std::vector<nlohmann::json> records = evaluation_records(dir.path() / "run");
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records.back()["train_error"].get<double>(), 0.0);
  ASSERT_TRUE(records[1].contains("near_min_margin_fraction")) << "separated after 1000 steps";
  EXPECT_GT(records.back()["normalized_margin"].get<double>(), records[1]["normalized_margin"].get<double>());
  EXPECT_GT(records.back()["near_min_margin_fraction"].get<double>(), 0.0);
  for (std::size_t i = 1; i < records.size(); ++i) {
    EXPECT_LT(records[i]["norm_growth_spread"].get<double>(), 0.05) << records[i].dump();
    EXPECT_GT(records[i]["layers"][0]["norm2_growth"].get<double>(), 0.0);
  }
}

}  // namespace
}  // namespace normscale
