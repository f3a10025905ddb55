// CudaExecutor: the step's arithmetic on this rank's GPU, for the step algorithm of Trainer<float>.
// One host synchronisation per step (in backward_and_reduce: the loss sum and the count of rows kept
// come back together); everything else stays on the device. Batch norm runs in training mode in the
// step's forward passes and in eval mode for evaluations and the Lagrangian; under sync-bn its sums go
// over the same device communicator (from make_device_communicator: NCCL) and stream as the gradient
// buckets, so every rank issues them in one order. One rank needs no device communicator at all.
#include "normscale/cuda/cuda_trainer.hpp"

#include "cuda/check.hpp"
#include "cuda/kernels.hpp"
#include "normscale/comm/communicator_factory.hpp"
#include "normscale/cuda/device.hpp"
#include "normscale/cuda/device_dataset.hpp"
#include "normscale/cuda/device_network.hpp"
#include "normscale/cuda/device_objective.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/optim/optim_config.hpp"
#include "normscale/optim/sgd.hpp"

#include <algorithm>
#include <exception>
#include <map>

namespace normscale {

namespace {

constexpr Index kEvalChunk = 8192;

// Page-locked host memory for the per-step scalars, so their copies are truly asynchronous.
template <class T>
class PinnedArray {
 public:
  explicit PinnedArray(std::size_t n) {
    void* memory = nullptr;
    NS_CUDA_CHECK(cudaMallocHost(&memory, n * sizeof(T)));
    data_ = static_cast<T*>(memory);
  }
  ~PinnedArray() { cudaFreeHost(data_); }
  PinnedArray(const PinnedArray&) = delete;
  PinnedArray& operator=(const PinnedArray&) = delete;
  T& operator[](std::size_t i) { return data_[i]; }
  T* data() { return data_; }

 private:
  T* data_ = nullptr;
};

class Event {
 public:
  Event() { NS_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  explicit Event(bool timing) { NS_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming)); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Milliseconds between two timing events once both have completed; 0 when they were never recorded.
double elapsed_seconds(const Event& start, const Event& end, bool recorded) {
  if (!recorded) return 0.0;
  float ms = 0.0f;
  if (cudaEventElapsedTime(&ms, start.get(), end.get()) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;
  }
  return static_cast<double>(ms) / 1000.0;
}

int select_device_for(Communicator& comm) { return select_cuda_device(comm, "device"); }

class CudaExecutor final : public StepExecutor<float> {
 public:
  // Collective over `comm` (each rank picks its GPU, then the device communicator is built).
  CudaExecutor(const TrainerOptions& options, const CudaEngineOptions& cuda, Communicator& comm, const Dataset& train,
               Network<float>& network, Objective<float>& objective);
  ~CudaExecutor() override;

  std::string device() const override;
  void load_rows(std::span<const Index> rows) override;
  void forward(Mode mode) override;
  void update_multipliers() override;
  void output_gradient(double scale, bool skip_zero_rows, bool lagged_update) override;
  BackwardResult backward_and_reduce(bool sample_noise) override;
  void update_parameters(double lr, double l2) override;
  std::vector<BlockDots> block_dots(std::span<const ParameterBlock> blocks) override;
  void update_blocks(std::span<const ParameterBlock> blocks, std::span<const ScaleAdd> steps, double lr,
                     double l2) override;
  GradientNorms gradient_norms() override;
  ExecutorTimes take_times() override;

  LocalEvaluation evaluate(const Dataset& data, DualTerms* dual) override;
  void forward_each_chunk(const Dataset& data, const ChunkVisitor<float>& visit) override;
  double squared_norm() override;
  Index support_count() override;
  std::vector<float>& velocity() override { return host_velocity_; }
  void sync_to_host() override;
  void load_from_host() override;

