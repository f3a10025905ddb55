// oneDNN's dnnl_sgemm as a GEMM back end (model/gemm_backend.hpp). gemm_onednn.cpp is the only file that
// knows whether this build has oneDNN; without it, built() is false and the rest is never called.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/model/gemm.hpp"

#include <string>

namespace normscale::onednn {

bool built();
// Whether oneDNN's JIT emits AVX-512 (avx512_core or better) kernels on this CPU; it honours
// ONEDNN_MAX_CPU_ISA, so an AVX2 CPU can be imitated on an AVX-512 one.
bool has_avx512_kernels();
std::string description();  // "onednn 2.6.3 (dnnl_sgemm, avx512_core_amx JIT)"
void set_threads(int threads);
int threads();  // the team size last set (1 before any, and without oneDNN)
// Row-major, the same contract as gemm<float>.
void sgemm(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
           const float* b, Index ldb, float beta, float* c, Index ldc);

// Whether oneDNN runs bf16 products on this CPU's own bf16 dot products (avx512_bf16 or AMX; it honours
// ONEDNN_MAX_CPU_ISA), and what it would run them with ("avx512_core_amx").
bool has_bf16_kernels();
std::string bf16_description();  // "onednn 2.6.3 (matmul bf16 x bf16 -> f32, avx512_core_amx JIT)"
// The same contract with bf16 operands (rounded to nearest even from op(A) and op(B)) and fp32
// accumulation and output: oneDNN's matmul, one primitive per shape, with the operands' conversion, taken
// from or kept in the given copies (gemm_keeping in model/gemm.hpp).
void gemm_bf16(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
               const float* b, Index ldb, float beta, float* c, Index ldc, KeptCopy a_copy = {},
               KeptCopy b_copy = {});

}  // namespace normscale::onednn
