// What the files that call oneDNN share: its CPU engine and stream, and how a kernel family is described. Included
// only where NORMSCALE_HAVE_ONEDNN is defined (gemm_onednn.cpp, convolution_onednn.cpp).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <string_view>

namespace normscale::onednn {

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();  // in-order; every call waits for its primitives before it returns
// "onednn 2.6.3 (<what>, avx512_core_amx JIT)".
std::string described(std::string_view what);

}  // namespace normscale::onednn