 private:
  // `data` in device memory: the training shard, or a cached upload of an evaluation set.
  const DeviceDataset& on_device(const Dataset& data);
  // Each batch row's ||h||^2 + 1 (h the last layer's input in the last forward) when the objective takes
  // curvature-normalized multiplier steps, as the CPU executor computes it; else null.
  const double* curvature();
  // Waits for `stream` (wait_for_streams: for the compute stream, which waits for the communication stream's
  // work). With several ranks the wait may be behind an NCCL collective that a stalled peer never joins, where no
  // host collective would notice: it runs under the host communicator's collective watchdog, so after
  // collective_timeout the job ends as for a stalled host collective. It must come before any copy into pageable
  // host memory, which would block unwatched until the stream got there. Work queued after it with no collective
  // (an evaluation pass) is waited for unwatched (settle), so that the watch does not time this rank's own work.
  void wait(cudaStream_t stream);
  void wait_for_streams();
  void settle(cudaStream_t stream) { NS_CUDA_CHECK(cudaStreamSynchronize(stream)); }
  CollectiveWatchdog* watchdog();  // null on one rank or without collective_timeout
  static constexpr const char* kStreamWait = "NCCL allreduce (a wait for the GPU's stream)";
  std::size_t gradient_bytes() const { return static_cast<std::size_t>(dnet_.parameter_count()) * sizeof(float); }
  // The value at `device` once the stream's work before it is done (copy_back: where wait() came before it and no
  // collective was queued since).
  template <class V>
  V copy_back(const V* device, cudaStream_t stream) {
    V value{};
    NS_CUDA_CHECK(cudaMemcpyAsync(&value, device, sizeof(V), cudaMemcpyDeviceToHost, stream));
    settle(stream);
    return value;
  }
  template <class V>
  V read_back(const V* device, cudaStream_t stream) {
    wait(stream);
    return copy_back(device, stream);
  }

  Communicator& comm_;
  const Dataset& train_;
  Network<float>& network_;
  Objective<float>& objective_;
  double momentum_;
  int device_;
  CudaContext context_;
  DeviceNetwork dnet_;
  std::unique_ptr<DeviceObjective> dobj_;
  std::unique_ptr<DeviceCommunicator> device_comm_;  // null on one rank
  DeviceDataset dtrain_;
  std::map<const Dataset*, std::unique_ptr<DeviceDataset>> eval_sets_;

