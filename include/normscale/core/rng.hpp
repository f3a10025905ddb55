// Counter-based random streams: a stream is a pure function of (seed, purpose, a, b), so any rank can
// recreate the stream of any virtual shard and epoch without communication.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace normscale {

// SplitMix64 finaliser: a bijective 64-bit mix, good enough to decorrelate stream keys.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Purposes keep streams of different uses apart even with equal (a, b).
enum class StreamPurpose : std::uint64_t { kSampler = 1, kInit = 2, kSplit = 3, kSynthetic = 4, kMetrics = 5,
                                        kPerturb = 6 };

// xoshiro256** seeded from a key; satisfies UniformRandomBitGenerator.
class RandomStream {
 public:
  using result_type = std::uint64_t;

  RandomStream(std::uint64_t seed, StreamPurpose purpose, std::uint64_t a = 0, std::uint64_t b = 0) {
    std::uint64_t key = mix64(seed ^ mix64(static_cast<std::uint64_t>(purpose) ^ mix64(a ^ mix64(b))));
    for (auto& word : state_) word = key = mix64(key);
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  result_type operator()() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n) without modulo bias worth worrying about (n << 2^64).
  std::uint64_t below(std::uint64_t n) { return static_cast<std::uint64_t>(uniform() * static_cast<double>(n)); }

  // Standard normal by Box-Muller (one value per call; simplicity over speed).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
};

}  // namespace normscale
