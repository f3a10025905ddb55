// Scrambled Halton points and their map onto hyperparameter ranges.
#include "normscale/study/quasi_random.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

namespace normscale {
namespace {

// SplitMix64 (Steele, Lea and Flood 2014): fully specified, so a seed gives the same permutations everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t state) : state_(state) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, bound): draws below 2^64 mod bound are rejected, so no value is favoured.
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t rejected = (0 - bound) % bound;
    for (;;) {
      const std::uint64_t draw = next();
      if (draw >= rejected) return draw % bound;
    }
  }

 private:
  std::uint64_t state_;
};

bool is_prime(std::uint32_t candidate) {
  if (candidate < 2) return false;
  for (std::uint32_t divisor = 2; divisor * divisor <= candidate; ++divisor) {
    if (candidate % divisor == 0) return false;
  }
  return true;
}

}  // namespace

double radical_inverse(std::uint64_t index, std::uint32_t base) {
  NS_CHECK(base >= 2, "radical_inverse: base {} must be >= 2", base);
  const double inverse_base = 1.0 / base;
  double place = inverse_base;
  double value = 0.0;
  for (; index > 0; index /= base) {
    value += static_cast<double>(index % base) * place;
    place *= inverse_base;
  }
  return value;
}

std::uint32_t halton_base(std::size_t dimension) {
  // Trial division is plenty: a study searches a few dozen options at most.
  std::uint32_t candidate = 1;
  for (std::size_t found = 0; found <= dimension;) {
    if (is_prime(++candidate)) ++found;
  }
  return candidate;
}

ScrambledHalton::ScrambledHalton(std::size_t dimensions, std::uint64_t seed) {
  constexpr std::uint64_t kExactInDouble = std::uint64_t{1} << 53;
  index_limit_ = kExactInDouble;
  axes_.reserve(dimensions);
  for (std::size_t dimension = 0; dimension < dimensions; ++dimension) {
    Axis axis;
    axis.base = halton_base(dimension);
    std::uint64_t span = 1;
    while (span <= kExactInDouble / axis.base) {
      span *= axis.base;
      ++axis.digits;
    }
    index_limit_ = std::min(index_limit_, span);
    // Each dimension draws from its own stream, so adding a dimension leaves the others' points alone.
    SplitMix64 generator(SplitMix64(seed).next() ^ (0xd1b54a32d192ed03ULL * (dimension + 1)));
    axis.permutations.resize(static_cast<std::size_t>(axis.digits) * axis.base);
    for (std::uint32_t digit = 0; digit < axis.digits; ++digit) {
      const auto first = axis.permutations.begin() + static_cast<std::ptrdiff_t>(digit) * axis.base;
      std::iota(first, first + axis.base, 0U);
      for (std::uint32_t last = axis.base - 1; last > 0; --last) {  // Fisher-Yates
        std::swap(first[last], first[static_cast<std::ptrdiff_t>(generator.below(last + 1))]);
      }
    }
    axes_.push_back(std::move(axis));
  }
}

double ScrambledHalton::coordinate(std::uint64_t index, std::size_t dimension) const {
  NS_CHECK(dimension < axes_.size(), "ScrambledHalton: dimension {} of {}", dimension, axes_.size());
  NS_CHECK(index < index_limit_, "ScrambledHalton: index {} is past the scrambled digits (limit {})", index,
           index_limit_);
  const Axis& axis = axes_[dimension];
  // Every digit position is scrambled, the leading zeros of a small index too; the scrambled digits form
  // the integer numerator / base^digits. numerator < base^digits <= 2^53, so both are exact in a double and
  // the quotient is at most 1 - 2^-53: strictly below 1.
  std::uint64_t numerator = 0;
  std::uint64_t denominator = 1;
  for (std::uint32_t digit = 0; digit < axis.digits; ++digit) {
    numerator = numerator * axis.base +
                axis.permutations[static_cast<std::size_t>(digit) * axis.base + index % axis.base];
    denominator *= axis.base;
    index /= axis.base;
  }
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

std::vector<double> ScrambledHalton::point(std::uint64_t index) const {
  std::vector<double> values(axes_.size());
  for (std::size_t dimension = 0; dimension < axes_.size(); ++dimension) {
    values[dimension] = coordinate(index, dimension);
  }
  return values;
}

double map_to_range(double unit, double low, double high, RangeScale scale) {
  NS_CHECK(std::isfinite(low) && std::isfinite(high) && low < high,
           "map_to_range: expected finite low < high, got [{}, {}]", low, high);
  // high - low and high / low overflow on the widest ranges ([-1e308, 1e308], [1e-200, 1e200]: every point was high
  // there); elsewhere they stay, so that every point, and so every trial id, of an existing study stays as it was.
  if (scale == RangeScale::kLinear) {
    const double width = high - low;
    return std::isfinite(width) ? low + unit * width : low * (1.0 - unit) + high * unit;  // exactly low at 0
  }
  NS_CHECK(low > 0.0, "map_to_range: a log scale needs low > 0, got {}", low);
  const double ratio = high / low;
  if (std::isfinite(ratio)) return low * std::exp(unit * std::log(ratio));  // exactly low at 0
  // exp(u log(ratio)) itself would overflow: interpolate the logarithms.
  return unit == 0.0 ? low : std::exp(std::log(low) + unit * (std::log(high) - std::log(low)));
}

double round_to_significant(double value, int digits) {
  NS_CHECK(digits >= 1 && digits <= 17, "round_to_significant: {} digits; expected 1 ... 17", digits);
  if (value == 0.0 || !std::isfinite(value)) return value;
  // Through decimal text: the result is the double nearest to the rounded decimal, as a TOML reader gets it.
  const std::string text = fmt::format("{:.{}e}", value, digits - 1);
  double rounded = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), rounded);
  return rounded;
}

}  // namespace normscale
