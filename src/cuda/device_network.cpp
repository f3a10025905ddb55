// DeviceNetwork: row-major batches through column-major cuBLAS. A row-major (n x k) matrix is the
// column-major (k x n) one with leading dimension k, so out = x W^T is out^T = W x^T in cuBLAS terms.
#include "normscale/cuda/device_network.hpp"

#include "cuda/check.hpp"
#include "cuda/cuda_libraries.hpp"
#include "cuda/graph_cache.hpp"
#include "cuda/kernels.hpp"
#include "normscale/model/batch_norm.hpp"
#include "normscale/model/dense.hpp"

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
    // By the layer's class (dense, batch norm, relu), not its kind() text; any other layer is named in the error.
    if (dynamic_cast<const Dense<float>*>(&layer) != nullptr) {
      const auto w = layer.weight();
      DeviceDense dense;
      dense.inputs = w->cols();
      dense.outputs = w->rows();
      dense.offset = offset;
      dense.bias = layer.bias().has_value();
      NS_CHECK(dense.inputs == width, "layer {} expects {} inputs but receives {}", i + 1, dense.inputs, width);
      layers_.push_back(dense);
      width = dense.outputs;
      max_width_ = std::max(max_width_, width);
    } else if (const auto* bn = dynamic_cast<const BatchNorm<float>*>(&layer)) {
      NS_CHECK(!layers_.empty() && !layers_.back().batch_norm && !layers_.back().relu,
               "device = \"cuda\": batch norm must directly follow a dense layer (layer {} of the network); use "
               "device = \"cpu\" for this model",
               i + 1);
      DeviceDense& dense = layers_.back();
      NS_CHECK(bn->spatial() == 1 && bn->channels() == dense.outputs,
               "device = \"cuda\": batch norm layer {} has {} channels x {} positions for a dense layer of {} "
               "outputs",
               i + 1, bn->channels(), bn->spatial(), dense.outputs);
      NS_CHECK(dense.offset + dense.dense_parameter_count() == offset,
               "device = \"cuda\": the parameters of batch norm layer {} do not follow its dense layer's", i + 1);
      dense.batch_norm = true;
      dense.bn_affine = bn->options().affine;
      dense.bn_sync = bn->synchronized();
      dense.bn_eps = bn->options().eps;
      dense.bn_momentum = bn->options().momentum;
      dense.bn_state = state_size_;
      state_size_ += 2 * dense.outputs;
    } else if (dynamic_cast<const Relu<float>*>(&layer) != nullptr) {
      NS_CHECK(!layers_.empty() && !layers_.back().relu,
               "device = \"cuda\": a ReLU must follow a dense layer or its batch norm (layer {} of the network)",
               i + 1);
      layers_.back().relu = true;
    } else {
      NS_FAIL("device = \"cuda\" supports the MLP (dense layers, relu or identity activation, bias, "
              "model.batch_norm); layer {} is '{}' (model.weight_norm / model.type = convnet are not on the GPU "
              "yet); use device = \"cpu\" for this model",
              i + 1, layer.kind());
    }
    offset += layer.parameter_count();
  }
  NS_CHECK(!layers_.empty(), "device = \"cuda\": the network has no dense layer");
  NS_CHECK(offset == parameter_count_, "the device layout covers {} of {} parameters", offset, parameter_count_);
  NS_CHECK(static_cast<Index>(host.layer_state().size()) == state_size_,
           "the device keeps {} batch-norm statistics, the host network {}", state_size_, host.layer_state().size());
  params_.resize(static_cast<std::size_t>(parameter_count_));
  grads_.resize(static_cast<std::size_t>(parameter_count_));
  params_.zero(context_.compute());
  grads_.zero(context_.compute());
  outputs_.resize(layers_.size());
  compact_.resize(layers_.size());
  normalized_in_.resize(layers_.size());
  bn_scratch_.resize(layers_.size());
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (!layers_[i].batch_norm) continue;
    bn_scratch_[i].resize(static_cast<std::size_t>(9 * layers_[i].outputs));
    bn_scratch_[i].zero(context_.compute());
  }
  if (state_size_ > 0) {
    // The host's initial statistics (mean 0, variance 1) until load from the host.
    state_.upload(host.layer_state());
  }
  activations_.assign(layers_.size() + 1, nullptr);
}

DeviceNetwork::~DeviceNetwork() = default;

