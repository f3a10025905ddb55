// The MLP on one GPU: the same flat parameter / gradient layout as the host Network<float>, dense
// layers as cuBLAS SGEMMs (row-major batches), bias and ReLU fused into one kernel, and a backward
// pass that reports each layer's gradient as soon as it is final (so its allreduce can start) and
// can run on a subset of the forward's rows (Minnorm's support-vector skip).
#pragma once

#include "normscale/cuda/device.hpp"
#include "normscale/model/network.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace normscale {

// One dense layer of the device MLP.
struct DeviceDense {
  Index inputs = 0;
  Index outputs = 0;
  Index offset = 0;    // W (outputs x inputs, row-major) starts here in the flat buffers; b follows it
  bool bias = false;
  bool relu = false;   // a ReLU follows the layer
  Index parameter_count() const { return inputs * outputs + (bias ? outputs : 0); }
};

class DeviceNetwork {
 public:
  // Mirrors the layout of `host`: dense layers, each optionally followed by a ReLU. Anything else
  // (batch norm, weight norm, convolutions) is an error naming the layer and the option.
  DeviceNetwork(const Network<float>& host, CudaContext& context);

  Index input_width() const { return input_width_; }
  Index output_width() const { return output_width_; }
  Index parameter_count() const { return parameter_count_; }
  const std::vector<DeviceDense>& layers() const { return layers_; }
  float* parameters() { return params_.data(); }
  const float* parameters() const { return params_.data(); }
  float* gradient() { return grads_.data(); }
  const float* gradient() const { return grads_.data(); }

  // Room for batches of up to `rows` rows (grows only).
  void reserve(Index rows);
  Index capacity() const { return capacity_; }

  // Forward on the compute stream; x (rows x input_width, device) must stay valid until backward().
  // Returns the outputs (rows x output_width, device), valid until the next forward().
  const float* forward(const float* x, Index rows);
  // Input of dense layer i of the last forward (0: x; i = layers().size(): the outputs).
  const float* activation(std::size_t i) const { return activations_[i]; }

  // Overwrites gradient() with d(sum_k dout_k . f_k)/dW for the last forward's rows. dout is rows x
  // output_width. When `subset` is given (device, `subset_rows` positions of the last forward's rows),
  // only those rows take part: exact when dout is zero on the others. gradient_ready(i) is called
  // (host side, in order L-1 .. 0) right after dense layer i's weight and bias gradient is enqueued.
  void backward(const float* dout, Index rows, const std::function<void(std::size_t)>& gradient_ready = {},
                const std::int32_t* subset = nullptr, Index subset_rows = 0);

 private:
  CudaContext& context_;
  Index input_width_ = 0;
  Index output_width_ = 0;
  Index parameter_count_ = 0;
  Index max_width_ = 0;
  Index capacity_ = 0;
  std::vector<DeviceDense> layers_;
  DeviceBuffer<float> params_, grads_, ones_;
  std::vector<DeviceBuffer<float>> outputs_;       // per layer: rows x outputs
  std::vector<const float*> activations_;          // layer inputs of the last forward, then its outputs
  std::vector<DeviceBuffer<float>> compact_;       // support-vector skip: gathered layer inputs
  DeviceBuffer<float> delta_, delta_next_, compact_dout_;
  Index forward_rows_ = 0;
};

}  // namespace normscale
