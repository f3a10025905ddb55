// Builds the message of a failed MPI call: what was called, where, on which host and rank, and why.
#include "normscale/comm/mpi_check.hpp"

#include "normscale/core/error.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <string>

namespace normscale::detail {

namespace {

std::string host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "unknown-host";
  return std::string(name.data());
}

std::string mpi_error_string(int status) {
  std::array<char, MPI_MAX_ERROR_STRING> text{};
  int length = 0;
  // Asking MPI to describe its error can itself fail when MPI is broken; the code is still useful.
  if (MPI_Error_string(status, text.data(), &length) != MPI_SUCCESS || length <= 0) {
    return fmt::format("MPI error code {}", status);
  }
  return std::string(text.data(), static_cast<std::size_t>(length));
}

// The world rank helps read interleaved output of many ranks; -1 when MPI is not (or no longer) up.
int world_rank_or_minus_one() {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  int rank = -1;
  if (initialized != 0 && finalized == 0 && MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS) rank = -1;
  return rank;
}

}  // namespace

void throw_mpi_error(const char* expression, const char* file, int line, int status) {
  throw Error(fmt::format(
      "MPI call failed: {} at {}:{} on host {} (world rank {}): {}; hint: check that every rank "
      "makes the same collective calls with the same sizes and roots, and that the MPI launcher "
      "and library match",
      expression, file, line, host_name(), world_rank_or_minus_one(), mpi_error_string(status)));
}

}  // namespace normscale::detail
