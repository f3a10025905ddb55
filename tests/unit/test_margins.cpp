// Margins of f/rho on hand-made outputs: per-example values, histogram counts, percentiles and the
// split (two-rank) combination.
#include "normscale/metrics/margins.hpp"

#include "normscale/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace normscale {
namespace {

TEST(Margins, BinaryMarginIsSignedOutputOverRho) {
  Matrix<double> outputs(4, 1);
  outputs << 2.0, -1.0, 0.5, -3.0;
  const std::vector<std::int32_t> labels = {1, 0, 0, 1};
  const std::vector<double> margins = example_margins(outputs, labels, 2.0);
  ASSERT_EQ(margins.size(), 4u);
  EXPECT_DOUBLE_EQ(margins[0], 1.0);
  EXPECT_DOUBLE_EQ(margins[1], 0.5);
  EXPECT_DOUBLE_EQ(margins[2], -0.25);
  EXPECT_DOUBLE_EQ(margins[3], -1.5);
  EXPECT_THROW(example_margins(outputs, std::vector<std::int32_t>{1, 0, 2, 1}, 1.0), Error);
  EXPECT_THROW(example_margins(outputs, labels, 0.0), Error);
}

TEST(Margins, MultiClassMarginIsTrueOutputMinusBestOther) {
  Matrix<float> outputs(3, 3);
  outputs << 3.0f, 1.0f, 2.0f,  //
      0.0f, 1.0f, 4.0f,         //
      1.0f, 1.0f, 1.0f;
  const std::vector<std::int32_t> labels = {0, 1, 2};
  const std::vector<double> margins = example_margins(outputs, labels, 0.5);
  EXPECT_DOUBLE_EQ(margins[0], (3.0 - 2.0) / 0.5);
  EXPECT_DOUBLE_EQ(margins[1], (1.0 - 4.0) / 0.5);
  EXPECT_DOUBLE_EQ(margins[2], 0.0);
}

TEST(Margins, HistogramSlotsCoverUnderflowBinsAndOverflow) {
  const HistogramRange range{-1.0, 1.0, 4};  // bins of width 0.5
  EXPECT_EQ(histogram_slot(range, -1.5), 0);
  EXPECT_EQ(histogram_slot(range, -1.0), 1);
  EXPECT_EQ(histogram_slot(range, -0.51), 1);
  EXPECT_EQ(histogram_slot(range, -0.5), 2);
  EXPECT_EQ(histogram_slot(range, 0.0), 3);
  EXPECT_EQ(histogram_slot(range, 0.99), 4);
  EXPECT_EQ(histogram_slot(range, 1.0), 4);  // high closes the last bin
  EXPECT_EQ(histogram_slot(range, 1.01), 5);
}

// Exact, as numpy.percentile's default (linear) gives them; a 50-bin histogram's were 17% off at p90.
TEST(Margins, PercentilesAreExactAsNumpysDefault) {
  // numpy.percentile([7, 1, 3, 10, 4], [0, 10, 25, 50, 90, 100]) = [1, 1.8, 3, 4, 8.8, 10]
  constexpr double kQs[] = {0.0, 10.0, 25.0, 50.0, 90.0, 100.0};
  const std::vector<double> p = percentiles({7.0, 1.0, 3.0, 10.0, 4.0}, kQs);
  const std::vector<double> want = {1.0, 1.8, 3.0, 4.0, 8.8, 10.0};
  ASSERT_EQ(p.size(), want.size());
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(p[i], want[i], 1e-12) << kQs[i];
  // Values far apart within one bin of any histogram: still exact.
  constexpr double kMedian[] = {50.0};
  EXPECT_DOUBLE_EQ(percentiles({0.0, 1e-9, 2e-9, 1e6}, kMedian)[0], 1.5e-9);
  EXPECT_EQ(percentiles({2.5}, kQs), std::vector<double>(6, 2.5));
  EXPECT_TRUE(std::isnan(percentiles({}, kMedian)[0]));
  constexpr double kBad[] = {101.0};
  EXPECT_THROW(percentiles({1.0}, kBad), Error);
}

TEST(Margins, StatsCountMarginsAndMagnitudesAndCombineLikeTwoRanks) {
  // Multi-class outputs with rho = 2; margins (f_y - max other)/2 and magnitudes ||f||/2.
  Matrix<double> outputs(6, 2);
  outputs << 3.0, -1.0,  // y=0: margin 2,    |f| = sqrt(10)/2
      0.0, 4.0,          // y=1: margin 2,    |f| = 2
      1.0, 0.0,          // y=1: margin -0.5, |f| = 0.5
      0.0, 0.0,          // y=0: margin 0,    |f| = 0
      6.0, 0.0,          // y=0: margin 3,    |f| = 3
      0.0, 1.0;          // y=1: margin 0.5,  |f| = 0.5
  const std::vector<std::int32_t> labels = {0, 1, 1, 0, 0, 1};
  const HistogramRange margin_range{-1.0, 3.0, 4};  // [-1,0) [0,1) [1,2) [2,3]
  const HistogramRange magnitude_range{0.0, 2.0, 2};  // [0,1) [1,2]
  MarginStats whole(margin_range, magnitude_range);
  whole.accumulate(outputs, labels, 2.0);
  EXPECT_DOUBLE_EQ(whole.examples(), 6.0);
  EXPECT_DOUBLE_EQ(whole.min_margin(), -0.5);
  EXPECT_DOUBLE_EQ(whole.mean_margin(), (2.0 + 2.0 - 0.5 + 0.0 + 3.0 + 0.5) / 6.0);
  const std::vector<double> margin_counts(whole.margin_counts().begin(), whole.margin_counts().end());
  EXPECT_EQ(margin_counts, (std::vector<double>{0, 1, 2, 0, 3, 0}));
  const std::vector<double> magnitude_counts(whole.magnitude_counts().begin(), whole.magnitude_counts().end());
  EXPECT_EQ(magnitude_counts, (std::vector<double>{0, 3, 2, 1}));  // 2 closes [1,2]; 3 overflows

  // Two "ranks": halves, summable() summed and the minimum combined as max of negatives.
  MarginStats first(margin_range, magnitude_range);
  MarginStats second(margin_range, magnitude_range);
  const std::span<const std::int32_t> all(labels);
  first.accumulate(outputs.topRows(2), all.first(2), 2.0);
  second.accumulate(outputs.bottomRows(4), all.subspan(2), 2.0);
  EXPECT_DOUBLE_EQ(first.min_margin(), 2.0);
  for (std::size_t i = 0; i < first.summable().size(); ++i) first.summable()[i] += second.summable()[i];
  first.set_min_margin(-std::max(first.neg_min_margin(), second.neg_min_margin()));
  EXPECT_EQ(first.summable(), whole.summable());
  EXPECT_DOUBLE_EQ(first.min_margin(), whole.min_margin());

  MarginStats empty(margin_range, magnitude_range);
  EXPECT_EQ(empty.min_margin(), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(empty.mean_margin()));
  EXPECT_THROW(MarginStats(HistogramRange{1.0, 1.0, 4}, magnitude_range), Error);
}

TEST(Margins, BinaryMagnitudeIsAbsoluteOutput) {
  Matrix<double> outputs(3, 1);
  outputs << -0.75, 0.25, 1.75;
  const std::vector<std::int32_t> labels = {0, 1, 1};
  MarginStats stats(HistogramRange{-2.0, 2.0, 4}, HistogramRange{0.0, 2.0, 4});
  stats.accumulate(outputs, labels, 1.0);
  const std::vector<double> magnitude(stats.magnitude_counts().begin(), stats.magnitude_counts().end());
  EXPECT_EQ(magnitude, (std::vector<double>{0, 1, 1, 0, 1, 0}));  // 0.25, 0.75, 1.75
  EXPECT_DOUBLE_EQ(stats.min_margin(), 0.25);
}

}  // namespace
}  // namespace normscale
