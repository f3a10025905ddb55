// Gradient noise scale on synthetic measurements with known |G|^2 and tr(Sigma).
#include "normscale/metrics/noise_scale.hpp"

#include "normscale/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace normscale {
namespace {

// Noise-free measurement: E|g_B|^2 = |G|^2 + tr(Sigma)/B.
double expected_sq(double gradient_sq, double trace_sigma, double batch) {
  return gradient_sq + trace_sigma / batch;
}

TEST(GradientNoiseScale, RecoversKnownValuesExactlyWithoutNoise) {
  const double gradient_sq = 0.8;
  const double trace_sigma = 120.0;
  GradientNoiseScale scale(0.9);
  for (int step = 0; step < 5; ++step) {
    // Batch sizes change between steps (e.g. different rank counts after a resume).
    const double b_small = step % 2 == 0 ? 32.0 : 64.0;
    const double b_big = step % 2 == 0 ? 256.0 : 512.0;
    const NoiseScaleEstimate e = scale.update(expected_sq(gradient_sq, trace_sigma, b_small),
                                              expected_sq(gradient_sq, trace_sigma, b_big), b_small, b_big);
    ASSERT_TRUE(e.available);
    EXPECT_EQ(e.updates, step + 1);
    EXPECT_NEAR(e.gradient_sq, gradient_sq, 1e-12);
    EXPECT_NEAR(e.trace_sigma, trace_sigma, 1e-9);
    EXPECT_NEAR(e.b_simple, trace_sigma / gradient_sq, 1e-9);
  }
}

TEST(GradientNoiseScale, AveragesAreBiasCorrectedEmas) {
  GradientNoiseScale scale(0.5);
  // Step 1: |G|^2 = 1, tr = 10; step 2: |G|^2 = 3, tr = 30 (batches 10 and 20).
  scale.update(expected_sq(1.0, 10.0, 10.0), expected_sq(1.0, 10.0, 20.0), 10.0, 20.0);
  const NoiseScaleEstimate e = scale.update(expected_sq(3.0, 30.0, 10.0), expected_sq(3.0, 30.0, 20.0), 10.0, 20.0);
  // EMA: 0.5 * (0.5 * 1) + 0.5 * 3 = 1.75, weight 0.75 -> 7/3; trace likewise 70/3.
  EXPECT_NEAR(e.gradient_sq, 7.0 / 3.0, 1e-12);
  EXPECT_NEAR(e.trace_sigma, 70.0 / 3.0, 1e-10);
  EXPECT_NEAR(e.b_simple, 10.0, 1e-10);
}

TEST(GradientNoiseScale, EqualBatchSizesAreNotAvailable) {
  GradientNoiseScale scale(0.9);
  NoiseScaleEstimate e = scale.update(2.0, 2.0, 64.0, 64.0);
  EXPECT_FALSE(e.available);
  EXPECT_EQ(e.updates, 0);
  // A later two-size measurement is used; a one-size one after it changes nothing.
  scale.update(expected_sq(1.0, 50.0, 8.0), expected_sq(1.0, 50.0, 64.0), 8.0, 64.0);
  e = scale.update(100.0, 100.0, 64.0, 64.0);
  EXPECT_TRUE(e.available);
  EXPECT_EQ(e.updates, 1);
  EXPECT_NEAR(e.b_simple, 50.0, 1e-9);
  scale.reset();
  EXPECT_FALSE(scale.estimate().available);
}

TEST(GradientNoiseScale, NonPositiveSignalGivesNanBSimpleAndBadInputsThrow) {
  GradientNoiseScale scale(0.0);
  // |g_big|^2 much smaller than |g_small|^2 can give a negative |G|^2 estimate.
  const NoiseScaleEstimate e = scale.update(10.0, 0.5, 1.0, 2.0);
  EXPECT_TRUE(e.available);
  EXPECT_NEAR(e.gradient_sq, -9.0, 1e-12);
  EXPECT_TRUE(std::isnan(e.b_simple));
  EXPECT_THROW(GradientNoiseScale(1.0), Error);
  EXPECT_THROW(scale.update(1.0, 1.0, 64.0, 8.0), Error);
  EXPECT_THROW(scale.update(-1.0, 1.0, 8.0, 64.0), Error);
}

// Ranks holding 1 and 3 rows of a batch of 4 (and two ranks holding none): with E|g_r|^2 = |G|^2 + tr(Sigma)/b_r
// their mean is a measurement at the harmonic mean 1.5, from which |G|^2 and tr(Sigma) come back exactly.
TEST(GradientNoiseScale, UnevenLocalBatchesMeasureAtTheirHarmonicMean) {
  constexpr double kG = 2.0, kTrace = 12.0;
  const SmallBatchSample small =
      small_batch_sample(expected_sq(kG, kTrace, 1.0) + expected_sq(kG, kTrace, 3.0), 2.0, 1.0 / 1.0 + 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(small.batch, 1.5);
  GradientNoiseScale scale(0.0);
  const NoiseScaleEstimate e = scale.update(small.grad_sq, expected_sq(kG, kTrace, 4.0), small.batch, 4.0);
  EXPECT_NEAR(e.gradient_sq, kG, 1e-12);
  EXPECT_NEAR(e.trace_sigma, kTrace, 1e-12);
  // One rank holding the whole batch (a batch of 1 on two ranks) is no sample: it measured one size only.
  EXPECT_EQ(small_batch_sample(5.0, 1.0, 1.0).batch, 0.0);
  EXPECT_EQ(small_batch_sample(0.0, 0.0, 0.0).batch, 0.0);
}

TEST(GradientNoiseScale, GradientsOfExactlyZeroAreNoSample) {
  GradientNoiseScale scale(0.9);
  EXPECT_FALSE(scale.update(0.0, 0.0, 8.0, 64.0).available);
}

// A checkpoint carries state(): restored into a fresh estimator, it goes on exactly as the one never stopped.
TEST(GradientNoiseScale, ARestoredStateGoesOnAsTheUninterruptedOne) {
  GradientNoiseScale straight(0.9);
  for (int i = 0; i < 5; ++i) straight.update(10.0 + i, 4.0 + 0.5 * i, 8.0, 64.0);
  GradientNoiseScale resumed(0.9);
  resumed.restore(straight.state());
  EXPECT_EQ(resumed.state(), straight.state());
  for (int i = 0; i < 3; ++i) {
    const NoiseScaleEstimate a = straight.update(12.0 - i, 5.0, 8.0, 64.0);
    const NoiseScaleEstimate b = resumed.update(12.0 - i, 5.0, 8.0, 64.0);
    EXPECT_EQ(a.b_simple, b.b_simple);
    EXPECT_EQ(a.updates, b.updates);
  }
  EXPECT_EQ(resumed.estimate().updates, 8);
  GradientNoiseScale fresh(0.9);
  fresh.restore(GradientNoiseScale(0.9).state());
  EXPECT_FALSE(fresh.estimate().available);
  for (const std::vector<double>& bad : std::vector<std::vector<double>>{
           {1.0, 2.0, 0.5}, {1.0, 2.0, 0.5, 2.5}, {1.0, 2.0, 0.0, 3.0}, {1.0, 2.0, 1.5, 3.0}, {NAN, 2.0, 0.5, 3.0}}) {
    EXPECT_THROW(fresh.restore(bad), Error);
  }
}

}  // namespace
}  // namespace normscale
