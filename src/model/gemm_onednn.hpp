// oneDNN's dnnl_sgemm as a GEMM back end (model/gemm_backend.hpp). gemm_onednn.cpp is the only file that
// knows whether this build has oneDNN; without it, built() is false and the rest is never called.
#pragma once

#include "normscale/core/types.hpp"

#include <string>

namespace normscale::onednn {

bool built();
// Whether oneDNN's JIT emits AVX-512 (avx512_core or better) kernels on this CPU; it honours
// ONEDNN_MAX_CPU_ISA, so an AVX2 CPU can be imitated on an AVX-512 one.
bool has_avx512_kernels();
std::string description();  // "onednn 2.6.3 (dnnl_sgemm, avx512_core_amx JIT)"
void set_threads(int threads);
// Row-major, the same contract as gemm<float>.
void sgemm(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
           const float* b, Index ldb, float beta, float* c, Index ldc);

}  // namespace normscale::onednn
