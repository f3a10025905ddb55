// 2-D convolution, stride 1 and "same" zero padding, on planar C x H x W examples: im2col of the
// whole batch, then one GEMM with the (out_channels x in_channels*k*k) weight matrix; or, in float32 where
// oneDNN is built, oneDNN's direct convolution (active_convolution_kernel(), model/gemm_backend.hpp).
#pragma once

#include "normscale/model/gemm.hpp"
#include "normscale/model/layer.hpp"

#include <memory>

namespace normscale {

namespace onednn {
class DirectConvolution;
}

// The shape of one planar image example: feature index c*H*W + y*W + x.
struct FeatureMapShape {
  Index channels = 0;
  Index height = 0;
  Index width = 0;
  Index area() const { return height * width; }
  Index size() const { return channels * height * width; }
  bool operator==(const FeatureMapShape&) const = default;
};

template <class T>
class Conv2d final : public Layer<T> {
 public:
  // kernel must be odd (padding kernel/2 keeps H x W).
  Conv2d(FeatureMapShape input, Index out_channels, Index kernel = 3, bool bias = false);
  ~Conv2d() override;

  std::string kind() const override { return bias_ ? "conv2d" : "conv2d-nobias"; }
  Index output_width(Index) const override { return output_shape().size(); }
  // W (out_channels x in_channels*k*k, column index c*k*k + dy*k + dx), then the bias (out_channels).
  Index parameter_count() const override { return out_channels_ * patch_size() + (bias_ ? out_channels_ : 0); }
  void bind(T* params, T* grads) override;
  // fan_in = in_channels*k*k, fan_out = out_channels*k*k (PyTorch's convention).
  void initialize(const InitSpec& spec, RandomStream& rng) override;
  void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) override;
  void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) override;
  std::optional<ConstMatrixMap<T>> weight() const override {
    return ConstMatrixMap<T>(w_, out_channels_, patch_size());
  }
  std::optional<ConstMatrixMap<T>> bias() const override {
    if (!bias_) return std::nullopt;
    return ConstMatrixMap<T>(b_, 1, out_channels_);
  }

  FeatureMapShape input_shape() const { return input_; }
  FeatureMapShape output_shape() const { return {out_channels_, input_.height, input_.width}; }
  Index kernel() const { return kernel_; }
  Index patch_size() const { return input_.channels * kernel_ * kernel_; }

 private:
  // columns_ (patch_size x rows*H*W): column n*H*W + p holds the patch around pixel p of example n. With bf16
  // products they are written rounded, into columns16_ only (the products read nothing else of them).
  void im2col(const Matrix<T>& in);
  // Adds the patches of columns_ back into din (rows x C*H*W), the adjoint of im2col.
  void col2im(Matrix<T>& din) const;
  // The direct convolution where it runs this pass (float32, active_convolution_kernel()), made on first use.
  onednn::DirectConvolution* direct();

  FeatureMapShape input_;
  Index out_channels_;
  Index kernel_;
  bool bias_;
  T* w_ = nullptr;
  T* b_ = nullptr;
  T* dw_ = nullptr;
  T* db_ = nullptr;
  Matrix<T> columns_;  // im2col scratch: forward's, which backward reuses for dW, then the input gradient's
  // The input of the forward whose columns columns_ (or, written rounded, columns16_) hold, until a backward took
  // them. Backward builds its own where they are not its input's (another input, another row count, or the rounding
  // the products now take differs).
  const T* columns_of_ = nullptr;
  Index columns_rows_ = 0;
  bool columns_rounded_ = false;
  Matrix<T> product_;  // (out_channels x rows*H*W): GEMM result / output gradient in GEMM layout
  // precision = "bf16": the columns as im2col rounded them, and the output gradient's rounding, which backward's two
  // products share.
  Bf16Copy columns16_, product16_;
  std::unique_ptr<onednn::DirectConvolution> direct_;
};

}  // namespace normscale
