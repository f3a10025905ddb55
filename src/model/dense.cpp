// Dense and ReLU layers: the products go straight to gemm() (beta = 0, no zeroing pass, no
// temporaries); bias and ReLU are one pass each.
#include "normscale/model/dense.hpp"

#include "normscale/model/gemm.hpp"
#include "normscale/model/initializers.hpp"

#include <cmath>

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
  if (bias_) out.rowwise() = VectorMap<T>(b_, outputs_).transpose();
  gemm<T>(false, true, in.rows(), outputs_, inputs_, T(1), in.data(), inputs_, w_, inputs_, T(bias_ ? 1 : 0),
          out.data(), outputs_);
}

template <class T>
void Dense<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  const Index rows = dout.rows();
  // dW = dout^T in (sum over the rows), written in place into the flat gradient.
  gemm<T>(true, false, outputs_, inputs_, rows, T(1), dout.data(), outputs_, in.data(), inputs_, T(0), dw_,
          inputs_);
  if (bias_) {
    // db = sum of the rows, accumulated row by row (contiguous, vectorised).
    VectorMap<T> db(db_, outputs_);
    db.setZero();
    for (Index r = 0; r < rows; ++r) db += Eigen::Map<const Vector<T>>(dout.data() + r * outputs_, outputs_);
  }
  if (din != nullptr) {
    din->resize(rows, inputs_);
    gemm<T>(false, false, rows, inputs_, outputs_, T(1), dout.data(), outputs_, w_, inputs_, T(0), din->data(),
            inputs_);
  }
}

template <class T>
void Relu<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  out = in.cwiseMax(T(0));
}

template <class T>
void Relu<T>::backward(const Matrix<T>&, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) {
  if (din == nullptr) return;
  din->resize(dout.rows(), dout.cols());
  din->array() = (out.array() > T(0)).select(dout.array(), T(0));
}

template class Dense<float>;
template class Dense<double>;
template class Relu<float>;
template class Relu<double>;

}  // namespace normscale
