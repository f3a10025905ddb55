// Non-overlapping 2-D pooling (window = stride, 2 by default), max or average, per channel on
// planar C x H x W examples; output sides H / window and W / window, rounded down.
#pragma once

#include "normscale/model/conv2d.hpp"

namespace normscale {

enum class PoolKind { kMax, kAverage };

template <class T>
class Pooling final : public Layer<T> {
 public:
  // H and W of at least window; the rows and columns past the last whole window are left out (floor).
  Pooling(FeatureMapShape input, PoolKind pool = PoolKind::kMax, Index window = 2);

  std::string kind() const override { return pool_ == PoolKind::kMax ? "max-pool" : "avg-pool"; }
  Index output_width(Index) const override { return output_shape().size(); }
  void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) override;
  // Max: the gradient goes to the first maximum of each window (found again from the input, as
  // forward chose it); average: spread evenly.
  void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) override;

  FeatureMapShape input_shape() const { return input_; }
  FeatureMapShape output_shape() const { return {input_.channels, input_.height / window_, input_.width / window_}; }
  PoolKind pool() const { return pool_; }
  Index window() const { return window_; }

 private:
  FeatureMapShape input_;
  PoolKind pool_;
  Index window_;
};

}  // namespace normscale
