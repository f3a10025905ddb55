# The oneDNN GEMM back end (Debian's libdnnl-dev; model/gemm_backend.hpp): detection, the
# NORMSCALE_ENABLE_ONEDNN option and the OneDNN::dnnl target.
#   NORMSCALE_ENABLE_ONEDNN defaults to ON when oneapi/dnnl/dnnl.h and libdnnl are found. Without it every
#   product runs on OpenBLAS. The library's own CMake package is not used: it requires the OpenCL
#   headers (only recommended by libdnnl-dev) although the CPU GEMM needs none of them.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
find_library(DNNL_LIBRARY NAMES dnnl)
set(_normscale_onednn_default OFF)
if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
  set(_normscale_onednn_default ON)
endif()
option(NORMSCALE_ENABLE_ONEDNN "GEMM back end oneDNN (dnnl_sgemm), chosen at run time on AVX-512 CPUs"
       ${_normscale_onednn_default})

if(NOT NORMSCALE_ENABLE_ONEDNN)
  message(STATUS "normscale: GEMM back end OpenBLAS only (oneDNN not found or NORMSCALE_ENABLE_ONEDNN=OFF)")
  return()
endif()
if(NOT _normscale_onednn_default)
  message(FATAL_ERROR "normscale: NORMSCALE_ENABLE_ONEDNN=ON but oneDNN (oneapi/dnnl/dnnl.h / libdnnl.so) was "
                      "not found; install libdnnl-dev or configure with -DNORMSCALE_ENABLE_ONEDNN=OFF")
endif()
add_library(OneDNN::dnnl UNKNOWN IMPORTED)
set_target_properties(OneDNN::dnnl PROPERTIES IMPORTED_LOCATION ${DNNL_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR})
message(STATUS "normscale: GEMM back ends OpenBLAS and oneDNN (${DNNL_LIBRARY}), chosen at run time")
