// Dense and ReLU layers: the products go straight to gemm() (beta = 0, no zeroing pass, no
// temporaries); bias and ReLU are one pass each, split over the GEMMs' threads.
#include "normscale/model/dense.hpp"

#include "normscale/model/bias_passes.hpp"
#include "normscale/model/gemm.hpp"
#include "normscale/model/initializers.hpp"
#include "normscale/model/relu_rule.hpp"
#include "normscale/model/team_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace normscale {

template <class T>
void Dense<T>::bind(T* params, T* grads) {
  w_ = params;
  dw_ = grads;
  b_ = bias_ ? params + inputs_ * outputs_ : nullptr;
  db_ = bias_ ? grads + inputs_ * outputs_ : nullptr;
}

template <class T>
void Dense<T>::initialize(const InitSpec& spec, RandomStream& rng) {
  draw_initial_weights<T>(MatrixMap<T>(w_, outputs_, inputs_), inputs_, outputs_, spec, rng);
  if (bias_) VectorMap<T>(b_, outputs_).setZero();
}

template <class T>
void Dense<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  out.resize(in.rows(), outputs_);
  // out = in W^T (+ b) with W stored outputs x inputs. The bias rows are written first and the product
  // added to them (beta = 1): one pass over out instead of a zeroing pass and a bias pass.
  if (bias_) write_bias_rows(b_, in.rows(), outputs_, out.data());
  // With bf16 operands the weights' rounding comes from the update that wrote them where it kept one.
  CopyUse weights = CopyUse::kRefresh;
  if constexpr (std::is_same_v<T, float>) {
    if (rounded_ != nullptr && rounded_->current) {
      w16_.hold(rounded_->values.data() + rounded_offset_, w_, outputs_, inputs_, inputs_);
      weights = CopyUse::kReuse;
    }
  }
  gemm_keeping<T>({&in16_, CopyUse::kRefresh}, {&w16_, weights}, false, true, in.rows(), outputs_, inputs_, T(1),
                  in.data(), inputs_, w_, inputs_, T(bias_ ? 1 : 0), out.data(), outputs_);
}

template <class T>
void Dense<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  const Index rows = dout.rows();
  // dW = dout^T in (sum over the rows), written in place into the flat gradient. With bf16 operands the input
  // and the weights are forward's copies (where `in` is forward's input), dout's copy is made here for both.
  gemm_keeping<T>({&dout16_, CopyUse::kRefresh}, {&in16_, CopyUse::kReuse}, true, false, outputs_, inputs_, rows,
                  T(1), dout.data(), outputs_, in.data(), inputs_, T(0), dw_, inputs_);
  if (bias_) sum_rows(dout.data(), rows, outputs_, db_);
  if (din != nullptr) {
    din->resize(rows, inputs_);
    gemm_keeping<T>({&dout16_, CopyUse::kReuse}, {&w16_, CopyUse::kReuse}, false, false, rows, inputs_, outputs_,
                    T(1), dout.data(), outputs_, w_, inputs_, T(0), din->data(), inputs_);
  }
}

template <class T>
void Relu<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  out.resize(in.rows(), in.cols());
  const T* x = in.data();
  T* y = out.data();
  for_each_range(in.size(), kElementsPerThread, [x, y](Index begin, Index end) {
    const T* __restrict from = x;
    T* __restrict to = y;
    for (Index i = begin; i < end; ++i) to[i] = relu_value(from[i]);
  });
}

template <class T>
void Relu<T>::backward(const Matrix<T>&, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) {
  if (din == nullptr) return;
  din->resize(dout.rows(), dout.cols());
  const T* y = out.data();
  const T* dy = dout.data();
  T* dx = din->data();
  for_each_range(dout.size(), kElementsPerThread, [y, dy, dx](Index begin, Index end) {
    const T* __restrict active = y;
    const T* __restrict grad = dy;
    T* __restrict to = dx;
    for (Index i = begin; i < end; ++i) {
      const T g = grad[i];  // read unconditionally: the loop then vectorises to a select
      to[i] = active[i] > T(0) ? g : T(0);
    }
  });
}

template class Dense<float>;
template class Dense<double>;
template class Relu<float>;
template class Relu<double>;

}  // namespace normscale
