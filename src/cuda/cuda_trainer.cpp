// CudaTrainer: Trainer<float>::step on the GPU. One host synchronisation per step (the loss sum and
// the support-vector count come back together); everything else stays on the device. Batch norm runs
// in training mode wherever Trainer<float> uses Mode::kTrain (the step, the exact multiplier update,
// the flush) and in eval mode for evaluations and the Lagrangian; under sync-bn its sums go over the
// same NCCL communicator and stream as the gradient buckets, so every rank issues them in one order.
#include "normscale/cuda/cuda_trainer.hpp"

#include "cuda/check.hpp"
#include "cuda/kernels.hpp"
#include "normscale/cuda/device.hpp"
#include "normscale/cuda/device_network.hpp"
#include "normscale/cuda/device_objective.hpp"
#include "normscale/cuda/nccl_comm.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/optim/sgd.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/sampler.hpp"

#include <algorithm>
#include <chrono>
#include <map>

namespace normscale {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
constexpr Index kEvalChunk = 8192;
constexpr Index kNoiseScaleEvery = 8;  // as Trainer<T>

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

}  // namespace

struct CudaTrainer::State {
  State(const TrainerOptions& o, const CudaEngineOptions& cuda, Communicator& c, const Dataset& t, Index total,
        Network<float>& net, Objective<float>& obj)
      : options(o), comm(c), train(t), total_examples(total), batch(o.batch == kFullBatch ? total : o.batch),
        network(net), objective(obj), device(select_device_for(c)), context(cuda.tf32), dnet(net, context),
        dobj(obj, t, net.output_width(), context),
        sampler(total, o.virtual_shards, batch, o.seed, c.rank() * o.virtual_shards / c.size(),
                (c.rank() + 1) * o.virtual_shards / c.size()),
        warmup_steps(o.warmup_epochs > 0 ? sampler.steps_for_epochs(o.warmup_epochs) : 0),
        scalars(4), count(1), comm_begin(true), comm_end(true), multiplier_begin(true), multiplier_end(true) {}

  TrainerOptions options;
  Communicator& comm;
  const Dataset& train;
  Index total_examples;
  Index batch;
  Network<float>& network;
  Objective<float>& objective;
  int device;
  CudaContext context;
  DeviceNetwork dnet;
  DeviceObjective dobj;
  MinibatchSampler sampler;
  Index warmup_steps;  // options.warmup_epochs in steps (0: no warmup)
  std::unique_ptr<NcclComm> nccl;
  DeviceDataset dtrain;
  std::map<const Dataset*, std::unique_ptr<DeviceDataset>> eval_sets;

  Index step = 0;
  bool pending_update = false;
  bool velocity_used = false;
  std::vector<float> host_velocity;
  std::vector<std::int32_t> host_rows;
  Index rows = 0;            // rows of the current batch on this rank
  Index backward_rows = 0;   // rows in the last backward pass
  DeviceBuffer<std::int32_t> d_rows, d_active, d_index, d_count;
  DeviceBuffer<float> d_x, d_output_grad, d_velocity;
  DeviceBuffer<double> d_scalars;              // loss, local |g|^2, global |g|^2, Lagrangian / eval loss
  DeviceBuffer<unsigned long long> d_counts;   // errors, support
  PinnedArray<double> scalars;
  PinnedArray<std::int32_t> count;
  std::vector<std::unique_ptr<Event>> layer_ready;
  Event comm_done;
  Event statistics_ready, statistics_reduced;  // sync-bn sums: compute -> communication -> compute
  Event comm_begin, comm_end, multiplier_begin, multiplier_end;  // timing
  bool comm_timed = false, multiplier_timed = false;
};

