// Weight normalisation: the effective W is formed once per forward and the chain rule through
// W = diag(g / ||v||) v is applied row by row in backward. The products and bias passes are the dense
// layer's (gemm(), bias_passes.hpp): the GEMM back end and precision the run chose, and bits that do not
// depend on where the buffers lie.
#include "normscale/model/weight_norm.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/bias_passes.hpp"
#include "normscale/model/gemm.hpp"

#include <cmath>

namespace normscale {

template <class T>
WeightNormDense<T>::WeightNormDense(Index inputs, Index outputs, bool bias)
    : inputs_(inputs), outputs_(outputs), bias_(bias), effective_(outputs, inputs), row_norms_(outputs) {
  NS_CHECK(inputs_ > 0 && outputs_ > 0, "weight-norm dense layer needs positive sizes, got {} x {}", outputs_,
           inputs_);
  effective_.setZero();
  row_norms_.setZero();
}

template <class T>
void WeightNormDense<T>::bind(T* params, T* grads) {
  const Index vn = inputs_ * outputs_;
  v_ = params;
  g_ = params + vn;
  b_ = bias_ ? params + vn + outputs_ : nullptr;
  dv_ = grads;
  dg_ = grads + vn;
  db_ = bias_ ? grads + vn + outputs_ : nullptr;
}

template <class T>
void WeightNormDense<T>::initialize(const InitSpec& spec, RandomStream& rng) {
  MatrixMap<T> v(v_, outputs_, inputs_);
  draw_initial_weights<T>(v, inputs_, outputs_, spec, rng);
  VectorMap<T>(g_, outputs_) = v.rowwise().norm();
  if (bias_) VectorMap<T>(b_, outputs_).setZero();
  update_effective_weight();
}

template <class T>
void WeightNormDense<T>::update_effective_weight() const {
  ConstMatrixMap<T> v(v_, outputs_, inputs_);
  row_norms_ = v.rowwise().norm();
  for (Index i = 0; i < outputs_; ++i) {
    const T norm = row_norms_(i);
    // A zero direction has no defined unit vector; its unit then contributes nothing.
    const T factor = norm > T(0) ? g_[i] / norm : T(0);
    effective_.row(i) = factor * v.row(i);
  }
}

template <class T>
std::optional<ConstMatrixMap<T>> WeightNormDense<T>::weight() const {
  update_effective_weight();
  return ConstMatrixMap<T>(effective_.data(), outputs_, inputs_);
}

template <class T>
void WeightNormDense<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  NS_CHECK(in.cols() == inputs_, "weight-norm dense layer input has {} features, expected {}", in.cols(), inputs_);
  update_effective_weight();
  const Index rows = in.rows();
  out.resize(rows, outputs_);
  if (bias_) write_bias_rows(b_, rows, outputs_, out.data());
  gemm<T>(false, true, rows, outputs_, inputs_, T(1), in.data(), inputs_, effective_.data(), inputs_, T(bias_ ? 1 : 0),
          out.data(), outputs_);
}

template <class T>
void WeightNormDense<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  update_effective_weight();  // cheap next to the GEMMs, and robust to a weight() call in between
  const Index rows = dout.rows();
  grad_w_.resize(outputs_, inputs_);
  gemm<T>(true, false, outputs_, inputs_, rows, T(1), dout.data(), outputs_, in.data(), inputs_, T(0), grad_w_.data(),
          inputs_);
  ConstMatrixMap<T> v(v_, outputs_, inputs_);
  MatrixMap<T> dv(dv_, outputs_, inputs_);
  for (Index i = 0; i < outputs_; ++i) {
    const T norm = row_norms_(i);
    if (!(norm > T(0))) {
      dv.row(i).setZero();
      dg_[i] = T(0);
      continue;
    }
    // With u = v / ||v||: dL/dg = u . dW, dL/dv = (g / ||v||) (dW - u (u . dW)).
    const T proj = grad_w_.row(i).dot(v.row(i)) / norm;
    dg_[i] = proj;
    dv.row(i) = (g_[i] / norm) * (grad_w_.row(i) - (proj / norm) * v.row(i));
  }
  if (bias_) sum_rows(dout.data(), rows, outputs_, db_);
  if (din != nullptr) {
    din->resize(rows, inputs_);
    gemm<T>(false, false, rows, inputs_, outputs_, T(1), dout.data(), outputs_, effective_.data(), inputs_, T(0),
            din->data(), inputs_);
  }
}

template class WeightNormDense<float>;
template class WeightNormDense<double>;

}  // namespace normscale
