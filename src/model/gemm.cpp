// Matrix products of the dense layers, straight to the GEMM library the back end names
// (model/gemm_backend.hpp): no Eigen temporaries and no zeroing pass before a beta = 0 product. (A
// hand-written AVX2 6x16 packed GEMM was tried for issue #6: it ran at the same rate as OpenBLAS on
// these shapes, about 70-80% of the FMA peak, so the libraries stay.)
#include "normscale/model/gemm.hpp"

#include "gemm_onednn.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/model/team_parallel.hpp"

#include <cblas.h>

#include <algorithm>

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

// Below this many multiply-adds a product runs on one thread: waking a second costs more than it saves.
constexpr Index kThreadedMacs = Index{1} << 22;
constexpr Index kSliceAlign = 16;  // slices of C in multiples of a vector kernel's width

// An OpenBLAS product C = op(A) op(B) on as many threads as OpenBLAS is set to: where the passes' thread team
// (for_each_range) has 2+ threads, C's columns or rows (whichever it has more of) split over the team, each slice on
// OpenBLAS's calling thread alone; OpenBLAS's own threads only where there is no team. With both pools on the same
// cores they spun against each other (OpenBLAS's idle threads yield the core for up to its thread timeout): a
// 2-thread MLP step on OpenBLAS took 1.6-5.6x as long with the passes on the team, a ConvNet step 1.3-1.5x with only
// its classifier on OpenBLAS (perf/README.md). As with OpenBLAS's own split, the last bits depend on the thread count
// (its kernels sum an element's products in an order that depends on the elements around it); on one count they
// are the same every run.
template <class T, class Blas>
void openblas_product(bool trans_a, bool trans_b, Index m, Index n, Index k, const T* a, Index lda, const T* b,
                      Index ldb, T* c, Index ldc, Blas&& blas) {
  const int threads = openblas_get_num_threads();
  if (threads == 1) return blas(m, n, a, b, c);
  const bool by_columns = n >= m;
  const Index slices = ((by_columns ? n : m) + kSliceAlign - 1) / kSliceAlign;
  const bool small = m * n * k < kThreadedMacs;
  if (!small && team_threads(slices, 1) < 2) return blas(m, n, a, b, c);
  openblas_set_num_threads(1);
  if (small) {
    blas(m, n, a, b, c);
  } else {
    for_each_range(slices, 1, [&](Index begin, Index end) {
      const Index first = begin * kSliceAlign;
      if (by_columns) {
        blas(m, std::min(n, end * kSliceAlign) - first, a, trans_b ? b + first * ldb : b + first, c + first);
      } else {
        blas(std::min(m, end * kSliceAlign) - first, n, trans_a ? a + first : a + first * lda, b, c + first * ldc);
      }
    });
  }
  openblas_set_num_threads(threads);
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
  openblas_product(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc,
                   [&](Index rows, Index cols, const float* a_part, const float* b_part, float* c_part) {
                     cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), static_cast<int>(rows),
                                 static_cast<int>(cols), static_cast<int>(k), alpha, a_part, static_cast<int>(lda),
                                 b_part, static_cast<int>(ldb), beta, c_part, static_cast<int>(ldc));
                   });
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
  openblas_product(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc,
                   [&](Index rows, Index cols, const double* a_part, const double* b_part, double* c_part) {
                     cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), static_cast<int>(rows),
                                 static_cast<int>(cols), static_cast<int>(k), alpha, a_part, static_cast<int>(lda),
                                 b_part, static_cast<int>(ldb), beta, c_part, static_cast<int>(ldc));
                   });
}

template <>
void gemm_keeping<double>(KeptCopy, KeptCopy, bool trans_a, bool trans_b, Index m, Index n, Index k,
                          double alpha, const double* a, Index lda, const double* b, Index ldb, double beta,
                          double* c, Index ldc) {
  gemm<double>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace normscale