CudaTrainer::CudaTrainer(const TrainerOptions& options, const CudaEngineOptions& cuda, Communicator& comm,
                         const Dataset& train, Index total_examples, Network<float>& network,
                         Objective<float>& objective) {
  NS_CHECK(options.virtual_shards % comm.size() == 0,
           "virtual_shards = {} is not divisible by the {} ranks; choose a rank count that divides it",
           options.virtual_shards, comm.size());
  const ShardRange owned = DataShard{comm.rank(), comm.size(), options.virtual_shards}.rows_of(total_examples);
  NS_CHECK(train.first_id == owned.begin && train.rows == owned.size(),
           "rank {} holds training rows [{}, {}) but owns virtual shards covering [{}, {})", comm.rank(),
           train.first_id, train.first_id + train.rows, owned.begin, owned.end);
  NS_CHECK(train.rows * std::max<Index>(train.cols, 1) < (Index{1} << 31) && train.rows < (Index{1} << 31),
           "device = \"cuda\": this rank's training shard ({} x {}) is too large for 32-bit row indices; use more ranks",
           train.rows, train.cols);
  state_ = std::make_unique<State>(options, cuda, comm, train, total_examples, network, objective);
  State& s = *state_;
  if (comm.size() > 1) s.nccl = std::make_unique<NcclComm>(comm);
  s.dtrain.upload(train);
  const Index local_batch = std::min(s.batch, train.rows);
  s.dnet.reserve(std::max<Index>({local_batch, std::min(kEvalChunk, std::max<Index>(train.rows, 1)), 1}));
  const auto capacity = static_cast<std::size_t>(std::max<Index>(local_batch, 1));
  s.d_rows.resize(capacity);
  s.d_active.resize(capacity);
  s.d_index.resize(capacity);
  s.d_count.resize(1);
  s.d_x.resize(capacity * static_cast<std::size_t>(train.cols));
  s.d_output_grad.resize(capacity * static_cast<std::size_t>(network.output_width()));
  s.d_scalars.resize(4);
  s.d_counts.resize(2);
  if (options.momentum != 0.0) s.d_velocity.resize(static_cast<std::size_t>(network.parameter_count()));
  for (std::size_t i = 0; i < s.dnet.layers().size(); ++i) s.layer_ready.push_back(std::make_unique<Event>());
  if (s.nccl) {
    // Sync-bn: the statistics are summed on the communication stream, behind any gradient bucket
    // already queued there (one NCCL communicator, one stream, the same order on every rank).
    s.dnet.set_statistics_reducer([&s](double* values, std::size_t count) {
      cudaStream_t compute = s.context.compute();
      cudaStream_t communication = s.context.communication();
      NS_CUDA_CHECK(cudaEventRecord(s.statistics_ready.get(), compute));
      NS_CUDA_CHECK(cudaStreamWaitEvent(communication, s.statistics_ready.get(), 0));
      s.nccl->allreduce_sum_async(values, count, communication);
      NS_CUDA_CHECK(cudaEventRecord(s.statistics_reduced.get(), communication));
      NS_CUDA_CHECK(cudaStreamWaitEvent(compute, s.statistics_reduced.get(), 0));
    });
  }
  load_from_host();
}

CudaTrainer::~CudaTrainer() {
  if (state_) cudaStreamSynchronize(state_->context.compute());
}

std::string CudaTrainer::device() const {
  return fmt::format("cuda:{} ({})", state_->device, cuda_device_name(state_->device));
}

Index CudaTrainer::steps_done() const { return state_->step; }
Index CudaTrainer::global_batch() const { return state_->batch; }
double CudaTrainer::epochs_done() const { return state_->sampler.epochs(state_->step); }
Index CudaTrainer::steps_for_epochs(double epochs) const { return state_->sampler.steps_for_epochs(epochs); }
std::vector<float>& CudaTrainer::velocity() { return state_->host_velocity; }
Index CudaTrainer::last_backward_rows() const { return state_->backward_rows; }

