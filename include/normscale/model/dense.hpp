// Fully connected layer: out = in W^T + b, with W (outputs x inputs) and optional bias b.
#pragma once

#include "normscale/model/gemm.hpp"
#include "normscale/model/layer.hpp"

namespace normscale {

template <class T>
class Dense final : public Layer<T> {
 public:
  Dense(Index inputs, Index outputs, bool bias) : inputs_(inputs), outputs_(outputs), bias_(bias) {}
  std::string kind() const override { return bias_ ? "dense" : "dense-nobias"; }
  Index output_width(Index) const override { return outputs_; }
  Index parameter_count() const override { return inputs_ * outputs_ + (bias_ ? outputs_ : 0); }
  void bind(T* params, T* grads) override;
  void bind_rounded(const RoundedParameters* rounded, Index offset) override {
    rounded_ = rounded;
    rounded_offset_ = offset;
  }
  void initialize(const InitSpec& spec, RandomStream& rng) override;
  void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) override;
  void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) override;
  bool rows_independent() const override { return true; }
  std::optional<ConstMatrixMap<T>> weight() const override { return ConstMatrixMap<T>(w_, outputs_, inputs_); }
  std::optional<ConstMatrixMap<T>> bias() const override {
    if (!bias_) return std::nullopt;
    return ConstMatrixMap<T>(b_, 1, outputs_);
  }

 private:
  Index inputs_, outputs_;
  bool bias_;
  T* w_ = nullptr;
  T* b_ = nullptr;
  T* dw_ = nullptr;
  T* db_ = nullptr;
  // With bf16 products: the input and weights as forward rounded them, which backward multiplies again (backward
  // takes the weights and input that forward saw; a backward over other rows, such as Network::backward_rows'
  // gathered ones, rounds its own), and the output gradient's copy shared by backward's two products.
  Bf16Copy in16_, w16_, dout16_;
  // The network's rounding of the parameters, where the update kept it; the weights are its first entries from
  // rounded_offset_ (float networks).
  const RoundedParameters* rounded_ = nullptr;
  Index rounded_offset_ = 0;
};

// Elementwise max(0, x).
template <class T>
class Relu final : public Layer<T> {
 public:
  std::string kind() const override { return "relu"; }
  void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) override;
  void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) override;
  bool rows_independent() const override { return true; }
};

}  // namespace normscale