void DeviceNetwork::use_graphs(bool on) {
  if (!on) {
    graphs_.reset();
    return;
  }
  if (graphs_) return;
  context_.reserve_blas_workspace();
  graphs_ = std::make_unique<GraphCache>();
}

std::size_t DeviceNetwork::graph_count() const { return graphs_ ? graphs_->size() : 0; }

void DeviceNetwork::reserve(Index rows) {
  if (rows <= capacity_) return;
  if (graphs_) graphs_->clear();  // they captured the buffers reallocated here
  capacity_ = rows;
  const auto n = static_cast<std::size_t>(rows);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto width = static_cast<std::size_t>(layers_[i].outputs);
    outputs_[i].resize(n * width);
    if (layers_[i].batch_norm) normalized_in_[i].resize(n * width);
  }
  delta_.resize(n * static_cast<std::size_t>(max_width_));
  delta_next_.resize(n * static_cast<std::size_t>(max_width_));
  std::vector<float> ones(n, 1.0f);
  ones_.upload(ones);
  // The support-vector skip's buffers are allocated when first used.
  for (auto& c : compact_) c.resize(0);
  compact_dout_.resize(0);
}

const float* DeviceNetwork::forward(const float* x, Index rows, Mode mode) {
  NS_CHECK(rows <= capacity_, "DeviceNetwork::forward: {} rows but room for {} (reserve first)", rows, capacity_);
  activations_[0] = x;
  forward_rows_ = rows;
  forward_mode_ = mode;
  for (std::size_t i = 0; i < layers_.size(); ++i) activations_[i + 1] = outputs_[i].data();
  // The step's forward and the repeated one are captured apart: only the first's graph updates the running
  // statistics.
  if (graphs_ && mode != Mode::kEval && !reducer_) {
    graphs_->run(context_.compute(), {mode == Mode::kTrain ? 0 : 3, x, nullptr, rows},
                 [&] { issue_forward(rows, mode); });
  } else {
    issue_forward(rows, mode);
  }
  return activations_.back();
}

void DeviceNetwork::issue_forward(Index rows, Mode mode) {
  const bool train = mode != Mode::kEval;
  cudaStream_t stream = context_.compute();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const DeviceDense& l = layers_[i];
    float* out = outputs_[i].data();
    float* linear = l.batch_norm ? normalized_in_[i].data() : out;
    const float* w = params_.data() + l.offset;
    if (rows > 0) {
      context_.gemm(true, false, as_int(l.outputs, "layer width"), as_int(rows, "batch rows"),
                    as_int(l.inputs, "layer inputs"), w, as_int(l.inputs, "layer inputs"), activations_[i],
                    as_int(l.inputs, "layer inputs"), linear, as_int(l.outputs, "layer width"));
      kernels::bias_activation(linear, l.bias ? w + l.inputs * l.outputs : nullptr, rows, l.outputs,
                               l.relu && !l.batch_norm, stream);
      NS_CUDA_CHECK_LAUNCH("bias_activation");
    }
    if (l.batch_norm) {
      double* sums = bn_scratch_[i].data();
      double* stats = sums + 5 * l.outputs;
      const bool reduced = train && l.bn_sync && reducer_;
      if (train) {
        NS_CHECK(reduced || rows > 1,
                 "batch norm in training mode needs more than one value per channel, got {}; hint: use a larger "
                 "batch or eval mode",
                 rows);
        kernels::bn_statistics(linear, rows, l.outputs, sums, stream);
        NS_CUDA_CHECK_LAUNCH("bn_statistics");
        if (reduced) reducer_(sums, static_cast<std::size_t>(3 * l.outputs));
      }
      const float* gamma = l.bn_affine ? w + l.dense_parameter_count() : nullptr;
      float* running = state_.data() + l.bn_state;
      kernels::bn_prepare(sums, l.outputs, train, mode == Mode::kTrain, l.bn_eps, l.bn_momentum, running,
                          running + l.outputs, gamma, gamma != nullptr ? gamma + l.outputs : nullptr, stats, stream);
      NS_CUDA_CHECK_LAUNCH("bn_prepare");
      kernels::bn_apply(linear, rows, l.outputs, stats, l.relu, out, stream);
      NS_CUDA_CHECK_LAUNCH("bn_apply");
    }
  }
}

