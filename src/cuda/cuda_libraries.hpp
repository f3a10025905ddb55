// cuBLAS and NCCL, opened with dlopen the first time a GPU rank needs them instead of linked: a CUDA build then
// starts where neither is installed (a cluster's CPU-only nodes) and a CPU run does not pay for loading them
// (cuBLAS's start-up took ~0.4 s of every process on this project's machines). The GPU backend calls them through
// cublas() and nccl() only.
#pragma once

#include <cublas_v2.h>
#include <nccl.h>

#include <string>
#include <vector>

namespace normscale::cuda_detail {

// The cuBLAS functions the backend calls (the _v2 entry points that cublas_v2.h's names stand for).
struct CublasLibrary {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSetWorkspace_v2) set_workspace = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasSgemv_v2) sgemv = nullptr;
  // cublasGemmEx has a C++ overload (the old cudaDataType compute type): this is the exported one.
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  decltype(&cublasGetStatusName) status_name = nullptr;
};

// The NCCL functions the backend calls.
struct NcclLibrary {
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclCommFinalize) comm_finalize = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclCommAbort) comm_abort = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclGroupStart) group_start = nullptr;
  decltype(&ncclGroupEnd) group_end = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  decltype(&ncclGetLastError) last_error = nullptr;
};

// Opened and resolved on the first call (thread-safe), then the same; a library that cannot be opened, or lacks a
// function, throws normscale::Error naming it, where it was looked for and what the loader said.
const CublasLibrary& cublas();
const NcclLibrary& nccl();

// The handle of the first of `candidates` (file names or paths, tried in order) that dlopen opens; throws
// normscale::Error naming `library` (what it is for the user, e.g. "cuBLAS"), every candidate and the loader's
// messages otherwise.
void* open_library(const std::string& library, const std::vector<std::string>& candidates);

}  // namespace normscale::cuda_detail
