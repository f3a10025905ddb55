// The scrambled Halton sequence of study searches: known prefixes, range, reproducibility, stratification, maps.
#include "normscale/core/error.hpp"
#include "normscale/study/quasi_random.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

namespace normscale {
namespace {

// How many of the first n points fall in each of `bins` equal bins of [0, 1) in one dimension.
std::vector<int> bin_counts(const ScrambledHalton& sequence, std::size_t dimension, std::uint64_t n,
                            std::size_t bins) {
  std::vector<int> counts(bins, 0);
  for (std::uint64_t index = 0; index < n; ++index) {
    ++counts[static_cast<std::size_t>(sequence.coordinate(index, dimension) * static_cast<double>(bins))];
  }
  return counts;
}

TEST(QuasiRandom, RadicalInverseKnownPrefixes) {
  const std::vector<double> base2 = {0.0, 1.0 / 2, 1.0 / 4, 3.0 / 4, 1.0 / 8, 5.0 / 8, 3.0 / 8, 7.0 / 8};
  for (std::uint64_t index = 0; index < base2.size(); ++index) {
    EXPECT_EQ(radical_inverse(index, 2), base2[index]) << index;  // exact in binary
  }
  const std::vector<double> base3 = {0.0,     1.0 / 3, 2.0 / 3, 1.0 / 9, 4.0 / 9,
                                     7.0 / 9, 2.0 / 9, 5.0 / 9, 8.0 / 9, 1.0 / 27};
  for (std::uint64_t index = 0; index < base3.size(); ++index) {
    EXPECT_DOUBLE_EQ(radical_inverse(index, 3), base3[index]) << index;
  }
  EXPECT_DOUBLE_EQ(radical_inverse(6, 5), 1.0 / 5 + 1.0 / 25);  // 6 = 11 in base 5
  EXPECT_THROW(radical_inverse(1, 1), Error);
}

TEST(QuasiRandom, BasesAreThePrimes) {
  const std::vector<std::uint32_t> primes = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29};
  for (std::size_t dimension = 0; dimension < primes.size(); ++dimension) {
    EXPECT_EQ(halton_base(dimension), primes[dimension]);
  }
  EXPECT_EQ(halton_base(99), 541U);  // the 100th prime
}

TEST(QuasiRandom, ScrambledPointsLieInTheUnitCube) {
  const ScrambledHalton sequence(6, 3);
  EXPECT_EQ(sequence.dimensions(), 6U);
  EXPECT_GE(sequence.index_limit(), std::uint64_t{1} << 40);
  for (std::uint64_t index = 0; index < 5000; ++index) {
    const std::vector<double> point = sequence.point(index);
    ASSERT_EQ(point.size(), 6U);
    for (const double value : point) {
      ASSERT_GE(value, 0.0) << index;
      ASSERT_LT(value, 1.0) << index;
    }
  }
  EXPECT_THROW(sequence.coordinate(0, 6), Error);
  EXPECT_THROW(sequence.coordinate(sequence.index_limit(), 0), Error);
}

TEST(QuasiRandom, ReproducibleFromTheSeedAndDifferentForAnother) {
  const ScrambledHalton first(3, 7);
  const ScrambledHalton again(3, 7);
  const ScrambledHalton other(3, 8);
  std::size_t differing = 0;
  for (std::uint64_t index = 0; index < 64; ++index) {
    EXPECT_EQ(first.point(index), again.point(index)) << index;
    if (first.point(index) != other.point(index)) ++differing;
  }
  EXPECT_EQ(differing, 64U);
  // A dimension's points do not depend on how many dimensions follow it.
  const ScrambledHalton wider(5, 7);
  for (std::uint64_t index = 0; index < 64; ++index) EXPECT_EQ(first.coordinate(index, 2), wider.coordinate(index, 2));
}

TEST(QuasiRandom, ScramblingMovesThePlainSequence) {
  // Index 0 is the origin of the plain sequence; scrambled, its digits are permuted too.
  std::set<double> starts;
  for (std::uint64_t seed = 0; seed < 8; ++seed) starts.insert(ScrambledHalton(1, seed).coordinate(0, 0));
  EXPECT_EQ(starts.size(), 8U);
  EXPECT_EQ(starts.count(0.0), 0U);
}

TEST(QuasiRandom, EachBinOfAOneDimensionalProjectionHoldsOnePoint) {
  // For n = base^k, the first n points' leading k digits run through every combination: one point per bin.
  for (const std::uint64_t seed : {0ULL, 1ULL, 12345ULL}) {
    const ScrambledHalton sequence(4, seed);
    const std::uint64_t n[] = {1024, 729, 625, 343};  // 2^10, 3^6, 5^4, 7^3
    for (std::size_t dimension = 0; dimension < 4; ++dimension) {
      const std::vector<int> counts = bin_counts(sequence, dimension, n[dimension], n[dimension]);
      EXPECT_EQ(std::set<int>(counts.begin(), counts.end()), std::set<int>{1})
          << "seed " << seed << " dimension " << dimension;
    }
  }
}

TEST(QuasiRandom, EachBoxOfATwoDimensionalProjectionHoldsOnePoint) {
  // n = 2^3 3^2 points: each box [i/8, (i+1)/8) x [j/9, (j+1)/9) holds exactly one (Halton's joint stratification).
  const ScrambledHalton sequence(2, 42);
  std::vector<int> counts(8 * 9, 0);
  for (std::uint64_t index = 0; index < 72; ++index) {
    const std::vector<double> point = sequence.point(index);
    ++counts[static_cast<std::size_t>(point[0] * 8) * 9 + static_cast<std::size_t>(point[1] * 9)];
  }
  EXPECT_EQ(std::set<int>(counts.begin(), counts.end()), std::set<int>{1});
}

TEST(QuasiRandom, StarDiscrepancyOfAPrefixIsFarBelowRandom) {
  // 1-D star discrepancy of the first 1000 points of dimension 1 (base 3, 1000 not a power of it), from the
  // sorted values. A low-discrepancy prefix stays within a few times 1/n; 1000 uniform random points have a
  // median of about 0.83 / sqrt(1000) = 0.026 (Kolmogorov's distribution) and fall below 0.01 with
  // probability about 3e-5.
  const ScrambledHalton sequence(2, 5);
  std::vector<double> values;
  for (std::uint64_t index = 0; index < 1000; ++index) values.push_back(sequence.coordinate(index, 1));
  std::sort(values.begin(), values.end());
  double discrepancy = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double n = static_cast<double>(values.size());
    discrepancy = std::max({discrepancy, (static_cast<double>(i) + 1.0) / n - values[i],
                            values[i] - static_cast<double>(i) / n});
  }
  EXPECT_LT(discrepancy, 0.01);  // 0.0022 here
}

