// The one rounding of f32 values to bf16 (round to nearest even; a NaN stays a NaN), for the products' bf16
// operands, and the parameters' rounding kept by the update that wrote them.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace normscale {

// x's bf16 bits. Integer arithmetic rather than VCVTNEPS2BF16, which flushes subnormal inputs to zero; the loops
// that call it vectorise it on any x86-64 ISA.
inline std::uint16_t bf16_bits(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  const std::uint32_t rounded = nan ? (bits | 0x00400000u) : bits + 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

// The network's parameters rounded to bf16 by the optimizer's update in the same pass that wrote them (precision =
// "bf16"), so the next forward multiplies its weights without streaming them again to round them (that pass took
// 12-18% of the bf16 step at batch 128 on a CPU without AMX). Current from that update until the parameters are
// next handed out for writing (Network::mutable_parameters): after any other writer (a checkpoint, a perturbation,
// Minnorm's block steps, ...) the forward rounds the weights itself.
struct RoundedParameters {
  std::vector<std::uint16_t> values;  // bf16_bits of each parameter, in the flat buffer's order
  bool current = false;
};

}  // namespace normscale
