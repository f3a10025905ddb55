// DeviceNetwork: row-major batches through column-major cuBLAS. A row-major (n x k) matrix is the
// column-major (k x n) one with leading dimension k, so out = x W^T is out^T = W x^T in cuBLAS terms.
#include "normscale/cuda/device_network.hpp"

#include "cuda/check.hpp"
#include "cuda/kernels.hpp"

#include <algorithm>

namespace normscale {

namespace {

int as_int(Index value, const char* what) {
  NS_CHECK(value >= 0 && value <= INT32_MAX, "{} = {} does not fit cuBLAS's 32-bit sizes", what, value);
  return static_cast<int>(value);
}

}  // namespace

DeviceNetwork::DeviceNetwork(const Network<float>& host, CudaContext& context)
    : context_(context), input_width_(host.input_width()), output_width_(host.output_width()),
      parameter_count_(host.parameter_count()) {
  Index offset = 0;
  Index width = input_width_;
  max_width_ = input_width_;
  for (std::size_t i = 0; i < host.layer_count(); ++i) {
    const Layer<float>& layer = host.layer(i);
    const std::string kind = layer.kind();
    if (kind == "dense" || kind == "dense-nobias") {
      const auto w = layer.weight();
      DeviceDense dense;
      dense.inputs = w->cols();
      dense.outputs = w->rows();
      dense.offset = offset;
      dense.bias = kind == "dense";
      NS_CHECK(dense.inputs == width, "layer {} expects {} inputs but receives {}", i + 1, dense.inputs, width);
      layers_.push_back(dense);
      width = dense.outputs;
      max_width_ = std::max(max_width_, width);
    } else if (kind == "relu") {
      NS_CHECK(!layers_.empty() && !layers_.back().relu,
               "device = \"cuda\": a ReLU must follow a dense layer (layer {} of the network)", i + 1);
      layers_.back().relu = true;
    } else {
      NS_FAIL("device = \"cuda\" supports the plain MLP (dense layers, relu or identity activation, bias); layer {} is "
              "'{}' (model.batch_norm / model.weight_norm / model.type = convnet are not on the GPU yet); use "
              "device = \"cpu\" for this model",
              i + 1, kind);
    }
    offset += layer.parameter_count();
  }
  NS_CHECK(!layers_.empty(), "device = \"cuda\": the network has no dense layer");
  NS_CHECK(offset == parameter_count_, "the device layout covers {} of {} parameters", offset, parameter_count_);
  params_.resize(static_cast<std::size_t>(parameter_count_));
  grads_.resize(static_cast<std::size_t>(parameter_count_));
  params_.zero(context_.compute());
  grads_.zero(context_.compute());
  outputs_.resize(layers_.size());
  compact_.resize(layers_.size());
  activations_.assign(layers_.size() + 1, nullptr);
}

void DeviceNetwork::reserve(Index rows) {
  if (rows <= capacity_) return;
  capacity_ = rows;
  const auto n = static_cast<std::size_t>(rows);
  for (std::size_t i = 0; i < layers_.size(); ++i) outputs_[i].resize(n * static_cast<std::size_t>(layers_[i].outputs));
  delta_.resize(n * static_cast<std::size_t>(max_width_));
  delta_next_.resize(n * static_cast<std::size_t>(max_width_));
  std::vector<float> ones(n, 1.0f);
  ones_.upload(ones);
  // The support-vector skip's buffers are allocated when first used.
  for (auto& c : compact_) c.resize(0);
  compact_dout_.resize(0);
}

const float* DeviceNetwork::forward(const float* x, Index rows) {
  NS_CHECK(rows <= capacity_, "DeviceNetwork::forward: {} rows but room for {} (reserve first)", rows, capacity_);
  cudaStream_t stream = context_.compute();
  cublasHandle_t blas = context_.blas();
  const float one = 1.0f, zero = 0.0f;
  activations_[0] = x;
  forward_rows_ = rows;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const DeviceDense& l = layers_[i];
    float* out = outputs_[i].data();
    const float* w = params_.data() + l.offset;
    if (rows > 0) {
      NS_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, as_int(l.outputs, "layer width"),
                                  as_int(rows, "batch rows"), as_int(l.inputs, "layer inputs"), &one, w,
                                  as_int(l.inputs, "layer inputs"), activations_[i], as_int(l.inputs, "layer inputs"),
                                  &zero, out, as_int(l.outputs, "layer width")));
      kernels::bias_activation(out, l.bias ? w + l.inputs * l.outputs : nullptr, rows, l.outputs, l.relu, stream);
      NS_CUDA_CHECK_LAUNCH("bias_activation");
    }
    activations_[i + 1] = out;
  }
  return activations_.back();
}

