// The agreement primitives: equality of a 64-bit value in one allreduce_max, exactly; a failure on any
// rank reported on every rank with the lowest failing rank's message.
#include "normscale/comm/agreement.hpp"

#include "normscale/core/error.hpp"

#include <array>
#include <cstddef>
#include <cstring>
#include <vector>

namespace normscale {

namespace {

// Longest error message one rank sends to the others.
constexpr std::size_t kMessageBytes = 4096;

// Over all ranks: max and -min of the two 32-bit halves of `value`, each exact as a double (a double
// holds 53 bits exactly, a 64-bit value does not). max(-x) = -min(x), so one maximum gives both.
std::array<double, 4> extremes_of(Communicator& comm, std::uint64_t value) {
  const auto high = static_cast<double>(value >> 32);
  const auto low = static_cast<double>(value & 0xffffffffULL);
  std::array<double, 4> extremes{high, low, -high, -low};
  comm.allreduce_max(std::span<double>(extremes));
  return extremes;
}

bool all_equal(const std::array<double, 4>& extremes) {
  return extremes[0] == -extremes[2] && extremes[1] == -extremes[3];
}

}  // namespace

bool same_on_all_ranks(Communicator& comm, std::uint64_t value) { return all_equal(extremes_of(comm, value)); }

void check_same_on_all_ranks(Communicator& comm, std::uint64_t value, const std::string& what) {
  const std::array<double, 4> extremes = extremes_of(comm, value);
  if (all_equal(extremes)) return;

  const auto max_high = static_cast<std::uint64_t>(extremes[0]);
  const auto max_low = static_cast<std::uint64_t>(extremes[1]);
  const auto min_high = static_cast<std::uint64_t>(-extremes[2]);
  const auto min_low = static_cast<std::uint64_t>(-extremes[3]);
  throw AgreedError(fmt::format(
      "ranks disagree on {}: rank {} of {} has {:#018x}, but across ranks the high 32 bits range over "
      "[{:#010x}, {:#010x}] and the low 32 bits over [{:#010x}, {:#010x}]; hint: every rank must be "
      "started with the same configuration, command line and input files",
      what, comm.rank(), comm.size(), value, min_high, max_high, min_low, max_low));
}

std::optional<RankFailure> first_failure(Communicator& comm, std::span<const double> failed,
                                         const std::string& local_error) {
  RankFailure failure;
  for (int r = 0; r < static_cast<int>(failed.size()); ++r) {
    if (failed[static_cast<std::size_t>(r)] == 0.0) continue;
    if (failure.rank < 0) failure.rank = r;
    ++failure.failed_ranks;
  }
  if (failure.rank < 0) return std::nullopt;
  std::string message(kMessageBytes, '\0');
  if (comm.rank() == failure.rank) local_error.copy(message.data(), kMessageBytes - 1);
  comm.broadcast(std::as_writable_bytes(std::span<char>(message.data(), message.size())), failure.rank);
  message.resize(std::strlen(message.c_str()));
  if (comm.size() > 1) {
    message += fmt::format(" (reported by rank {}; {} of {} ranks failed)", failure.rank, failure.failed_ranks,
                           comm.size());
    if (comm.rank() != failure.rank && !local_error.empty()) message += fmt::format("; on this rank: {}", local_error);
  }
  failure.message = std::move(message);
  return failure;
}

std::optional<RankFailure> agree_on_failure(Communicator& comm, const std::string& local_error) {
  std::vector<double> failed(static_cast<std::size_t>(comm.size()), 0.0);
  failed[static_cast<std::size_t>(comm.rank())] = local_error.empty() ? 0.0 : 1.0;
  comm.allreduce_max(failed);
  return first_failure(comm, failed, local_error);
}

void throw_if_any_rank_failed(Communicator& comm, const std::string& local_error) {
  if (const std::optional<RankFailure> failure = agree_on_failure(comm, local_error)) {
    throw AgreedError(failure->message);
  }
}

}  // namespace normscale