StepStats CudaTrainer::step() {
  State& s = *state_;
  StepStats stats;
  const auto start = Clock::now();
  cudaStream_t stream = s.context.compute();
  const bool full = s.sampler.full_batch();
  const bool minnorm = s.dobj.is_minnorm();

  // Rows of this step: computed on the host (small), gathered on the device from the resident shard.
  if (!full || s.host_rows.empty()) {
    const std::vector<Index> ids = s.sampler.batch(s.step);
    s.host_rows.resize(ids.size());
    for (std::size_t k = 0; k < ids.size(); ++k) s.host_rows[k] = static_cast<std::int32_t>(ids[k] - s.train.first_id);
    s.rows = static_cast<Index>(ids.size());
    if (s.rows > 0) {
      NS_CUDA_CHECK(cudaMemcpyAsync(s.d_rows.data(), s.host_rows.data(), ids.size() * sizeof(std::int32_t),
                                    cudaMemcpyHostToDevice, stream));
      kernels::gather_rows(s.dtrain.features.data(), s.dtrain.cols, s.d_rows.data(), s.rows, s.d_x.data(), stream);
      NS_CUDA_CHECK_LAUNCH("gather_rows");
    }
  }
  const Index n = s.rows;
  const float* f = s.dnet.forward(s.d_x.data(), n);

  if (s.pending_update) {
    // Same examples and weights as the previous step's exact update would have used.
    s.dobj.update_multipliers(s.dtrain, f, s.d_rows.data(), n);
    s.pending_update = false;
  }

  const double scale = minnorm ? (s.options.unbiased_estimator
                                      ? static_cast<double>(s.total_examples) / static_cast<double>(s.batch)
                                      : 1.0)
                               : 1.0 / static_cast<double>(s.batch);
  const bool lagged = minnorm && !s.options.exact_multiplier_update;
  // Batch norm couples the rows: an inactive row still has an input gradient, so no skip with it.
  const bool skip = s.dobj.skips_inactive() && !s.dnet.has_batch_norm();
  NS_CUDA_CHECK(cudaMemsetAsync(s.d_scalars.data(), 0, 4 * sizeof(double), stream));
  s.dobj.output_gradient(s.dtrain, f, s.d_rows.data(), n, static_cast<float>(scale), s.d_output_grad.data(),
                         s.d_scalars.data(), skip ? s.d_active.data() : nullptr, lagged);
  if (skip && n > 0) {
    kernels::compact_flags(s.d_active.data(), n, s.d_index.data(), s.d_count.data(), stream);
    NS_CUDA_CHECK_LAUNCH("compact_flags");
    NS_CUDA_CHECK(cudaMemcpyAsync(s.count.data(), s.d_count.data(), sizeof(std::int32_t), cudaMemcpyDeviceToHost,
                                  stream));
  }
  NS_CUDA_CHECK(cudaMemcpyAsync(s.scalars.data(), s.d_scalars.data(), sizeof(double), cudaMemcpyDeviceToHost, stream));
  // The one synchronisation of the step. The previous step's timing events are complete too.
  NS_CUDA_CHECK(cudaStreamSynchronize(stream));
  stats.comm_seconds = elapsed_seconds(s.comm_begin, s.comm_end, s.comm_timed);
  stats.multiplier_seconds = elapsed_seconds(s.multiplier_begin, s.multiplier_end, s.multiplier_timed);
  s.comm_timed = s.multiplier_timed = false;
  double host_scalars[2] = {s.scalars[0], 0.0};
  const Index active = skip && n > 0 ? static_cast<Index>(s.count[0]) : n;
  const bool compact = skip && active < n;
  s.backward_rows = active;

  // Backward; with several ranks each layer's gradient goes to NCCL as soon as it is final.
  const bool sample_noise = s.comm.size() > 1 && s.step % kNoiseScaleEvery == 0;
  float* grad = s.dnet.gradient();
  const Index parameters = s.dnet.parameter_count();
  const auto& layers = s.dnet.layers();
  std::function<void(std::size_t)> ready;
  if (s.nccl) {
    ready = [&](std::size_t i) {
      const DeviceDense& l = layers[i];
      float* bucket = grad + l.offset;
      if (sample_noise) kernels::squared_norm(bucket, l.parameter_count(), s.d_scalars.data() + 1, stream);
      NS_CUDA_CHECK(cudaEventRecord(s.layer_ready[i]->get(), stream));
      NS_CUDA_CHECK(cudaStreamWaitEvent(s.context.communication(), s.layer_ready[i]->get(), 0));
      if (i + 1 == layers.size()) NS_CUDA_CHECK(cudaEventRecord(s.comm_begin.get(), s.context.communication()));
      s.nccl->allreduce_sum_async(bucket, static_cast<std::size_t>(l.parameter_count()), s.context.communication());
    };
  }
  s.dnet.backward(s.d_output_grad.data(), n, ready, compact ? s.d_index.data() : nullptr, active);
  if (s.nccl) {
    NS_CUDA_CHECK(cudaEventRecord(s.comm_end.get(), s.context.communication()));
    NS_CUDA_CHECK(cudaEventRecord(s.comm_done.get(), s.context.communication()));
    NS_CUDA_CHECK(cudaStreamWaitEvent(stream, s.comm_done.get(), 0));
    s.comm_timed = true;
    if (sample_noise) kernels::squared_norm(grad, parameters, s.d_scalars.data() + 2, stream);
  }

  // The norm term once, after the reduction, then the fused SGD update.
  const double l2 = minnorm ? 1.0 : decay_at(s.options.weight_decay, s.options.decay_power, s.step);
  float* velocity = nullptr;
  if (s.options.momentum != 0.0) {
    if (!s.velocity_used) {
      s.d_velocity.zero(stream);
      s.velocity_used = true;
    }
    velocity = s.d_velocity.data();
  }
  const double lr = s.options.lr * warmup_factor(s.step, s.warmup_steps);
  kernels::sgd_update(s.dnet.parameters(), grad, velocity, parameters, static_cast<float>(lr),
                      static_cast<float>(s.options.momentum), static_cast<float>(l2), stream);
  NS_CUDA_CHECK_LAUNCH("sgd_update");

  if (minnorm && s.options.exact_multiplier_update) {
    if (full) {
      s.pending_update = true;  // fused into the next step's forward pass
    } else {
      NS_CUDA_CHECK(cudaEventRecord(s.multiplier_begin.get(), stream));
      const float* f_new = s.dnet.forward(s.d_x.data(), n);
      s.dobj.update_multipliers(s.dtrain, f_new, s.d_rows.data(), n);
      NS_CUDA_CHECK(cudaEventRecord(s.multiplier_end.get(), stream));
      s.multiplier_timed = true;
    }
  }

  // The scalars over the run's communicator while the device works.
  const auto comm_start = Clock::now();
  if (sample_noise) {
    NS_CUDA_CHECK(cudaMemcpyAsync(s.scalars.data() + 1, s.d_scalars.data() + 1, 2 * sizeof(double),
                                  cudaMemcpyDeviceToHost, stream));
    NS_CUDA_CHECK(cudaStreamSynchronize(stream));
    const double local_rows = static_cast<double>(n);
    if (local_rows > 0) {
      const double norm = scale * local_rows;
      host_scalars[1] = s.scalars[1] / (norm * norm);
    }
  }
  s.comm.allreduce_sum(std::span<double>(host_scalars, 2));
  stats.comm_seconds += seconds_since(comm_start);
  if (sample_noise) {
    const double norm = scale * static_cast<double>(s.batch);
    stats.small_batch = static_cast<double>(s.batch) / s.comm.size();
    stats.small_batch_grad_sq = host_scalars[1] / s.comm.size();
    stats.big_batch_grad_sq = s.scalars[2] / (norm * norm);
  }
  stats.bytes_reduced = static_cast<double>(parameters * static_cast<Index>(sizeof(float)) + 2 * sizeof(double));
  stats.compute_seconds = std::max(0.0, seconds_since(start) - stats.comm_seconds - stats.multiplier_seconds);
  stats.loss_sum = host_scalars[0];
  stats.examples = s.batch;
  ++s.step;
  return stats;
}