void DeviceNetwork::backward(const float* dout, Index rows, const std::function<void(std::size_t)>& gradient_ready,
                             const std::int32_t* subset, Index subset_rows) {
  NS_CHECK(rows == forward_rows_, "DeviceNetwork::backward: {} rows of output gradient for a forward of {}", rows,
           forward_rows_);
  cudaStream_t stream = context_.compute();
  cublasHandle_t blas = context_.blas();
  const float one = 1.0f, zero = 0.0f;
  std::vector<const float*> inputs(activations_.begin(), activations_.end() - 1);
  Index n = rows;
  if (subset != nullptr) {
    // Gather the active rows of every layer input and of dout; the rest contribute exactly nothing.
    n = subset_rows;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Index width = layers_[i].inputs;
      compact_[i].reserve(static_cast<std::size_t>(capacity_ * width));
      kernels::gather_rows(inputs[i], width, subset, n, compact_[i].data(), stream);
      NS_CUDA_CHECK_LAUNCH("gather_rows (support vectors)");
      inputs[i] = compact_[i].data();
    }
    compact_dout_.reserve(static_cast<std::size_t>(capacity_ * output_width_));
    kernels::gather_rows(dout, output_width_, subset, n, compact_dout_.data(), stream);
    NS_CUDA_CHECK_LAUNCH("gather_rows (output gradient)");
    dout = compact_dout_.data();
  }
  const float* delta = dout;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const DeviceDense& l = layers_[i];
    float* dw = grads_.data() + l.offset;
    const float* w = params_.data() + l.offset;
    const int in = as_int(l.inputs, "layer inputs");
    const int out = as_int(l.outputs, "layer width");
    if (n == 0) {
      NS_CUDA_CHECK(cudaMemsetAsync(dw, 0, static_cast<std::size_t>(l.parameter_count()) * sizeof(float), stream));
    } else {
      // dW (out x in, row-major) = delta^T x: column-major (in x out) = x^T delta.
      NS_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, as_int(n, "batch rows"), &one, inputs[i],
                                  in, delta, out, &zero, dw, in));
      if (l.bias) {
        NS_CUBLAS_CHECK(cublasSgemv(blas, CUBLAS_OP_N, out, as_int(n, "batch rows"), &one, delta, out, ones_.data(), 1,
                                    &zero, dw + l.inputs * l.outputs, 1));
      }
    }
    if (gradient_ready) gradient_ready(i);
    if (i == 0 || n == 0) continue;
    // delta_in (n x in) = delta W: column-major (in x n) = W^T delta^T, then the previous ReLU's mask.
    float* next = delta == delta_.data() ? delta_next_.data() : delta_.data();
    NS_CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, in, as_int(n, "batch rows"), out, &one, w, in, delta,
                                out, &zero, next, in));
    if (layers_[i - 1].relu) {
      kernels::relu_mask(next, inputs[i], n * l.inputs, stream);
      NS_CUDA_CHECK_LAUNCH("relu_mask");
    }
    delta = next;
  }
}

}  // namespace normscale
