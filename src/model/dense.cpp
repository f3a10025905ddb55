// Dense and ReLU layers on Eigen (GEMMs go to OpenBLAS through EIGEN_USE_BLAS).
#include "normscale/model/dense.hpp"

#include "normscale/core/error.hpp"

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
  MatrixMap<T> w(w_, outputs_, inputs_);
  double sigma = 0.0;
  if (spec.method == "he" || spec.method == "frobenius") {
    sigma = std::sqrt(2.0 / static_cast<double>(inputs_));
  } else if (spec.method == "glorot") {
    sigma = std::sqrt(2.0 / static_cast<double>(inputs_ + outputs_));
  } else if (spec.method == "normal") {
    sigma = spec.scale;
  } else if (spec.method == "scaled-normal") {
    sigma = spec.scale / std::sqrt(static_cast<double>(inputs_));
  } else {
    NS_FAIL("model.init: unknown initialiser '{}'; expected he, glorot, normal, scaled-normal or frobenius",
            spec.method);
  }
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<T>(sigma * rng.normal());
  if (spec.method == "frobenius") {
    const double norm = static_cast<double>(w.norm());
    if (norm > 0) w *= static_cast<T>(spec.scale / norm);
  }
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
