// The one place that chooses a run's communicators: the host one (host buffers: "mpi", "local") and the
// device one (GPU buffers: "nccl"). Each side tries its backends in a fixed order and takes the first
// usable one; a backend that is asked for by name but not built or not usable here is an error saying
// why and what to do, never a silent fallback to another.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/comm/device_communicator.hpp"

#include <array>
#include <memory>
#include <string_view>

namespace normscale {

// The order "auto" tries. Host: MPI whenever this process runs under MPI, else the one-process one.
inline constexpr std::array<std::string_view, 2> kHostBackendOrder = {"mpi", "local"};
inline constexpr std::array<std::string_view, 1> kDeviceBackendOrder = {"nccl"};

// Everything the choice depends on. current_comm_environment() reads it from this process and build;
// tests pass their own to check the order and the errors of every build.
struct CommEnvironment {
  bool mpi_initialized = false;  // MPI_Init has been called (and MPI_Finalize not yet)
  int mpi_world_size = 1;        // MPI_COMM_WORLD's size when initialised
  bool cuda_built = false;       // this binary has the CUDA backend (-DNORMSCALE_ENABLE_CUDA=ON)
};
CommEnvironment current_comm_environment();

// The backend `requested` ("auto", or a name from the order) resolves to in `environment`. Throws
// normscale::Error for an unknown name, or a backend that cannot serve here, saying why.
std::string_view choose_host_backend(std::string_view requested, const CommEnvironment& environment);
std::string_view choose_device_backend(std::string_view requested, const CommEnvironment& environment);

// The run's host communicator over every process of MPI_COMM_WORLD (collective when it is "mpi").
std::unique_ptr<Communicator> make_host_communicator(std::string_view requested = "auto");

// A device communicator over the ranks of `host`, bootstrapped through it: collective over `host`, with
// each rank's GPU already current (select_cuda_device). Throws naming device = "cuda" and the rebuild
// flag in a build without the CUDA backend.
std::unique_ptr<DeviceCommunicator> make_device_communicator(Communicator& host, std::string_view requested = "auto");

}  // namespace normscale