void CudaTrainer::restore(Index step) {
  State& s = *state_;
  s.step = step;
  s.pending_update = false;
  s.host_rows.clear();
  s.rows = 0;
}

void CudaTrainer::flush_multipliers() {
  State& s = *state_;
  if (!s.pending_update) return;
  const float* f = s.dnet.forward(s.d_x.data(), s.rows);
  s.dobj.update_multipliers(s.dtrain, f, s.d_rows.data(), s.rows);
  s.pending_update = false;
}

EvalStats CudaTrainer::evaluate(const Dataset& data) {
  State& s = *state_;
  const DeviceDataset* device_data = &s.dtrain;
  if (&data != &s.train) {
    auto& cached = s.eval_sets[&data];
    // Re-upload when the address now holds another set (tests build sets on the stack).
    if (!cached || cached->rows != data.rows || cached->cols != data.cols || cached->first_id != data.first_id) {
      cached = std::make_unique<DeviceDataset>();
      cached->upload(data);
    }
    device_data = cached.get();
  }
  cudaStream_t stream = s.context.compute();
  NS_CUDA_CHECK(cudaMemsetAsync(s.d_scalars.data() + 3, 0, sizeof(double), stream));
  NS_CUDA_CHECK(cudaMemsetAsync(s.d_counts.data(), 0, sizeof(unsigned long long), stream));
  const Index chunk = s.dnet.capacity();
  for (Index begin = 0; begin < data.rows; begin += chunk) {
    const Index n = std::min(chunk, data.rows - begin);
    const float* f = s.dnet.forward(device_data->features.data() + begin * data.cols, n, Mode::kEval);
    s.dobj.loss_and_errors(*device_data, f, begin, n, s.d_scalars.data() + 3, s.d_counts.data());
  }
  double loss = 0.0;
  unsigned long long errors = 0;
  NS_CUDA_CHECK(cudaMemcpyAsync(&loss, s.d_scalars.data() + 3, sizeof(double), cudaMemcpyDeviceToHost, stream));
  NS_CUDA_CHECK(cudaMemcpyAsync(&errors, s.d_counts.data(), sizeof(errors), cudaMemcpyDeviceToHost, stream));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream));
  double sums[3] = {static_cast<double>(data.rows), static_cast<double>(errors), loss};
  s.comm.allreduce_sum(std::span<double>(sums, 3));
  return {static_cast<Index>(sums[0]), static_cast<Index>(sums[1]), sums[2]};
}

