// Checking macros for CUDA runtime, cuBLAS and NCCL calls: a failure throws normscale::Error naming
// the call, file:line, the host and the library's own error string (in the manner of nccl-tests).
#pragma once

#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <string>

namespace normscale::cuda_detail {

const char* cublas_status_text(cublasStatus_t status);
// NCCL's error string and its last error message.
std::string nccl_status_text(ncclResult_t status);

}  // namespace normscale::cuda_detail

#define NS_CUDA_CHECK(call)                                                                           \
  do {                                                                                                \
    const cudaError_t ns_status_ = (call);                                                            \
    if (ns_status_ != cudaSuccess) {                                                                  \
      ::normscale::throw_error(__FILE__, __LINE__,                                                    \
                               fmt::format("CUDA call {} failed on {}: {} ({})", #call,              \
                                           ::normscale::host_name(),                               \
                                           cudaGetErrorString(ns_status_), cudaGetErrorName(ns_status_))); \
    }                                                                                                 \
  } while (0)

#define NS_CUBLAS_CHECK(call)                                                                         \
  do {                                                                                                \
    const cublasStatus_t ns_status_ = (call);                                                         \
    if (ns_status_ != CUBLAS_STATUS_SUCCESS) {                                                        \
      ::normscale::throw_error(__FILE__, __LINE__,                                                    \
                               fmt::format("cuBLAS call {} failed on {}: {}", #call,                 \
                                           ::normscale::host_name(),                               \
                                           ::normscale::cuda_detail::cublas_status_text(ns_status_))); \
    }                                                                                                 \
  } while (0)

#define NS_NCCL_CHECK(call)                                                                           \
  do {                                                                                                \
    const ncclResult_t ns_status_ = (call);                                                           \
    if (ns_status_ != ncclSuccess) {                                                                  \
      ::normscale::throw_error(__FILE__, __LINE__,                                                    \
                               fmt::format("NCCL call {} failed on {}: {}", #call, ::normscale::host_name(), \
                                           ::normscale::cuda_detail::nccl_status_text(ns_status_)));  \
    }                                                                                                 \
  } while (0)

// After a kernel launch: a bad launch configuration surfaces here, named, not at the next call.
#define NS_CUDA_CHECK_LAUNCH(kernel)                                                                  \
  do {                                                                                                \
    const cudaError_t ns_status_ = cudaGetLastError();                                                \
    if (ns_status_ != cudaSuccess) {                                                                  \
      ::normscale::throw_error(__FILE__, __LINE__,                                                    \
                               fmt::format("CUDA kernel launch {} failed on {}: {} ({})", kernel,    \
                                           ::normscale::host_name(),                               \
                                           cudaGetErrorString(ns_status_), cudaGetErrorName(ns_status_))); \
    }                                                                                                 \
  } while (0)