TEST(QuasiRandom, MapsOntoLinearAndLogRanges) {
  EXPECT_DOUBLE_EQ(map_to_range(0.0, 2.0, 6.0, RangeScale::kLinear), 2.0);
  EXPECT_DOUBLE_EQ(map_to_range(0.25, 2.0, 6.0, RangeScale::kLinear), 3.0);
  EXPECT_EQ(map_to_range(0.0, 1e-4, 1.0, RangeScale::kLog), 1e-4);  // exactly low
  EXPECT_NEAR(map_to_range(0.5, 1e-4, 1.0, RangeScale::kLog), 1e-2, 1e-16);  // the geometric mean
  EXPECT_NEAR(map_to_range(0.75, 1e-4, 1.0, RangeScale::kLog), 1e-1, 1e-15);
  // Ranges whose width or ratio overflow a double (every point was high).
  EXPECT_NEAR(map_to_range(0.5, 1e-200, 1e200, RangeScale::kLog), 1.0, 1e-12);
  EXPECT_NEAR(map_to_range(0.75, 1e-200, 1e200, RangeScale::kLog), 1e100, 1e88);
  EXPECT_NEAR(map_to_range(0.99, 1e-300, 1e300, RangeScale::kLog), 1e294, 1e282);
  EXPECT_EQ(map_to_range(0.0, 1e-200, 1e200, RangeScale::kLog), 1e-200);
  EXPECT_EQ(map_to_range(0.5, -1e308, 1e308, RangeScale::kLinear), 0.0);
  EXPECT_EQ(map_to_range(0.0, -1e308, 1e308, RangeScale::kLinear), -1e308);
  EXPECT_DOUBLE_EQ(map_to_range(0.75, -1e308, 1e308, RangeScale::kLinear), 5e307);
  EXPECT_THROW(map_to_range(0.5, 0.0, 1.0, RangeScale::kLog), Error);
  EXPECT_THROW(map_to_range(0.5, 1.0, 1.0, RangeScale::kLinear), Error);
}

TEST(QuasiRandom, LogRangeGivesEachDecadeAnEqualShare) {
  // 64 points of dimension 0 (base 2) over 4 decades: each quarter of [0, 1) holds 16, so each decade does,
  // and exactly half lie below the geometric mean 1e-2.
  const ScrambledHalton sequence(1, 11);
  std::vector<int> per_decade(4, 0);
  for (std::uint64_t index = 0; index < 64; ++index) {
    const double value = map_to_range(sequence.coordinate(index, 0), 1e-4, 1.0, RangeScale::kLog);
    ASSERT_GE(value, 1e-4);
    ASSERT_LT(value, 1.0);
    ++per_decade[static_cast<std::size_t>(static_cast<int>(std::floor(std::log10(value))) + 4)];
  }
  EXPECT_EQ(per_decade, (std::vector<int>{16, 16, 16, 16}));
}

TEST(QuasiRandom, RoundsToSignificantDigits) {
  EXPECT_EQ(round_to_significant(0.000123456, 4), 0.0001235);
  EXPECT_EQ(round_to_significant(123456.0, 4), 123500.0);
  EXPECT_EQ(round_to_significant(-2.71828, 3), -2.72);
  EXPECT_EQ(round_to_significant(0.1, 4), 0.1);
  EXPECT_EQ(round_to_significant(0.0, 4), 0.0);
  EXPECT_EQ(round_to_significant(M_PI, 17), M_PI);
  EXPECT_THROW(round_to_significant(1.0, 0), Error);
  EXPECT_THROW(round_to_significant(1.0, 18), Error);
}

}  // namespace
}  // namespace normscale
