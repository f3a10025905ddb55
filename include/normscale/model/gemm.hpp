// The one matrix product the dense layers use: row-major C = alpha op(A) op(B) + beta C.
#pragma once

#include "normscale/core/types.hpp"

namespace normscale {

// op(A) is m x k (A stored k x m when trans_a), op(B) is k x n; lda/ldb/ldc are row strides. With
// beta = 0, C is overwritten (never read), so no zeroing pass is needed.
template <class T>
void gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda, const T* b,
          Index ldb, T beta, T* c, Index ldc);

}  // namespace normscale
