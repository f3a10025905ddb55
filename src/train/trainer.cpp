// One training step and the whole-data-set evaluations, distributed through the Communicator.
#include "normscale/train/trainer.hpp"

#include "normscale/core/error.hpp"
#include "normscale/train/config.hpp"

#include <chrono>

namespace normscale {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
constexpr Index kEvalChunk = 4096;
constexpr Index kNoiseScaleEvery = 8;

template <class T>
double squared_norm(const std::vector<T>& v) {
  return Eigen::Map<const Vector<T>>(v.data(), static_cast<Index>(v.size())).template cast<double>().squaredNorm();
}

}  // namespace

template <class T>
Trainer<T>::Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train,
                    Index total_examples, Network<T>& network, Objective<T>& objective)
    : options_(options), comm_(comm), train_(train), total_examples_(total_examples),
      batch_(options.batch == kFullBatch ? total_examples : options.batch), network_(network),
      objective_(objective), optimizer_(options.lr, options.momentum),
      sampler_(total_examples, options.virtual_shards, batch_, options.seed,
               comm.rank() * options.virtual_shards / comm.size(),
               (comm.rank() + 1) * options.virtual_shards / comm.size()) {
  NS_CHECK(options.virtual_shards % comm.size() == 0,
           "virtual_shards = {} is not divisible by the {} ranks; choose a rank count that divides it",
           options.virtual_shards, comm.size());
  const ShardRange owned =
      DataShard{comm.rank(), comm.size(), options.virtual_shards}.rows_of(total_examples);
  NS_CHECK(train.first_id == owned.begin && train.rows == owned.size(),
           "rank {} holds training rows [{}, {}) but owns virtual shards covering [{}, {})", comm.rank(),
           train.first_id, train.first_id + train.rows, owned.begin, owned.end);
  can_skip_ = options.skip_inactive_examples && network.rows_independent();
  warmup_steps_ = options.warmup_epochs > 0 ? sampler_.steps_for_epochs(options.warmup_epochs) : 0;
}

template <class T>
void Trainer<T>::gather(const std::vector<Index>& rows, Matrix<T>& x) const {
  x.resize(static_cast<Index>(rows.size()), train_.cols);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    x.row(static_cast<Index>(k)) =
        ConstMatrixMap<float>(train_.row(rows[k]), 1, train_.cols).template cast<T>();
  }
}

template <class T>
StepStats Trainer<T>::step() {
  StepStats stats;
  const auto start = Clock::now();
  const bool full = sampler_.full_batch();
  // Full batch visits the same rows every step: gather them once.
  if (!full || rows_.empty()) {
    rows_ = sampler_.batch(step_);
    for (Index& id : rows_) id -= train_.first_id;
    gather(rows_, x_);
  }
  const Matrix<T>& f = network_.forward(x_, Mode::kTrain);

  double multiplier_seconds = 0.0;
  if (multiplier_update_pending_) {
    // Same examples, same weights as the exact update of the previous step would have used.
    const auto t = Clock::now();
    objective_.update_multipliers(train_, rows_, f);
    multiplier_update_pending_ = false;
    multiplier_seconds += seconds_since(t);
  }

  const bool minnorm = objective_.is_minnorm();
  const double scale = minnorm ? (options_.unbiased_estimator
                                      ? static_cast<double>(total_examples_) / static_cast<double>(batch_)
                                      : 1.0)
                               : 1.0 / static_cast<double>(batch_);
  objective_.output_gradient(train_, rows_, f, static_cast<T>(scale), output_grad_);
  double scalars[2] = {objective_.loss_sum(train_, rows_, f), 0.0};
  // Which rows have a nonzero output gradient: decided with the multipliers that made output_grad_,
  // before the lagged update below changes them.
  active_.clear();
  if (can_skip_) {
    for (std::size_t k = 0; k < rows_.size(); ++k) {
      if (!objective_.gradient_is_zero(train_.first_id + rows_[k])) active_.push_back(static_cast<Index>(k));
    }
  }
  if (minnorm && !options_.exact_multiplier_update) {
    const auto t = Clock::now();
    objective_.update_multipliers(train_, rows_, f);
    multiplier_seconds += seconds_since(t);
  }
  backward_active_rows();
  stats.compute_seconds = seconds_since(start) - multiplier_seconds;

  auto& grad = network_.gradient();
  // Gradient noise scale (McCandlish et al.): |g|^2 of the per-rank and the global mean data gradient,
  // sampled every kNoiseScaleEvery steps (two extra dot products) when there are several ranks.
  const bool sample_noise = comm_.size() > 1 && step_ % kNoiseScaleEvery == 0;
  const double local_rows = static_cast<double>(rows_.size());
  if (sample_noise && local_rows > 0) {
    const double norm = scale * local_rows;
    scalars[1] = squared_norm(grad) / (norm * norm);
  }
  const auto comm_start = Clock::now();
  comm_.allreduce_sum(std::span<T>(grad.data(), grad.size()));
  comm_.allreduce_sum(std::span<double>(scalars, 2));
  stats.comm_seconds = seconds_since(comm_start);
  stats.bytes_reduced = static_cast<double>(grad.size() * sizeof(T) + sizeof(scalars));
  if (sample_noise) {
    const double norm = scale * static_cast<double>(batch_);
    stats.small_batch = static_cast<double>(batch_) / comm_.size();
    stats.small_batch_grad_sq = scalars[1] / comm_.size();
    stats.big_batch_grad_sq = squared_norm(grad) / (norm * norm);
  }

  const auto update_start = Clock::now();
  // The norm term enters once, after the reduction: Minnorm's 1/2 sum ||W||^2, or weight decay.
  const double l2 = minnorm ? 1.0 : decay_at(options_.weight_decay, options_.decay_power, step_);
  optimizer_.set_lr(options_.lr * warmup_factor(step_, warmup_steps_));
  optimizer_.step(network_.parameters(), grad, l2);
  stats.compute_seconds += seconds_since(update_start);

  if (minnorm && options_.exact_multiplier_update) {
    if (full) {
      multiplier_update_pending_ = true;  // fused into the next step's forward pass
    } else {
      const auto t = Clock::now();
      outputs_new_ = network_.forward(x_, Mode::kTrain);
      objective_.update_multipliers(train_, rows_, outputs_new_);
      multiplier_seconds += seconds_since(t);
    }
  }
  stats.multiplier_seconds = multiplier_seconds;
  stats.loss_sum = scalars[0];
  stats.examples = batch_;
  ++step_;
  return stats;
}