  bool velocity_used_ = false;
  std::vector<float> host_velocity_;
  std::vector<std::int32_t> host_rows_;
  Index rows_ = 0;         // rows of the current batch on this rank
  const float* f_ = nullptr;  // outputs of the last forward (device)
  bool skip_ = false;      // the last output_gradient compacts the rows with a nonzero gradient
  DeviceBuffer<std::int32_t> d_rows_, d_active_, d_index_, d_count_;
  DeviceBuffer<float> d_x_, d_output_grad_, d_velocity_;
  DeviceBuffer<double> d_block_dots_;  // 3 per normalized block
  DeviceBuffer<double> d_curvature_;   // per batch row, for curvature-normalized multiplier steps
  DeviceBuffer<double> d_scalars_;  // loss, local |g|^2, global |g|^2, eval loss, then the 3 DualTerms sums
  DeviceBuffer<unsigned long long> d_counts_;   // errors, support
  PinnedArray<double> scalars_;
  PinnedArray<std::int32_t> count_;
  std::vector<std::unique_ptr<Event>> layer_ready_;
  Event comm_done_;
  Event statistics_ready_, statistics_reduced_;  // sync-bn sums: compute -> communication -> compute
  // Timing. Each gradient bucket's allreduce between a pair of events, from when the communication stream starts it
  // (its layer ready, the buckets before it done) to its end: their sum is the transfer alone, as a CPU rank's
  // blocking allreduce measures it, not the backward compute it overlaps.
  std::vector<std::unique_ptr<Event>> bucket_begin_, bucket_end_;
  Event multiplier_begin_{true}, multiplier_end_{true};
  bool comm_timed_ = false, multiplier_timed_ = false;
  ExecutorTimes times_;
};

CudaExecutor::CudaExecutor(const TrainerOptions& options, const CudaEngineOptions& cuda, Communicator& comm,
                           const Dataset& train, Network<float>& network, Objective<float>& objective)
    : comm_(comm),
      train_(train),
      network_(network),
      objective_(objective),
      momentum_(options.momentum),
      device_(select_device_for(comm)),
      context_(cuda.tf32, cuda.bf16),
      dnet_(network, context_),
      dobj_(make_device_objective(objective.rule_type(), objective.rule_params(), objective.name(), train.rows,
                                  network.output_width(), context_)),
      scalars_(4),
      count_(1) {
  NS_CHECK(train.rows * std::max<Index>(train.cols, 1) < (Index{1} << 31) && train.rows < (Index{1} << 31),
           "device = \"cuda\": this rank's training shard ({} x {}) is too large for 32-bit row indices; use more ranks",
           train.rows, train.cols);
  if (comm.size() > 1) device_comm_ = make_device_communicator(comm);
  dtrain_.upload(train);
  const Index batch = options.batch == kFullBatch ? train.rows : options.batch;
  const Index local_batch = std::min(batch, train.rows);
  dnet_.reserve(std::max<Index>({local_batch, std::min(kEvalChunk, std::max<Index>(train.rows, 1)), 1}));
  dnet_.use_graphs(cuda.graphs);
  const auto capacity = static_cast<std::size_t>(std::max<Index>(local_batch, 1));
  d_rows_.resize(capacity);
  d_active_.resize(capacity);
  d_index_.resize(capacity);
  d_count_.resize(1);
  d_x_.resize(capacity * static_cast<std::size_t>(train.cols));
  d_output_grad_.resize(capacity * static_cast<std::size_t>(network.output_width()));
  if (objective.traits().curvature_step) d_curvature_.resize(capacity);
  d_scalars_.resize(7);
  d_counts_.resize(2);
  if (options.momentum != 0.0) d_velocity_.resize(static_cast<std::size_t>(network.parameter_count()));
  for (std::size_t i = 0; i < dnet_.layers().size(); ++i) {
    layer_ready_.push_back(std::make_unique<Event>());
    bucket_begin_.push_back(std::make_unique<Event>(true));
    bucket_end_.push_back(std::make_unique<Event>(true));
  }
  if (device_comm_) {
    // Sync-bn: the statistics are summed on the communication stream, behind any gradient bucket
    // already queued there (one device communicator, one stream, the same order on every rank).
    dnet_.set_statistics_reducer([this](double* values, std::size_t count) {
      cudaStream_t compute = context_.compute();
      cudaStream_t communication = context_.communication();
      NS_CUDA_CHECK(cudaEventRecord(statistics_ready_.get(), compute));
      NS_CUDA_CHECK(cudaStreamWaitEvent(communication, statistics_ready_.get(), 0));
      device_comm_->allreduce_sum_async(values, count, communication);
      NS_CUDA_CHECK(cudaEventRecord(statistics_reduced_.get(), communication));
      NS_CUDA_CHECK(cudaStreamWaitEvent(compute, statistics_reduced_.get(), 0));
    });
  }
}

CudaExecutor::~CudaExecutor() {
  // While an exception unwinds (this rank failed alone), a collective queued on the streams may wait for peers that
  // never join it: the device communicator goes first (aborted, nccl_comm.cpp), so that the wait below ends.
  if (std::uncaught_exceptions() > 0) device_comm_.reset();
  cudaStreamSynchronize(context_.compute());
}

CollectiveWatchdog* CudaExecutor::watchdog() { return device_comm_ ? comm_.watchdog() : nullptr; }

void CudaExecutor::wait(cudaStream_t stream) {
  const CollectiveWatchdog::Watch watch(watchdog(), kStreamWait, gradient_bytes());
  NS_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void CudaExecutor::wait_for_streams() {
  const CollectiveWatchdog::Watch watch(watchdog(), kStreamWait, gradient_bytes());
  context_.synchronize();
}

std::string CudaExecutor::device() const { return fmt::format("cuda:{} ({})", device_, cuda_device_name(device_)); }

void CudaExecutor::load_rows(std::span<const Index> rows) {
  // Computed on the host (small), gathered on the device from the resident shard.
  cudaStream_t stream = context_.compute();
  host_rows_.resize(rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k) host_rows_[k] = static_cast<std::int32_t>(rows[k]);
  rows_ = static_cast<Index>(rows.size());
  if (rows_ == 0) return;
  NS_CUDA_CHECK(cudaMemcpyAsync(d_rows_.data(), host_rows_.data(), rows.size() * sizeof(std::int32_t),
                                cudaMemcpyHostToDevice, stream));
  kernels::gather_rows(dtrain_.features.data(), dtrain_.cols, d_rows_.data(), rows_, d_x_.data(), stream);
  NS_CUDA_CHECK_LAUNCH("gather_rows");
}

void CudaExecutor::forward(Mode mode) { f_ = dnet_.forward(d_x_.data(), rows_, mode); }

void CudaExecutor::update_multipliers() {
  cudaStream_t stream = context_.compute();
  NS_CUDA_CHECK(cudaEventRecord(multiplier_begin_.get(), stream));
  dobj_->update_multipliers(dtrain_, f_, d_rows_.data(), rows_, curvature());
  NS_CUDA_CHECK(cudaEventRecord(multiplier_end_.get(), stream));
  multiplier_timed_ = true;
}

const double* CudaExecutor::curvature() {
  if (!objective_.traits().curvature_step || rows_ == 0) return nullptr;
  const std::size_t last = dnet_.layers().size() - 1;
  kernels::row_squared_norms(dnet_.activation(last), rows_, dnet_.layers()[last].inputs, 1.0, d_curvature_.data(),
                             context_.compute());
  NS_CUDA_CHECK_LAUNCH("row_squared_norms");
  return d_curvature_.data();
}

void CudaExecutor::output_gradient(double scale, bool skip_zero_rows, bool lagged_update) {
  cudaStream_t stream = context_.compute();
  const Index n = rows_;
  skip_ = skip_zero_rows && n > 0;
  NS_CUDA_CHECK(cudaMemsetAsync(d_scalars_.data(), 0, 4 * sizeof(double), stream));
  dobj_->output_gradient(dtrain_, f_, d_rows_.data(), n, scale, d_output_grad_.data(), d_scalars_.data(),
                         skip_ ? d_active_.data() : nullptr, lagged_update, lagged_update ? curvature() : nullptr);
  if (skip_) {
    kernels::compact_flags(d_active_.data(), n, d_index_.data(), d_count_.data(), stream);
    NS_CUDA_CHECK_LAUNCH("compact_flags");
    NS_CUDA_CHECK(cudaMemcpyAsync(count_.data(), d_count_.data(), sizeof(std::int32_t), cudaMemcpyDeviceToHost,
                                  stream));
  }
  NS_CUDA_CHECK(cudaMemcpyAsync(scalars_.data(), d_scalars_.data(), sizeof(double), cudaMemcpyDeviceToHost, stream));
}

BackwardResult CudaExecutor::backward_and_reduce(bool sample_noise) {
  cudaStream_t stream = context_.compute();
  // The one synchronisation of the step. The previous step's timing events are complete too.
  wait(stream);
  for (std::size_t i = 0; i < bucket_begin_.size(); ++i) {
    times_.comm += elapsed_seconds(*bucket_begin_[i], *bucket_end_[i], comm_timed_);
  }
  times_.multiplier += elapsed_seconds(multiplier_begin_, multiplier_end_, multiplier_timed_);
  comm_timed_ = multiplier_timed_ = false;
  const Index n = rows_;
  BackwardResult result;
  result.loss_sum = scalars_[0];
  const Index active = skip_ ? static_cast<Index>(count_[0]) : n;
  const bool compact = skip_ && active < n;
  result.backward_rows = active;

  // Backward; with several ranks each layer's gradient is reduced as soon as it is final.
  float* grad = dnet_.gradient();
  const Index parameters = dnet_.parameter_count();
  const auto& layers = dnet_.layers();
  std::function<void(std::size_t)> ready;
  if (device_comm_) {
    ready = [&](std::size_t i) {
      const DeviceDense& l = layers[i];
      float* bucket = grad + l.offset;
      if (sample_noise) kernels::squared_norm(bucket, l.parameter_count(), d_scalars_.data() + 1, stream);
      NS_CUDA_CHECK(cudaEventRecord(layer_ready_[i]->get(), stream));
      NS_CUDA_CHECK(cudaStreamWaitEvent(context_.communication(), layer_ready_[i]->get(), 0));
      NS_CUDA_CHECK(cudaEventRecord(bucket_begin_[i]->get(), context_.communication()));
      device_comm_->allreduce_sum_async(bucket, static_cast<std::size_t>(l.parameter_count()),
                                        context_.communication());
      NS_CUDA_CHECK(cudaEventRecord(bucket_end_[i]->get(), context_.communication()));
    };
  }
  dnet_.backward(d_output_grad_.data(), n, ready, compact ? d_index_.data() : nullptr, active);
  if (device_comm_) {
    NS_CUDA_CHECK(cudaEventRecord(comm_done_.get(), context_.communication()));
    NS_CUDA_CHECK(cudaStreamWaitEvent(stream, comm_done_.get(), 0));
    comm_timed_ = true;
    if (sample_noise) kernels::squared_norm(grad, parameters, d_scalars_.data() + 2, stream);
  }
  result.bytes_reduced = static_cast<double>(parameters * static_cast<Index>(sizeof(float)));
  return result;
}

void CudaExecutor::update_parameters(double lr, double l2) {
  cudaStream_t stream = context_.compute();
  float* velocity = nullptr;
  if (momentum_ != 0.0) {
    if (!velocity_used_) {
      d_velocity_.zero(stream);
      velocity_used_ = true;
    }
    velocity = d_velocity_.data();
  }
  kernels::sgd_update(dnet_.parameters(), dnet_.gradient(), velocity, dnet_.parameter_count(), static_cast<float>(lr),
                      static_cast<float>(momentum_), static_cast<float>(l2), stream);
  NS_CUDA_CHECK_LAUNCH("sgd_update");
}

std::vector<BlockDots> CudaExecutor::block_dots(std::span<const ParameterBlock> blocks) {
  cudaStream_t stream = context_.compute();
  d_block_dots_.reserve(3 * blocks.size());
  NS_CUDA_CHECK(cudaMemsetAsync(d_block_dots_.data(), 0, 3 * blocks.size() * sizeof(double), stream));
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    kernels::block_dots(dnet_.parameters() + blocks[k].offset, dnet_.gradient() + blocks[k].offset, blocks[k].size,
                        d_block_dots_.data() + 3 * k, stream);
  }
  NS_CUDA_CHECK_LAUNCH("block_dots");
  std::vector<double> sums(3 * blocks.size());
  wait(stream);  // behind the gradient's allreduce
  NS_CUDA_CHECK(cudaMemcpyAsync(sums.data(), d_block_dots_.data(), sums.size() * sizeof(double),
                                cudaMemcpyDeviceToHost, stream));
  settle(stream);
  std::vector<BlockDots> dots;
  for (std::size_t k = 0; k < blocks.size(); ++k) dots.push_back({sums[3 * k], sums[3 * k + 1], sums[3 * k + 2]});
  return dots;
}

void CudaExecutor::update_blocks(std::span<const ParameterBlock> blocks, std::span<const ScaleAdd> steps, double lr,
                                 double l2) {
  cudaStream_t stream = context_.compute();
  float* w = dnet_.parameters();
  const float* g = dnet_.gradient();
  const auto plain = [&](Index begin, Index end) {
    kernels::sgd_update(w + begin, g + begin, nullptr, end - begin, static_cast<float>(lr), 0.0f,
                        static_cast<float>(l2), stream);
  };
  Index done = 0;
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    plain(done, blocks[k].offset);
    kernels::scale_add(w + blocks[k].offset, g + blocks[k].offset, blocks[k].size, static_cast<float>(steps[k].a),
                       static_cast<float>(steps[k].b), stream);
    done = blocks[k].offset + blocks[k].size;
  }
  plain(done, dnet_.parameter_count());
  NS_CUDA_CHECK_LAUNCH("update_blocks");
}

GradientNorms CudaExecutor::gradient_norms() {
  cudaStream_t stream = context_.compute();
  NS_CUDA_CHECK(cudaMemcpyAsync(scalars_.data() + 1, d_scalars_.data() + 1, 2 * sizeof(double),
                                cudaMemcpyDeviceToHost, stream));
  wait(stream);
  return {scalars_[1], scalars_[2]};
}

ExecutorTimes CudaExecutor::take_times() {
  const ExecutorTimes times = times_;
  times_ = {};
  return times;
}

const DeviceDataset& CudaExecutor::on_device(const Dataset& data) {
  if (&data == &train_) return dtrain_;
  auto& cached = eval_sets_[&data];
  // Re-upload when the address now holds another set (tests build sets on the stack).
  if (!cached || cached->rows != data.rows || cached->cols != data.cols || cached->first_id != data.first_id) {
    cached = std::make_unique<DeviceDataset>();
    cached->upload(data);
  }
  return *cached;
}

LocalEvaluation CudaExecutor::evaluate(const Dataset& data, DualTerms* dual) {
  NS_CHECK(dual == nullptr || &data == &train_, "the dual terms are the training set's");
  cudaStream_t stream = context_.compute();
  wait(stream);  // the collectives queued before (the last step's allreduce); the pass itself has none
  const DeviceDataset& device_data = on_device(data);
  double* dual_sums = d_scalars_.data() + 4;  // Lagrangian, violated, slackness
  NS_CUDA_CHECK(cudaMemsetAsync(d_scalars_.data() + 3, 0, sizeof(double), stream));
  NS_CUDA_CHECK(cudaMemsetAsync(d_counts_.data(), 0, sizeof(unsigned long long), stream));
  if (dual != nullptr) NS_CUDA_CHECK(cudaMemsetAsync(dual_sums, 0, 3 * sizeof(double), stream));
  const Index chunk = dnet_.capacity();
  for (Index begin = 0; begin < data.rows; begin += chunk) {
    const Index n = std::min(chunk, data.rows - begin);
    const float* f = dnet_.forward(device_data.features.data() + begin * data.cols, n, Mode::kEval);
    dobj_->loss_and_errors(device_data, f, begin, n, d_scalars_.data() + 3, d_counts_.data());
    if (dual != nullptr) dobj_->dual_terms_sum(device_data, f, begin, n, dual_sums);
  }
  if (dual != nullptr) {
    double host[3];
    NS_CUDA_CHECK(cudaMemcpyAsync(host, dual_sums, sizeof host, cudaMemcpyDeviceToHost, stream));
    settle(stream);
    *dual = {host[0], host[1], host[2]};
  }
  const double loss = copy_back(d_scalars_.data() + 3, stream);
  return {static_cast<double>(data.rows), static_cast<double>(copy_back(d_counts_.data(), stream)), loss};
}

void CudaExecutor::forward_each_chunk(const Dataset& data, const ChunkVisitor<float>& visit) {
  wait(context_.compute());  // as evaluate()
  const DeviceDataset& device_data = on_device(data);
  const std::size_t last = dnet_.layers().size() - 1;
  const Index width = last == 0 ? dnet_.input_width() : dnet_.layers()[last - 1].outputs;
  Matrix<float> f, penultimate;
  std::vector<Index> rows;
  const Index chunk = dnet_.capacity();
  for (Index begin = 0; begin < data.rows; begin += chunk) {
    const Index n = std::min(chunk, data.rows - begin);
    const float* outputs = dnet_.forward(device_data.features.data() + begin * data.cols, n, Mode::kEval);
    f.resize(n, dnet_.output_width());
    penultimate.resize(n, width);
    NS_CUDA_CHECK(cudaMemcpyAsync(f.data(), outputs, static_cast<std::size_t>(f.size()) * sizeof(float),
                                  cudaMemcpyDeviceToHost, context_.compute()));
    NS_CUDA_CHECK(cudaMemcpyAsync(penultimate.data(), dnet_.activation(last),
                                  static_cast<std::size_t>(penultimate.size()) * sizeof(float), cudaMemcpyDeviceToHost,
                                  context_.compute()));
    settle(context_.compute());
    rows.resize(static_cast<std::size_t>(n));
    for (Index r = 0; r < n; ++r) rows[static_cast<std::size_t>(r)] = begin + r;
    visit(rows, f, penultimate);
  }
}

double CudaExecutor::squared_norm() {
  cudaStream_t stream = context_.compute();
  NS_CUDA_CHECK(cudaMemsetAsync(d_scalars_.data() + 2, 0, sizeof(double), stream));
  kernels::squared_norm(dnet_.parameters(), dnet_.parameter_count(), d_scalars_.data() + 2, stream);
  NS_CUDA_CHECK_LAUNCH("squared_norm");
  return read_back(d_scalars_.data() + 2, stream);
}

Index CudaExecutor::support_count() {
  cudaStream_t stream = context_.compute();
  NS_CUDA_CHECK(cudaMemsetAsync(d_counts_.data() + 1, 0, sizeof(unsigned long long), stream));
  dobj_->count_support(d_counts_.data() + 1);
  return static_cast<Index>(read_back(d_counts_.data() + 1, stream));
}

void CudaExecutor::sync_to_host() {
  wait_for_streams();
  auto& params = network_.mutable_parameters();
  NS_CUDA_CHECK(cudaMemcpy(params.data(), dnet_.parameters(), params.size() * sizeof(float), cudaMemcpyDeviceToHost));
  NS_CUDA_CHECK(cudaDeviceSynchronize());
  // Without momentum on the device the host's buffer is left as it is: the coordinate rule's round momentum
  // keeps its velocity there.
  if (velocity_used_) {
    host_velocity_.resize(params.size());
    d_velocity_.download(host_velocity_);
  }
  if (dnet_.has_batch_norm()) {
    std::vector<float> state(static_cast<std::size_t>(dnet_.state_size()));
    NS_CUDA_CHECK(cudaMemcpy(state.data(), dnet_.state(), state.size() * sizeof(float), cudaMemcpyDeviceToHost));
    network_.set_layer_state(state);
  }
  if (MultiplierStore* store = objective_.multipliers()) dobj_->store_multipliers(*store);
}

void CudaExecutor::load_from_host() {
  wait_for_streams();
  const auto& params = network_.parameters();
  NS_CUDA_CHECK(cudaMemcpy(dnet_.parameters(), params.data(), params.size() * sizeof(float), cudaMemcpyHostToDevice));
  NS_CUDA_CHECK(cudaDeviceSynchronize());
  velocity_used_ = false;
  if (momentum_ != 0.0 && host_velocity_.size() == params.size()) {
    NS_CUDA_CHECK(cudaMemcpy(d_velocity_.data(), host_velocity_.data(), params.size() * sizeof(float),
                             cudaMemcpyHostToDevice));
    NS_CUDA_CHECK(cudaDeviceSynchronize());
    velocity_used_ = true;
  }
  if (dnet_.has_batch_norm()) {
    const std::vector<float> state = network_.layer_state();
    NS_CHECK(static_cast<Index>(state.size()) == dnet_.state_size(),
             "the host network keeps {} batch-norm statistics, the device {}", state.size(), dnet_.state_size());
    NS_CUDA_CHECK(cudaMemcpy(dnet_.state(), state.data(), state.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  if (const MultiplierStore* store = objective_.multipliers()) dobj_->load_multipliers(*store);
}

}  // namespace

CudaTrainer::CudaTrainer(const TrainerOptions& options, const CudaEngineOptions& cuda, Communicator& comm,
                         const Dataset& train, Index total_examples, Network<float>& network,
                         Objective<float>& objective)
    : Trainer<float>(options, comm, train, total_examples, network, objective,
                     std::make_unique<CudaExecutor>(options, cuda, comm, train, network, objective)) {
  load_from_host();
}

}  // namespace normscale