double CudaTrainer::lagrangian() {
  State& s = *state_;
  flush_multipliers();
  cudaStream_t stream = s.context.compute();
  NS_CUDA_CHECK(cudaMemsetAsync(s.d_scalars.data() + 2, 0, 2 * sizeof(double), stream));
  const Index chunk = s.dnet.capacity();
  for (Index begin = 0; begin < s.train.rows; begin += chunk) {
    const Index n = std::min(chunk, s.train.rows - begin);
    const float* f = s.dnet.forward(s.dtrain.features.data() + begin * s.train.cols, n, Mode::kEval);
    s.dobj.lagrangian_data_sum(s.dtrain, f, begin, n, s.d_scalars.data() + 3);
  }
  kernels::squared_norm(s.dnet.parameters(), s.dnet.parameter_count(), s.d_scalars.data() + 2, stream);
  NS_CUDA_CHECK_LAUNCH("squared_norm");
  double sums[2] = {0.0, 0.0};
  NS_CUDA_CHECK(cudaMemcpyAsync(sums, s.d_scalars.data() + 2, 2 * sizeof(double), cudaMemcpyDeviceToHost, stream));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream));
  double data_sum = sums[1];
  s.comm.allreduce_sum(std::span<double>(&data_sum, 1));
  return 0.5 * sums[0] + data_sum;
}

Index CudaTrainer::support_count() {
  State& s = *state_;
  flush_multipliers();
  cudaStream_t stream = s.context.compute();
  NS_CUDA_CHECK(cudaMemsetAsync(s.d_counts.data() + 1, 0, sizeof(unsigned long long), stream));
  s.dobj.count_support(s.d_counts.data() + 1);
  unsigned long long local = 0;
  NS_CUDA_CHECK(cudaMemcpyAsync(&local, s.d_counts.data() + 1, sizeof(local), cudaMemcpyDeviceToHost, stream));
  NS_CUDA_CHECK(cudaStreamSynchronize(stream));
  double count = static_cast<double>(local);
  s.comm.allreduce_sum(std::span<double>(&count, 1));
  return static_cast<Index>(count);
}

void CudaTrainer::sync_to_host() {
  State& s = *state_;
  s.context.synchronize();
  auto& params = s.network.parameters();
  NS_CUDA_CHECK(cudaMemcpy(params.data(), s.dnet.parameters(), params.size() * sizeof(float), cudaMemcpyDeviceToHost));
  NS_CUDA_CHECK(cudaDeviceSynchronize());
  if (s.velocity_used) {
    s.host_velocity.resize(params.size());
    s.d_velocity.download(s.host_velocity);
  } else {
    s.host_velocity.clear();
  }
  if (s.dnet.has_batch_norm()) {
    std::vector<float> state(static_cast<std::size_t>(s.dnet.state_size()));
    NS_CUDA_CHECK(cudaMemcpy(state.data(), s.dnet.state(), state.size() * sizeof(float), cudaMemcpyDeviceToHost));
    s.network.set_layer_state(state);
  }
  if (MultiplierStore* store = s.objective.multipliers()) s.dobj.store_multipliers(*store);
}

void CudaTrainer::load_from_host() {
  State& s = *state_;
  s.context.synchronize();
  const auto& params = s.network.parameters();
  NS_CUDA_CHECK(cudaMemcpy(s.dnet.parameters(), params.data(), params.size() * sizeof(float), cudaMemcpyHostToDevice));
  NS_CUDA_CHECK(cudaDeviceSynchronize());
  s.velocity_used = false;
  if (s.options.momentum != 0.0 && s.host_velocity.size() == params.size()) {
    NS_CUDA_CHECK(cudaMemcpy(s.d_velocity.data(), s.host_velocity.data(), params.size() * sizeof(float),
                             cudaMemcpyHostToDevice));
    NS_CUDA_CHECK(cudaDeviceSynchronize());
    s.velocity_used = true;
  }
  if (s.dnet.has_batch_norm()) {
    const std::vector<float> state = s.network.layer_state();
    NS_CHECK(static_cast<Index>(state.size()) == s.dnet.state_size(),
             "the host network keeps {} batch-norm statistics, the device {}", state.size(), s.dnet.state_size());
    NS_CUDA_CHECK(cudaMemcpy(s.dnet.state(), state.data(), state.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  if (const MultiplierStore* store = s.objective.multipliers()) s.dobj.load_multipliers(*store);
}

}  // namespace normscale