void DeviceNetwork::backward(const float* dout, Index rows, const std::function<void(std::size_t)>& gradient_ready,
                             const std::int32_t* subset, Index subset_rows) {
  NS_CHECK(rows == forward_rows_, "DeviceNetwork::backward: {} rows of output gradient for a forward of {}", rows,
           forward_rows_);
  NS_CHECK(subset == nullptr || !has_batch_norm(),
           "DeviceNetwork::backward: the support-vector skip is not exact with batch norm");
  const bool train = forward_mode_ != Mode::kEval;
  if (graphs_ && !reducer_ && !gradient_ready && subset == nullptr) {
    // The forward's input is read again for the first layer's weight gradient.
    graphs_->run(context_.compute(), {train ? 1 : 2, activations_[0], dout, rows},
                 [&] { issue_backward(dout, rows, gradient_ready, subset, subset_rows); });
  } else {
    issue_backward(dout, rows, gradient_ready, subset, subset_rows);
  }
}

void DeviceNetwork::issue_backward(const float* dout, Index rows, const std::function<void(std::size_t)>& gradient_ready,
                                   const std::int32_t* subset, Index subset_rows) {
  cudaStream_t stream = context_.compute();
  cublasHandle_t blas = context_.blas();
  const float one = 1.0f, zero = 0.0f;
  const bool train = forward_mode_ != Mode::kEval;
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
  // The delta buffer not holding `current` (dout is neither).
  const auto spare = [&](const float* current) { return current == delta_.data() ? delta_next_.data() : delta_.data(); };
  const float* delta = dout;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const DeviceDense& l = layers_[i];
    float* dw = grads_.data() + l.offset;
    const float* w = params_.data() + l.offset;
    const int in = as_int(l.inputs, "layer inputs");
    const int out = as_int(l.outputs, "layer width");
    if (l.batch_norm) {
      // delta is the gradient at the batch norm's output (the ReLU's mask already applied); through the
      // normalisation it becomes the gradient at the dense layer's output. Under sync-bn the sums are
      // reduced on every rank, whatever its row count.
      const double* sums = bn_scratch_[i].data();
      double* back = bn_scratch_[i].data() + 3 * l.outputs;
      const double* stats = sums + 5 * l.outputs;
      const float* gamma = l.bn_affine ? w + l.dense_parameter_count() : nullptr;
      float* dgamma = l.bn_affine ? dw + l.dense_parameter_count() : nullptr;
      const float* x = normalized_in_[i].data();
      kernels::bn_backward_sums(x, delta, n, l.outputs, stats, back, dgamma, dgamma != nullptr ? dgamma + l.outputs : nullptr,
                                stream);
      NS_CUDA_CHECK_LAUNCH("bn_backward_sums");
      if (train && l.bn_sync && reducer_) reducer_(back, static_cast<std::size_t>(2 * l.outputs));
      float* through = spare(delta);
      kernels::bn_input_gradient(x, delta, n, l.outputs, stats, gamma, sums, back, train, through, stream);
      NS_CUDA_CHECK_LAUNCH("bn_input_gradient");
      delta = through;
    }
    if (n == 0) {
      NS_CUDA_CHECK(cudaMemsetAsync(dw, 0, static_cast<std::size_t>(l.parameter_count()) * sizeof(float), stream));
    } else {
      // dW (out x in, row-major) = delta^T x: column-major (in x out) = x^T delta.
      context_.gemm(false, true, in, out, as_int(n, "batch rows"), inputs[i], in, delta, out, dw, in);
      if (l.bias) {
        NS_CUBLAS_CHECK(cuda_detail::cublas().sgemv(blas, CUBLAS_OP_N, out, as_int(n, "batch rows"), &one, delta, out,
                                                    ones_.data(), 1, &zero, dw + l.inputs * l.outputs, 1));
      }
    }
    if (gradient_ready) gradient_ready(i);
    if (i == 0 || n == 0) continue;
    // delta_in (n x in) = delta W: column-major (in x n) = W^T delta^T, then the previous ReLU's mask.
    float* next = spare(delta);
    context_.gemm(false, false, in, as_int(n, "batch rows"), out, w, in, delta, out, next, in);
    if (layers_[i - 1].relu) {
      kernels::relu_mask(next, inputs[i], n * l.inputs, stream);
      NS_CUDA_CHECK_LAUNCH("relu_mask");
    }
    delta = next;
  }
}

}  // namespace normscale
