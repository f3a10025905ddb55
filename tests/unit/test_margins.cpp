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

TEST(Margins, PercentilesInterpolateInsideBins) {
  const HistogramRange range{0.0, 10.0, 10};
  // Ten values, one per bin: the q-th percentile lands q/10 of the way through the data.
  std::vector<double> counts(12, 0.0);
  for (std::size_t b = 1; b <= 10; ++b) counts[b] = 1.0;
  EXPECT_NEAR(histogram_percentile(range, counts, 50.0), 5.0, 1e-12);
  EXPECT_NEAR(histogram_percentile(range, counts, 25.0), 2.5, 1e-12);
  EXPECT_NEAR(histogram_percentile(range, counts, 100.0), 10.0, 1e-12);
  EXPECT_NEAR(histogram_percentile(range, counts, 0.0), 0.0, 1e-12);
  // All mass in bin [3, 4): every percentile lies in that bin, linearly spread.
  std::vector<double> single(12, 0.0);
  single[4] = 8.0;
  EXPECT_NEAR(histogram_percentile(range, single, 50.0), 3.5, 1e-12);
  EXPECT_NEAR(histogram_percentile(range, single, 75.0), 3.75, 1e-12);
  // Underflow and overflow clamp to the range.
  std::vector<double> outside(12, 0.0);
  outside[0] = 1.0;
  outside[11] = 1.0;
  EXPECT_DOUBLE_EQ(histogram_percentile(range, outside, 10.0), 0.0);
  EXPECT_DOUBLE_EQ(histogram_percentile(range, outside, 90.0), 10.0);
  EXPECT_TRUE(std::isnan(histogram_percentile(range, std::vector<double>(12, 0.0), 50.0)));
  EXPECT_THROW(histogram_percentile(range, counts, 101.0), Error);
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
  // Median of margins: the 3rd of 6 counts; 1 in [-1,0), 2 in [0,1): halfway through [0,1).
  EXPECT_NEAR(whole.margin_percentile(50.0), 1.0, 1e-12);
  EXPECT_NEAR(whole.magnitude_percentile(25.0), 0.5, 1e-12);

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
