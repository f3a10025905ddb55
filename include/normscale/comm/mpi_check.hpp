// NS_MPI_CHECK: the checking macro every MPI call goes through (in the manner of nccl-tests' MPICHECK).
#pragma once

#include <mpi.h>

namespace normscale::detail {

// Throws normscale::Error naming the call, file:line, host, world rank and MPI's own error string.
[[noreturn]] void throw_mpi_error(const char* expression, const char* file, int line, int status);

}  // namespace normscale::detail

// MPI reports errors through return codes only on communicators whose handler is
// MPI_ERRORS_RETURN (MpiComm sets it on its duplicate); under the default handler MPI aborts first.
#define NS_MPI_CHECK(call)                                                            \
  do {                                                                                \
    const int ns_mpi_status_ = (call);                                                \
    if (ns_mpi_status_ != MPI_SUCCESS) {                                              \
      ::normscale::detail::throw_mpi_error(#call, __FILE__, __LINE__, ns_mpi_status_); \
    }                                                                                 \
  } while (0)
