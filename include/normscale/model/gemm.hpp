// The one matrix product the dense layers use: row-major C = alpha op(A) op(B) + beta C.
#pragma once

#include "normscale/core/types.hpp"

#include <cstdint>
#include <vector>

namespace normscale {

// op(A) is m x k (A stored k x m when trans_a), op(B) is k x n; lda/ldb/ldc are row strides. With
// beta = 0, C is overwritten (never read), so no zeroing pass is needed.
template <class T>
void gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha, const T* a, Index lda, const T* b,
          Index ldb, T beta, T* c, Index ldc);

// A float32 operand's bf16 copy kept from one product to the next (precision = "bf16"): a dense layer rounds its
// weights and input once in forward and multiplies the same copies again in backward, where rounding them anew
// took a third of the conversions' time. Empty in float32 precision.
struct Bf16Copy {
  std::vector<std::uint16_t> values;       // the operand as stored (rows x cols, dense), rounded here (kRefresh)
  const std::uint16_t* rounded = nullptr;  // the copy in use: values' data, or one rounded elsewhere (hold())
  const float* source = nullptr;           // the operand it holds: its address, shape and row stride
  Index rows = 0, cols = 0, ld = 0;

  // Makes `copy`, the operand `of` (rows x cols at ld) rounded, the copy in use: `values` after a kRefresh, or the
  // weights' rounding kept by the update that wrote them (RoundedParameters) for a forward's products to reuse.
  void hold(const std::uint16_t* copy, const float* of, Index r, Index c, Index stride) {
    rounded = copy;
    source = of;
    rows = r;
    cols = c;
    ld = stride;
  }
};
// kRefresh: round the operand into its copy. kReuse: use the copy where it holds this very operand (same address,
// shape and stride; the caller vouches that the values did not change since), else round the operand on the side
// and leave the copy as it was.
enum class CopyUse { kRefresh, kReuse };
struct KeptCopy {
  Bf16Copy* copy = nullptr;  // nullptr: rounded for this product alone
  CopyUse use = CopyUse::kRefresh;
};

// gemm(), except that where the products take bf16 operands, op(A) and op(B) come from (or go into) the given
// copies. float64 and float32 products ignore them.
template <class T>
void gemm_keeping(KeptCopy a_copy, KeptCopy b_copy, bool trans_a, bool trans_b, Index m, Index n, Index k, T alpha,
                  const T* a, Index lda, const T* b, Index ldb, T beta, T* c, Index ldc);

}  // namespace normscale
