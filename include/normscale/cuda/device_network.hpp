// The MLP on one GPU: the same flat parameter / gradient layout as the host Network<float>, dense
// layers as cuBLAS SGEMMs (row-major batches), bias and ReLU fused into one kernel, batch norm
// (model.batch_norm: between a hidden layer's linear map and its ReLU, as make_bn_mlp builds it)
// with the BN's affine map and the ReLU fused, and a backward pass that reports each layer's gradient
// as soon as it is final (so its allreduce can start) and can run on a subset of the forward's rows
// (Minnorm's support-vector skip; not with batch norm, which couples the rows).
#pragma once

#include "normscale/cuda/device.hpp"
#include "normscale/model/network.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace normscale {

class GraphCache;

// One dense layer of the device MLP.
struct DeviceDense {
  Index inputs = 0;
  Index outputs = 0;
  Index offset = 0;    // W (outputs x inputs, row-major) starts here in the flat buffers; b follows it
  bool bias = false;
  bool relu = false;   // a ReLU follows the layer (after the batch norm when there is one)
  // Batch norm over the layer's outputs (BatchNorm<float> of the host network, channels = outputs):
  // gamma then beta (bn_affine) follow W and b in the flat buffers, inside this layer's gradient bucket.
  bool batch_norm = false;
  bool bn_affine = false;
  bool bn_sync = false;     // statistics of the global batch through the network's statistics reducer
  double bn_eps = 1e-5;
  double bn_momentum = 0.1;
  Index bn_state = 0;       // running mean then running variance (outputs each) start here in state()
  Index dense_parameter_count() const { return inputs * outputs + (bias ? outputs : 0); }
  // W, b and the batch norm's gamma and beta: the layer's slice [offset, offset + parameter_count()).
  Index parameter_count() const { return dense_parameter_count() + (bn_affine ? 2 * outputs : 0); }
};

// Sums `count` doubles of device memory over all ranks in place, ordered on the compute stream (work
// enqueued before the call is complete before the sum reads, work enqueued after sees the result).
using DeviceStatisticsReducer = std::function<void(double* device_values, std::size_t count)>;

class DeviceNetwork {
 public:
  // Mirrors the layout of `host`: dense layers, each optionally followed by batch norm and then a
  // ReLU. Anything else (weight norm, convolutions, another order) is an error naming the layer and
  // the option.
  DeviceNetwork(const Network<float>& host, CudaContext& context);
  ~DeviceNetwork();
  DeviceNetwork(const DeviceNetwork&) = delete;
  DeviceNetwork& operator=(const DeviceNetwork&) = delete;

  // cuda_graphs: the training-mode forward and the whole-batch backward run as CUDA graphs, one per input and row
  // count (graph_cache.hpp), where their launches repeat exactly: not with a statistics reducer (sync-bn over
  // ranks), a gradient_ready callback (per-layer allreduce) or a row subset (the support-vector skip).
  void use_graphs(bool on);
  std::size_t graph_count() const;

  Index input_width() const { return input_width_; }
  Index output_width() const { return output_width_; }
  Index parameter_count() const { return parameter_count_; }
  const std::vector<DeviceDense>& layers() const { return layers_; }
  float* parameters() { return params_.data(); }
  const float* parameters() const { return params_.data(); }
  float* gradient() { return grads_.data(); }
  const float* gradient() const { return grads_.data(); }

  bool has_batch_norm() const { return state_size_ > 0; }
  // The batch norms' running statistics, laid out as Network<float>::layer_state() (per batch norm
  // layer: running mean, then running variance); state_size() floats of device memory.
  float* state() { return state_.data(); }
  const float* state() const { return state_.data(); }
  Index state_size() const { return state_size_; }
  // For sync-bn layers on several ranks (the CUDA trainer passes its device communicator's allreduce). Without one a
  // sync-bn layer uses this rank's statistics, which is exact on one rank.
  void set_statistics_reducer(DeviceStatisticsReducer reducer) { reducer_ = std::move(reducer); }

  // Room for batches of up to `rows` rows (grows only).
  void reserve(Index rows);
  Index capacity() const { return capacity_; }

  // Forward on the compute stream; x (rows x input_width, device) must stay valid until backward().
  // Returns the outputs (rows x output_width, device), valid until the next forward(). Batch norm as
  // BatchNorm<float>: training mode normalises with the batch statistics (reduced under sync-bn; then
  // every rank must call, even with 0 rows) and updates the running statistics (not in Mode::kTrainRepeat); eval
  // mode uses them.
  const float* forward(const float* x, Index rows, Mode mode = Mode::kTrain);
  // Input of dense layer i of the last forward (0: x; i = layers().size(): the outputs).
  const float* activation(std::size_t i) const { return activations_[i]; }

  // Overwrites gradient() with d(sum_k dout_k . f_k)/dW for the last forward's rows. dout is rows x
  // output_width. When `subset` is given (device, `subset_rows` positions of the last forward's rows),
  // only those rows take part: exact when dout is zero on the others (never with batch norm, whose
  // input gradient is non-zero on every row; an error). gradient_ready(i) is called
  // (host side, in order L-1 .. 0) right after dense layer i's weight and bias gradient is enqueued.
  void backward(const float* dout, Index rows, const std::function<void(std::size_t)>& gradient_ready = {},
                const std::int32_t* subset = nullptr, Index subset_rows = 0);

 private:
  // The launches of forward() and backward() (which first set the host's bookkeeping and choose graph or not).
  void issue_forward(Index rows, Mode mode);
  void issue_backward(const float* dout, Index rows, const std::function<void(std::size_t)>& gradient_ready,
                      const std::int32_t* subset, Index subset_rows);

  CudaContext& context_;
  Index input_width_ = 0;
  Index output_width_ = 0;
  Index parameter_count_ = 0;
  Index max_width_ = 0;
  Index capacity_ = 0;
  std::vector<DeviceDense> layers_;
  // Per batch-norm layer (empty elsewhere): its input, the dense layer's output (rows x outputs), and
  // [sums 3C | backward sums 2C | mean, inv_std, scale, shift 4C] in double.
  std::vector<DeviceBuffer<float>> normalized_in_;
  std::vector<DeviceBuffer<double>> bn_scratch_;
  DeviceBuffer<float> state_;
  Index state_size_ = 0;
  DeviceStatisticsReducer reducer_;
  Mode forward_mode_ = Mode::kTrain;
  DeviceBuffer<float> params_, grads_, ones_;
  std::vector<DeviceBuffer<float>> outputs_;       // per layer: rows x outputs
  std::vector<const float*> activations_;          // layer inputs of the last forward, then its outputs
  std::vector<DeviceBuffer<float>> compact_;       // support-vector skip: gathered layer inputs
  DeviceBuffer<float> delta_, delta_next_, compact_dout_;
  Index forward_rows_ = 0;
  std::unique_ptr<GraphCache> graphs_;  // null: every launch issued directly
};

}  // namespace normscale
