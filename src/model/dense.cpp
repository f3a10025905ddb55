// Dense and ReLU layers on Eigen (GEMMs go to OpenBLAS through EIGEN_USE_BLAS).
#include "normscale/model/dense.hpp"

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
  ConstMatrixMap<T> w(w_, outputs_, inputs_);
  out.resize(in.rows(), outputs_);
  out.noalias() = in * w.transpose();
  if (bias_) out.rowwise() += VectorMap<T>(b_, outputs_).transpose();
}

template <class T>
void Dense<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  MatrixMap<T> dw(dw_, outputs_, inputs_);
  dw.noalias() = dout.transpose() * in;
  if (bias_) VectorMap<T>(db_, outputs_) = dout.colwise().sum().transpose();
  if (din != nullptr) {
    din->resize(dout.rows(), inputs_);
    din->noalias() = dout * ConstMatrixMap<T>(w_, outputs_, inputs_);
  }
}

template <class T>
void Relu<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  out = in.cwiseMax(T(0));
}

template <class T>
void Relu<T>::backward(const Matrix<T>&, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) {
  if (din != nullptr) *din = (out.array() > T(0)).select(dout, T(0));
}

template class Dense<float>;
template class Dense<double>;
template class Relu<float>;
template class Relu<double>;

}  // namespace normscale
