// check_same_on_all_ranks: min and max of a 64-bit value in one allreduce_max, exactly.
#include "normscale/comm/agreement.hpp"

#include "normscale/core/error.hpp"

#include <array>
#include <span>

namespace normscale {

void check_same_on_all_ranks(Communicator& comm, std::uint64_t value, const std::string& what) {
  // A double holds 53 bits exactly, a 64-bit value does not: compare the two 32-bit halves, each
  // exact as a double. max(-x) = -min(x), so one maximum gives both the minimum and the maximum.
  const auto high = static_cast<double>(value >> 32);
  const auto low = static_cast<double>(value & 0xffffffffULL);
  std::array<double, 4> extremes{high, low, -high, -low};
  comm.allreduce_max(std::span<double>(extremes));
  const bool agree = extremes[0] == -extremes[2] && extremes[1] == -extremes[3];
  if (agree) return;

  const auto max_high = static_cast<std::uint64_t>(extremes[0]);
  const auto max_low = static_cast<std::uint64_t>(extremes[1]);
  const auto min_high = static_cast<std::uint64_t>(-extremes[2]);
  const auto min_low = static_cast<std::uint64_t>(-extremes[3]);
  NS_FAIL(
      "ranks disagree on {}: rank {} of {} has {:#018x}, but across ranks the high 32 bits range over "
      "[{:#010x}, {:#010x}] and the low 32 bits over [{:#010x}, {:#010x}]; hint: every rank must be "
      "started with the same configuration, command line and input files",
      what, comm.rank(), comm.size(), value, min_high, max_high, min_low, max_low);
}

}  // namespace normscale
