// Quasi-random points for hyperparameter search: a scrambled Halton sequence in [0, 1)^d and its map onto ranges.
//
// Why Halton with random digit permutations: the first n points cover every 1-D projection evenly (for n a
// power of the dimension's base, each of the n equal bins holds exactly one point), where random search
// leaves gaps and clumps (Bergstra and Bengio 2012), while the permutations, drawn from a seed, break the
// plain sequence's correlations between dimensions of large bases and make the points reproducible from that
// seed alone. (Owen's nested scrambling is stronger; per-digit permutations keep the stratification above.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace normscale {

// The radical inverse of `index` in `base` (>= 2): its base-b digits mirrored about the point, e.g.
// base 2: 1 -> 1/2, 2 -> 1/4, 3 -> 3/4. The unscrambled Halton sequence is radical_inverse(i, prime_d).
double radical_inverse(std::uint64_t index, std::uint32_t base);

// The base of Halton dimension `dimension`: the (dimension + 1)-th prime (2, 3, 5, 7, 11, ...).
std::uint32_t halton_base(std::size_t dimension);

// Halton points whose base-b digits are each passed through a random permutation, one per dimension and
// digit position (random digit scrambling; every digit value, 0 included, is permuted, so index 0 is not
// the origin). Permutations come from a fixed generator (SplitMix64 + Fisher-Yates, not std::shuffle,
// whose result differs between standard libraries): the same (dimensions, seed) gives the same points on
// every platform, and dimension d's points do not depend on how many dimensions there are.
class ScrambledHalton {
 public:
  ScrambledHalton(std::size_t dimensions, std::uint64_t seed);

  std::size_t dimensions() const { return axes_.size(); }
  // Point `index` (0, 1, 2, ...; index 0 belongs to the sequence) in [0, 1)^dimensions.
  std::vector<double> point(std::uint64_t index) const;
  double coordinate(std::uint64_t index, std::size_t dimension) const;
  // Indices below this limit have every base-b digit scrambled in every dimension (far above 10^4).
  std::uint64_t index_limit() const { return index_limit_; }

 private:
  struct Axis {
    std::uint32_t base = 2;
    std::uint32_t digits = 0;                 // digit positions used: base^digits <= 2^53 (exact in a double)
    std::vector<std::uint32_t> permutations;  // digits x base: permutation of digit position j at [j * base]
  };
  std::vector<Axis> axes_;
  std::uint64_t index_limit_ = 0;
};

enum class RangeScale { kLinear, kLog };

// `unit` in [0, 1) onto [low, high): low + unit (high - low), or for kLog (0 < low) the same map of the
// logarithms, exponentiated, so that each decade gets an equal share of the points.
double map_to_range(double unit, double low, double high, RangeScale scale);

// `value` rounded to `digits` significant decimal digits (1 ... 17), as the nearest double to that decimal.
double round_to_significant(double value, int digits);

}  // namespace normscale
