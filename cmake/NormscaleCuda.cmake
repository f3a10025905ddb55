# The GPU backend (CUDA + cuBLAS + NCCL): detection, the NORMSCALE_ENABLE_CUDA option and the
# normscale_cuda object library that is folded into normscale_lib when enabled.
#   NORMSCALE_ENABLE_CUDA defaults to ON when a CUDA compiler, the CUDA toolkit and NCCL are found.
#   CMAKE_CUDA_ARCHITECTURES defaults to 90 (H100: sm_90 code plus compute_90 PTX, which newer GPUs
#   JIT-compile), so one binary runs on Hopper and later.
include(CheckLanguage)

set(_normscale_cuda_default OFF)
set(_normscale_cuda_missing "")
if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc CACHE FILEPATH "CUDA compiler")
endif()
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include
              PATH_SUFFIXES include)
    find_library(NCCL_LIBRARY NAMES nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
    if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
      set(_normscale_cuda_default ON)
    else()
      set(_normscale_cuda_missing "NCCL (nccl.h / libnccl.so)")
    endif()
  else()
    set(_normscale_cuda_missing "the CUDA toolkit (find_package(CUDAToolkit))")
  endif()
else()
  set(_normscale_cuda_missing "a CUDA compiler (nvcc)")
endif()

option(NORMSCALE_ENABLE_CUDA "GPU ranks: CUDA + cuBLAS + NCCL backend (device = \"cuda\")"
       ${_normscale_cuda_default})

if(NOT NORMSCALE_ENABLE_CUDA)
  if(_normscale_cuda_missing)
    message(STATUS "normscale: CUDA backend off (not found: ${_normscale_cuda_missing})")
  else()
    message(STATUS "normscale: CUDA backend off (NORMSCALE_ENABLE_CUDA=OFF)")
  endif()
  return()
endif()
if(_normscale_cuda_missing)
  message(FATAL_ERROR "normscale: NORMSCALE_ENABLE_CUDA=ON but ${_normscale_cuda_missing} was not found; "
                      "install it or configure with -DNORMSCALE_ENABLE_CUDA=OFF")
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures (90 = sm_90 SASS + compute_90 PTX)")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)  # the kernels need no more; CMake 3.25 knows no CUDA20 for nvcc 13
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

if(NOT TARGET NCCL::NCCL)
  add_library(NCCL::NCCL UNKNOWN IMPORTED)
  set_target_properties(NCCL::NCCL PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
message(STATUS "normscale: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures "
               "${CMAKE_CUDA_ARCHITECTURES}, NCCL ${NCCL_LIBRARY})")