template <class T>
void Trainer<T>::backward_active_rows() {
  const bool skip = can_skip_ && active_.size() < rows_.size();
  last_backward_rows_ = static_cast<Index>(skip ? active_.size() : rows_.size());
  if (!skip) {
    network_.backward(output_grad_);
    return;
  }
  // Support-vector skipping (ALGORITHMS §1): the zero rows contribute nothing to the weight gradient.
  const Index n = static_cast<Index>(active_.size());
  active_grad_.resize(n, output_grad_.cols());
  for (Index k = 0; k < n; ++k) active_grad_.row(k) = output_grad_.row(active_[static_cast<std::size_t>(k)]);
  network_.backward_rows(active_grad_, active_);
}

template <class T>
void Trainer<T>::restore(Index step) {
  step_ = step;
  multiplier_update_pending_ = false;
  rows_.clear();
}

template <class T>
void Trainer<T>::flush_multipliers() {
  if (!multiplier_update_pending_) return;
  objective_.update_multipliers(train_, rows_, network_.forward(x_, Mode::kTrain));
  multiplier_update_pending_ = false;
}

template <class T>
template <class Visit>
void Trainer<T>::forward_chunks(const Dataset& data, Visit&& visit) {
  Matrix<T> x;
  std::vector<Index> rows;
  for (Index begin = 0; begin < data.rows; begin += kEvalChunk) {
    const Index end = std::min(data.rows, begin + kEvalChunk);
    rows.resize(static_cast<std::size_t>(end - begin));
    for (Index r = begin; r < end; ++r) rows[static_cast<std::size_t>(r - begin)] = r;
    x = ConstMatrixMap<float>(data.row(begin), end - begin, data.cols).template cast<T>();
    visit(rows, network_.forward(x, Mode::kEval));
  }
}

template <class T>
void Trainer<T>::forward_each_chunk(const Dataset& data, const typename TrainingEngine<T>::ChunkVisitor& visit) {
  const std::size_t last = network_.layer_count() - 1;
  forward_chunks(data, [&](const std::vector<Index>& rows, const Matrix<T>& f) {
    visit(rows, f, network_.activation(last));
  });
}

template <class T>
EvalStats Trainer<T>::evaluate(const Dataset& data) {
  double sums[3] = {0.0, 0.0, 0.0};  // count, errors, loss
  forward_chunks(data, [&](const std::vector<Index>& rows, const Matrix<T>& f) {
    sums[0] += static_cast<double>(rows.size());
    sums[1] += static_cast<double>(count_errors(data, rows, f));
    sums[2] += objective_.loss_sum(data, rows, f);
  });
  comm_.allreduce_sum(std::span<double>(sums, 3));
  return {static_cast<Index>(sums[0]), static_cast<Index>(sums[1]), sums[2]};
}

template <class T>
double Trainer<T>::lagrangian() {
  flush_multipliers();
  double data_sum = 0.0;
  forward_chunks(train_, [&](const std::vector<Index>& rows, const Matrix<T>& f) {
    data_sum += objective_.lagrangian_data_sum(train_, rows, f);
  });
  comm_.allreduce_sum(std::span<double>(&data_sum, 1));
  return 0.5 * network_.squared_norm() + data_sum;
}

template <class T>
Index Trainer<T>::support_count() {
  flush_multipliers();
  const MultiplierStore* store = objective_.multipliers();
  double count = store != nullptr ? static_cast<double>(store->support_count()) : 0.0;
  comm_.allreduce_sum(std::span<double>(&count, 1));
  return static_cast<Index>(count);
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace normscale
