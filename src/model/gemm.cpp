// Matrix products of the dense layers, straight to the GEMM library the back end names
// (model/gemm_backend.hpp): no Eigen temporaries and no zeroing pass before a beta = 0 product. (A
// hand-written AVX2 6x16 packed GEMM was tried for issue #6: it ran at the same rate as OpenBLAS on
// these shapes, about 70-80% of the FMA peak, so the libraries stay.)
#include "normscale/model/gemm.hpp"

#include "gemm_onednn.hpp"
#include "normscale/model/gemm_backend.hpp"

#include <cblas.h>

namespace normscale {

namespace {

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

// An empty sum (k = 0, e.g. a backward pass over no rows): C = beta C, without asking the BLAS.
template <class T>
void scale_only(Index m, Index n, T beta, T* c, Index ldc) {
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
  }
}

}  // namespace

template <>
void gemm<float>(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
                 const float* b, Index ldb, float beta, float* c, Index ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  if (active_gemm_precision() == GemmPrecision::kBf16) {
    return onednn::gemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  if (active_gemm_backend() == GemmBackend::kOneDnn) {
    return onednn::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

template <>
void gemm_keeping<float>(KeptCopy a_copy, KeptCopy b_copy, bool trans_a, bool trans_b, Index m, Index n, Index k,
                         float alpha, const float* a, Index lda, const float* b, Index ldb, float beta, float* c,
                         Index ldc) {
  if (m == 0 || n == 0 || k == 0 || active_gemm_precision() != GemmPrecision::kBf16) {
    // A copy this product would have refreshed no longer holds its operand.
    for (const KeptCopy& kept : {a_copy, b_copy}) {
      if (kept.copy != nullptr && kept.use == CopyUse::kRefresh) kept.copy->source = nullptr;
    }
    return gemm<float>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  onednn::gemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, a_copy, b_copy);
}

// Always OpenBLAS: oneDNN has no double-precision GEMM.
template <>
void gemm<double>(bool trans_a, bool trans_b, Index m, Index n, Index k, double alpha, const double* a, Index lda,
                  const double* b, Index ldb, double beta, double* c, Index ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
              static_cast<int>(ldc));
}

template <>
void gemm_keeping<double>(KeptCopy, KeptCopy, bool trans_a, bool trans_b, Index m, Index n, Index k,
                          double alpha, const double* a, Index lda, const double* b, Index ldb, double beta,
                          double* c, Index ldc) {
  gemm<double>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace normscale
