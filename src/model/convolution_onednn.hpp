// oneDNN's direct convolution for Conv2d<float> (stride 1, "same" zero padding): the batch comes and goes in the
// network's planar layout (row n = example n's C x H x W values) and the weights in Conv2d's (out x C x k x k);
// inside, oneDNN's JIT kernels for this CPU run on its blocked layouts, with no im2col columns. convolution_onednn.cpp
// is the only file that knows whether this build has oneDNN; without it, nothing here is ever called.
#pragma once

#include "normscale/core/types.hpp"

#include <memory>
#include <string>

namespace normscale::onednn {

// "onednn 2.6.3 (direct convolution, avx512_core JIT)".
std::string convolution_description();

class DirectConvolution {
 public:
  DirectConvolution(Index channels, Index height, Index width, Index out_channels, Index kernel, bool bias);
  ~DirectConvolution();
  DirectConvolution(const DirectConvolution&) = delete;
  DirectConvolution& operator=(const DirectConvolution&) = delete;

  // y (rows x out*H*W) = w * x (+ bias, where the layer has one). bf16: x and w rounded to bf16 (nearest even),
  // accumulated and written in f32. Keeps x in the kernels' layout for the backward that follows.
  void forward(const float* x, Index rows, const float* w, const float* bias, float* y, bool bf16);
  // dw (db where the layer has a bias, dx where not null) for output gradient dy at input x; dx is overwritten. Takes
  // forward's copy of x only where x is forward's input (same pointer, rows and precision), once: the buffer may be
  // refilled later.
  void backward(const float* x, Index rows, const float* w, const float* dy, float* dw, float* db, float* dx,
                bool bf16);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace normscale::onednn
