// cuBLAS and NCCL opened on first use (cuda_libraries.hpp says why).
#include "cuda/cuda_libraries.hpp"

#include "normscale/core/error.hpp"

#include <fmt/format.h>

#include <dlfcn.h>

namespace normscale::cuda_detail {
namespace {

// The library's soname first (LD_LIBRARY_PATH, the loader's cache), then the folder it was found in at build time,
// as the linked library's run path did.
std::vector<std::string> candidates(const std::string& soname, const std::string& build_folder) {
  std::vector<std::string> names{soname};
  if (!build_folder.empty()) names.push_back(build_folder + "/" + soname);
  return names;
}

template <class Function>
void resolve(void* handle, const std::string& library, const char* symbol, Function& function) {
  dlerror();  // clear
  function = reinterpret_cast<Function>(dlsym(handle, symbol));
  const char* why = dlerror();
  NS_CHECK(function != nullptr, "the {} found lacks {} ({}): it is not the version the GPU backend was built with",
           library, symbol, why != nullptr ? why : "null");
}

CublasLibrary load_cublas() {
  const std::string library = "cuBLAS";
  void* handle = open_library(library, candidates(fmt::format("libcublas.so.{}", CUBLAS_VER_MAJOR),
                                                  NORMSCALE_CUBLAS_FOLDER));
  CublasLibrary f;
  resolve(handle, library, "cublasCreate_v2", f.create);
  resolve(handle, library, "cublasDestroy_v2", f.destroy);
  resolve(handle, library, "cublasSetStream_v2", f.set_stream);
  resolve(handle, library, "cublasSetMathMode", f.set_math_mode);
  resolve(handle, library, "cublasSetWorkspace_v2", f.set_workspace);
  resolve(handle, library, "cublasSgemm_v2", f.sgemm);
  resolve(handle, library, "cublasSgemv_v2", f.sgemv);
  resolve(handle, library, "cublasGemmEx", f.gemm_ex);
  resolve(handle, library, "cublasGetStatusName", f.status_name);
  return f;
}

NcclLibrary load_nccl() {
  const std::string library = "NCCL";
  void* handle = open_library(library, candidates(fmt::format("libnccl.so.{}", NCCL_MAJOR), NORMSCALE_NCCL_FOLDER));
  NcclLibrary f;
  resolve(handle, library, "ncclGetUniqueId", f.get_unique_id);
  resolve(handle, library, "ncclCommInitRank", f.comm_init_rank);
  resolve(handle, library, "ncclCommFinalize", f.comm_finalize);
  resolve(handle, library, "ncclCommDestroy", f.comm_destroy);
  resolve(handle, library, "ncclCommAbort", f.comm_abort);
  resolve(handle, library, "ncclAllReduce", f.all_reduce);
  resolve(handle, library, "ncclGroupStart", f.group_start);
  resolve(handle, library, "ncclGroupEnd", f.group_end);
  resolve(handle, library, "ncclGetErrorString", f.error_string);
  resolve(handle, library, "ncclGetLastError", f.last_error);
  return f;
}

}  // namespace

void* open_library(const std::string& library, const std::vector<std::string>& candidates) {
  std::string tried;
  for (const std::string& name : candidates) {
    // Never closed: the functions are used until the process ends.
    if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
    const char* why = dlerror();
    tried += fmt::format("\n  {}: {}", name, why != nullptr ? why : "not opened");
  }
  NS_FAIL("GPU ranks need {}, which could not be opened; tried:{}\n(install it, or put the folder that holds it on "
          "LD_LIBRARY_PATH; CPU ranks do not need it)",
          library, tried);
}

const CublasLibrary& cublas() {
  static const CublasLibrary library = load_cublas();
  return library;
}

const NcclLibrary& nccl() {
  static const NcclLibrary library = load_nccl();
  return library;
}

}  // namespace normscale::cuda_detail
