// §3.3 of the Minnorm paper: two points x1 = (1,1)/sqrt2 (y = +1) and x2 = -x1 (y = -1), a linear
// classifier started perpendicular to the max-margin vector x1. Minnorm's angle to x1 decays
// exponentially with alpha1 = alpha2 = 1/2; gradient descent on the logistic loss only grows the
// parallel component, so its angle shrinks like 1/log(t).
#include "normscale/data/synthetic.hpp"
#include "toy_harness.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace normscale::toy {
namespace {

const MlpSpec kLinear{2, {}, 1, "identity", false};
const std::vector<double> kStart = {1 / std::sqrt(2.0), -1 / std::sqrt(2.0)};  // Fig. 4A
constexpr Index kSteps = 1000;

// Angle between w and x1 from its parallel and perpendicular components (accurate near zero).
double angle_to_max_margin(const std::vector<double>& w) {
  const double parallel = (w[0] + w[1]) / std::sqrt(2.0);
  const double perpendicular = (w[0] - w[1]) / std::sqrt(2.0);
  return std::atan2(std::abs(perpendicular), parallel);
}

TEST(TwoPoint, MinnormConvergesExponentiallyToMaxMargin) {
  // tau = 1/eta = 20 steps, r = s/eta = 1/4 as in Fig. 4; rho = 0.
  TrainerOptions options;
  options.lr = 0.05;
  auto run = make_toy_run(make_two_point().train, kLinear, minnorm_config("binary", 0.0, 0.0125), options, kStart);
  std::vector<double> angles;
  for (int block = 0; block < 10; ++block) {
    run->train(kSteps / 10);
    angles.push_back(angle_to_max_margin(run->network->parameters()));
  }
  EXPECT_LT(angles.back(), 1e-6);
  // Exponential: every further 100 steps shrink the angle by a large factor, not a log-like crawl.
  EXPECT_LT(angles[6], 1e-3 * angles[1]);
  EXPECT_NEAR(run->alpha(0), 0.5, 1e-6);
  EXPECT_NEAR(run->alpha(1), 0.5, 1e-6);
  const auto& w = run->network->parameters();
  EXPECT_NEAR(w[0], 1 / std::sqrt(2.0), 1e-6);  // the max-margin vector itself, margin exactly 1
  EXPECT_NEAR(w[1], 1 / std::sqrt(2.0), 1e-6);
}

TEST(TwoPoint, LogisticGradientDescentIsStillFarAfterAsManySteps) {
  ObjectiveConfig logistic;
  logistic.regime = "sgd";
  TrainerOptions options;
  options.lr = 0.5;  // ten times Minnorm's step, and still slow
  auto run = make_toy_run(make_two_point().train, kLinear, logistic, options, kStart);
  run->train(kSteps);
  const auto& w = run->network->parameters();
  EXPECT_GT(angle_to_max_margin(w), 1e-2);
  // The perpendicular component is frozen (eq. 24).
  EXPECT_NEAR((w[0] - w[1]) / std::sqrt(2.0), 1.0, 1e-12);
}

// Theory III's exponential loss (issue #14) on the same problem: the margin m = w.x1 follows
// dm/dt = eta exp(-m), so m(t) = log(1 + eta t) from m = 0; the perpendicular part is frozen, and the
// direction reaches the max-margin vector only as 1 / log t.
TEST(TwoPoint, ExponentialLossGrowsTheMarginLikeLogT) {
  ObjectiveConfig exponential;
  exponential.regime = "exponential";
  exponential.task = "binary";
  TrainerOptions options;
  options.lr = 0.5;
  auto run = make_toy_run(make_two_point().train, kLinear, exponential, options, kStart);
  double previous_angle = angle_to_max_margin(run->network->parameters());
  for (const Index t : {Index{100}, Index{1000}, Index{10000}}) {
    run->train(t - run->trainer->steps_done());
    const auto& w = run->network->parameters();
    const double margin = (w[0] + w[1]) / std::sqrt(2.0);
    // Within 0.05 of the continuous-time curve (Euler steps run slightly ahead early on).
    EXPECT_NEAR(margin, std::log(1.0 + 0.5 * static_cast<double>(t)), 0.05) << "step " << t;
    EXPECT_NEAR((w[0] - w[1]) / std::sqrt(2.0), 1.0, 1e-12);
    const double angle = angle_to_max_margin(w);
    EXPECT_LT(angle, previous_angle);
    previous_angle = angle;
  }
  EXPECT_GT(previous_angle, 0.1) << "1 / log t: still far from the max-margin direction after 10^4 steps";
}

// The same loss with Lagrange-multiplier normalization (Theory III §6.1): V = W / ||W|| turns towards x1
// at a rate rho exp(-rho m) while rho grows, so the angle falls far faster than the 1 / log t of plain
// gradient descent; rho itself grows like log t.
TEST(TwoPoint, LagrangeNormalizationTurnsToTheMaxMarginDirection) {
  ObjectiveConfig exponential;
  exponential.regime = "exponential";
  exponential.task = "binary";
  TrainerOptions options;
  options.lr = 0.5;
  options.normalization = WeightNormalization::kLagrange;
  auto normalized = make_toy_run(make_two_point().train, kLinear, exponential, options, kStart);
  options.normalization = WeightNormalization::kNone;
  auto plain = make_toy_run(make_two_point().train, kLinear, exponential, options, kStart);
  double previous_angle = angle_to_max_margin(normalized->network->parameters());
  double previous_rho = 1.0;
  for (const Index t : {Index{100}, Index{1000}, Index{10000}}) {
    normalized->train(t - normalized->trainer->steps_done());
    plain->train(t - plain->trainer->steps_done());
    const auto& w = normalized->network->parameters();
    const double angle = angle_to_max_margin(w);
    const double rho = std::hypot(w[0], w[1]);
    EXPECT_LT(angle, previous_angle) << "step " << t;
    EXPECT_GT(rho, previous_rho) << "step " << t;
    EXPECT_LT(angle, 0.1 * angle_to_max_margin(plain->network->parameters())) << "step " << t;
    previous_angle = angle;
    previous_rho = rho;
  }
  EXPECT_LT(previous_angle, 1e-6);
}

}  // namespace
}  // namespace normscale::toy
