// Weight-normalised fully connected layer: w_i = g_i v_i / ||v_i|| per output unit (Salimans &
// Kingma), with an optional bias; weight() is the effective W, so norm metrics see what computes.
#pragma once

#include "normscale/model/initializers.hpp"
#include "normscale/model/layer.hpp"

namespace normscale {


template <class T>
class WeightNormDense final : public Layer<T> {
 public:
  WeightNormDense(Index inputs, Index outputs, bool bias);
  std::string kind() const override { return bias_ ? "weight-norm-dense" : "weight-norm-dense-nobias"; }
  Index output_width(Index) const override { return outputs_; }
  // v (outputs x inputs), then g (outputs), then the bias (outputs) if any.
  Index parameter_count() const override { return inputs_ * outputs_ + outputs_ + (bias_ ? outputs_ : 0); }
  void bind(T* params, T* grads) override;
  // v from the initialiser, g_i = ||v_i||, so the effective W starts equal to v.
  void initialize(const InitSpec& spec, RandomStream& rng) override;
  void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) override;
  void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) override;
  // The effective W, recomputed from v and g on each call (so it is never stale after an update).
  std::optional<ConstMatrixMap<T>> weight() const override;
  std::optional<ConstMatrixMap<T>> bias() const override {
    if (!bias_) return std::nullopt;
    return ConstMatrixMap<T>(b_, 1, outputs_);
  }

  ConstMatrixMap<T> direction() const { return ConstMatrixMap<T>(v_, outputs_, inputs_); }
  ConstMatrixMap<T> magnitude() const { return ConstMatrixMap<T>(g_, 1, outputs_); }

 private:
  void update_effective_weight() const;

  Index inputs_, outputs_;
  bool bias_;
  T* v_ = nullptr;
  T* g_ = nullptr;
  T* b_ = nullptr;
  T* dv_ = nullptr;
  T* dg_ = nullptr;
  T* db_ = nullptr;
  // Sized once in the constructor, so maps returned by weight() stay valid for the layer's life.
  mutable Matrix<T> effective_;
  mutable Vector<T> row_norms_;
  Matrix<T> grad_w_;  // dL/dW scratch for backward
};

}  // namespace normscale
