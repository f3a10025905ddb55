// The communicator factory: the choice is a pure function of (request, environment), written once for
// both sides; this file is also the one place of comm/ that knows whether the CUDA backend was built.
#include "normscale/comm/communicator_factory.hpp"

#include "normscale/comm/mpi_comm.hpp"
#include "normscale/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <mpi.h>

#include <algorithm>
#include <string>
#include <vector>

#ifdef NORMSCALE_HAVE_CUDA
#include "normscale/cuda/nccl_comm.hpp"
#endif

namespace normscale {

namespace {

#ifdef NORMSCALE_HAVE_CUDA
constexpr bool kCudaBuilt = true;
std::unique_ptr<DeviceCommunicator> make_nccl_communicator(Communicator& host) {
  return std::make_unique<NcclComm>(host);
}
#else
constexpr bool kCudaBuilt = false;
std::unique_ptr<DeviceCommunicator> make_nccl_communicator(Communicator&) {
  NS_FAIL("the NCCL communicator is not built into this normscale (-DNORMSCALE_ENABLE_CUDA=OFF)");
}
#endif

// Why `backend` cannot serve this process; empty when it can.
std::string host_backend_refusal(std::string_view backend, const CommEnvironment& environment) {
  if (backend == "mpi" && !environment.mpi_initialized) {
    return "MPI is not initialised in this process (normscale train initialises it when an MPI launcher started it)";
  }
  if (backend == "local" && environment.mpi_initialized && environment.mpi_world_size > 1) {
    return fmt::format("this process is one of {} MPI ranks, and a local communicator would let each rank "
                       "train alone; use \"mpi\" (or \"auto\")",
                       environment.mpi_world_size);
  }
  return {};
}

std::string device_backend_refusal(std::string_view backend, const CommEnvironment& environment) {
  if (backend == "nccl" && !environment.cuda_built) {
    return "this normscale was built without the CUDA backend; rebuild with -DNORMSCALE_ENABLE_CUDA=ON (needs "
           "the CUDA toolkit and NCCL) or use device = \"cpu\"";
  }
  return {};
}

// `context` prefixes every error (the option that led here), `what` names the side.
template <std::size_t N, class Refusal>
std::string_view choose_backend(std::string_view context, std::string_view what,
                                const std::array<std::string_view, N>& order, std::string_view requested,
                                Refusal&& refusal) {
  if (requested == "auto") {
    std::vector<std::string> refusals;
    for (const std::string_view backend : order) {
      const std::string why = refusal(backend);
      if (why.empty()) return backend;
      refusals.push_back(fmt::format("{}: {}", backend, why));
    }
    NS_FAIL("{}no {} can be used here ({})", context, what, fmt::join(refusals, "; "));
  }
  const auto known = std::find(order.begin(), order.end(), requested);
  NS_CHECK(known != order.end(),
           "{}{} \"{}\" is unknown; expected one of auto, {} (auto: the first usable, in that order)", context,
           what, requested, fmt::join(order, ", "));
  const std::string why = refusal(*known);
  NS_CHECK(why.empty(), "{}{} \"{}\" cannot be used: {}", context, what, requested, why);
  return *known;
}

}  // namespace

CommEnvironment current_comm_environment() {
  CommEnvironment environment;
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  environment.mpi_initialized = initialized != 0 && finalized == 0;
  if (environment.mpi_initialized) MPI_Comm_size(MPI_COMM_WORLD, &environment.mpi_world_size);
  environment.cuda_built = kCudaBuilt;
  return environment;
}

std::string_view choose_host_backend(std::string_view requested, const CommEnvironment& environment) {
  return choose_backend("", "host communicator", kHostBackendOrder, requested,
                        [&](std::string_view backend) { return host_backend_refusal(backend, environment); });
}

std::string_view choose_device_backend(std::string_view requested, const CommEnvironment& environment) {
  return choose_backend("device = \"cuda\": ", "device communicator", kDeviceBackendOrder, requested,
                        [&](std::string_view backend) { return device_backend_refusal(backend, environment); });
}

std::unique_ptr<Communicator> make_host_communicator(std::string_view requested) {
  if (choose_host_backend(requested, current_comm_environment()) == "mpi") {
    return std::make_unique<MpiComm>(MPI_COMM_WORLD);
  }
  return std::make_unique<LocalComm>();
}

std::unique_ptr<DeviceCommunicator> make_device_communicator(Communicator& host, std::string_view requested) {
  choose_device_backend(requested, current_comm_environment());  // "nccl", the only device backend
  return make_nccl_communicator(host);
}

}  // namespace normscale
