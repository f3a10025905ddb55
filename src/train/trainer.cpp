// The training step and the whole-data-set evaluations, written once over a StepExecutor; every
// collective over the run's Communicator is issued here, in the same order on every rank.
#include "normscale/train/trainer.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/stopwatch.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/metrics/noise_scale.hpp"
#include "normscale/optim/optim_config.hpp"
#include "normscale/optim/sgd.hpp"
#include "normscale/train/cpu_executor.hpp"

#include <algorithm>

namespace normscale {

namespace {

// Steps between two samples of the gradient noise scale (two extra squared norms and a scalar reduction).
constexpr Index kNoiseScaleEvery = 8;

// Q: optim.batch, or under the coordinate rule the examples of one of its rounds.
template <class T>
Index batch_of(const TrainerOptions& options, const Objective<T>& objective, Index total_examples) {
  if (const Index round = coordinate_round_size(objective, options.virtual_shards, total_examples)) return round;
  return options.batch == kFullBatch ? total_examples : options.batch;
}

// Error and loss from their sums over ranks {count, errors, loss}.
EvalStats eval_stats(const double* sums) {
  return {static_cast<Index>(sums[0]), static_cast<Index>(sums[1]), sums[2]};
}

}  // namespace

template <class T>
Trainer<T>::Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train, Index total_examples,
                    Network<T>& network, Objective<T>& objective)
    : Trainer(options, comm, train, total_examples, network, objective,
              std::make_unique<CpuExecutor<T>>(options.momentum, comm, train, network, objective)) {}

template <class T>
Trainer<T>::Trainer(const TrainerOptions& options, Communicator& comm, const Dataset& train, Index total_examples,
                    Network<T>& network, Objective<T>& objective, std::unique_ptr<StepExecutor<T>> executor)
    : options_(options), comm_(comm), train_(train), total_examples_(total_examples),
      batch_(batch_of(options, objective, total_examples)), traits_(objective.traits()),
      executor_(std::move(executor)),
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
  can_skip_ = options.skip_inactive_examples && traits_.sparse_gradient && network.rows_independent();
  warmup_steps_ = options.warmup_epochs > 0 ? sampler_.steps_for_epochs(options.warmup_epochs) : 0;
  if (options.normalization != WeightNormalization::kNone) {
    NS_CHECK(options.momentum == 0.0 && options.weight_decay == 0.0 && traits_.norm_term != NormTerm::kHalfSquaredNorm,
             "optim.normalization (lagrange or tangent) takes its own steps in rho and V: it needs "
             "optim.momentum = 0 and optim.weight_decay = 0 (got {} and {}) and an objective without a norm term "
             "(got {})",
             options.momentum, options.weight_decay, objective.name());
    normalized_blocks_ = weight_blocks(network);
  }
  coordinate_ = CoordinateAscent<T>::make(comm, train, total_examples, options.virtual_shards, network, objective);
}

template <class T>
StepStats Trainer<T>::step() {
  if (coordinate_) {
    // A full round visits each block in a fresh random order (as liblinear's passes), a partial one the
    // block's next examples of its stream.
    const std::vector<Index> rows = sampler_.full_batch() ? sampler_.shuffled_pass(step_) : sampler_.batch(step_);
    // The pass is sequential per example, so a GPU rank runs it on the host: its weights and multipliers
    // come down before the round and go back up after it (a no-op on CPU ranks).
    executor_->sync_to_host();
    StepStats stats = coordinate_->round(step_, rows, executor_->velocity());
    executor_->load_from_host();
    stats.examples = batch_;
    ++step_;
    return stats;
  }
  StepStats stats;
  const Stopwatch step_time;
  // Full batch visits the same rows every step: load them once.
  if (!sampler_.full_batch() || !rows_loaded_) {
    std::vector<Index> rows = sampler_.batch(step_);
    for (Index& id : rows) id -= train_.first_id;
    executor_->load_rows(rows);
    local_rows_ = static_cast<Index>(rows.size());
    rows_loaded_ = true;
  }
  executor_->forward(Mode::kTrain);
  if (multiplier_update_pending_) {
    // Same examples, same weights as the exact update of the previous step would have used.
    executor_->update_multipliers();
    multiplier_update_pending_ = false;
  }

  const double scale = data_term_scale(traits_.data_term, batch_, total_examples_);
  executor_->output_gradient(scale, can_skip_, traits_.multiplier_update == MultiplierUpdate::kLagged);
  const bool sample_noise = comm_.size() > 1 && step_ % kNoiseScaleEvery == 0;
  const BackwardResult backward = executor_->backward_and_reduce(sample_noise);
  last_backward_rows_ = backward.backward_rows;

  // The norm term enters once, after the reduction: 1/2 sum ||W||^2 of the objective, or weight decay.
  const double l2 = traits_.norm_term == NormTerm::kHalfSquaredNorm
                        ? 1.0
                        : decay_at(options_.weight_decay, options_.decay_power, step_);
  const double lr = options_.lr * warmup_factor(step_, warmup_steps_);
  if (options_.normalization != WeightNormalization::kNone) {
    const std::vector<BlockDots> dots = executor_->block_dots(normalized_blocks_);
    std::vector<ScaleAdd> steps;
    for (const BlockDots& d : dots) steps.push_back(normalized_weight_step(d, lr, options_.normalization));
    executor_->update_blocks(normalized_blocks_, steps, lr, l2);
  } else {
    executor_->update_parameters(lr, l2);
  }

  if (traits_.multiplier_update == MultiplierUpdate::kExact) {
    if (sampler_.full_batch()) {
      multiplier_update_pending_ = true;  // fused into the next step's forward pass
    } else {
      executor_->forward(Mode::kTrainRepeat);
      executor_->update_multipliers();
    }
  }

  // The step's scalars: the loss and, on sampling steps, this rank's squared mean gradient, whether it holds
  // rows of the batch and 1 / their count (small_batch_sample).
  double scalars[4] = {backward.loss_sum, 0.0, 0.0, 0.0};
  GradientNorms norms;
  if (sample_noise) {
    norms = executor_->gradient_norms();
    if (local_rows_ > 0) {
      const double norm = scale * static_cast<double>(local_rows_);
      scalars[1] = norms.local_sq / (norm * norm);
      scalars[2] = 1.0;
      scalars[3] = 1.0 / static_cast<double>(local_rows_);
    }
  }
  const std::size_t reduced = sample_noise ? 4 : 2;
  const Stopwatch scalar_time;
  comm_.allreduce_sum(std::span<double>(scalars, reduced));
  const double scalar_seconds = scalar_time.seconds();
  if (sample_noise) {
    const double norm = scale * static_cast<double>(batch_);
    const SmallBatchSample small = small_batch_sample(scalars[1], scalars[2], scalars[3]);
    stats.small_batch = small.batch;
    stats.small_batch_grad_sq = small.grad_sq;
    stats.big_batch_grad_sq = norms.global_sq / (norm * norm);
  }
  const ExecutorTimes times = executor_->take_times();
  stats.comm_seconds = times.comm + scalar_seconds;
  stats.multiplier_seconds = times.multiplier;
  stats.compute_seconds = std::max(0.0, step_time.seconds() - stats.comm_seconds - stats.multiplier_seconds);
  stats.bytes_reduced = backward.bytes_reduced + static_cast<double>(reduced * sizeof(double));
  stats.loss_sum = scalars[0];
  stats.examples = batch_;
  ++step_;
  return stats;
}

template <class T>
void Trainer<T>::restore(Index step) {
  step_ = step;
  multiplier_update_pending_ = false;
  rows_loaded_ = false;
}

template <class T>
void Trainer<T>::flush_multipliers() {
  if (!multiplier_update_pending_) return;
  // The next step's forward (Mode::kTrain) passes over these rows at these weights again and updates the running
  // statistics then.
  executor_->forward(Mode::kTrainRepeat);
  executor_->update_multipliers();
  multiplier_update_pending_ = false;
}

template <class T>
void Trainer<T>::forward_each_chunk(const Dataset& data, const ChunkVisitor<T>& visit) {
  executor_->forward_each_chunk(data, visit);
}

template <class T>
EvalStats Trainer<T>::evaluate(const Dataset& data) {
  const LocalEvaluation local = executor_->evaluate(data, nullptr);
  double sums[3] = {local.count, local.errors, local.loss_sum};
  comm_.allreduce_sum(std::span<double>(sums, 3));
  return eval_stats(sums);
}

template <class T>
TrainingSetEvaluation Trainer<T>::evaluate_training_set() {
  flush_multipliers();
  DualTerms dual;
  const LocalEvaluation local = executor_->evaluate(train_, &dual);
  double sums[6] = {local.count, local.errors, local.loss_sum, dual.lagrangian, dual.violated, dual.slackness};
  comm_.allreduce_sum(std::span<double>(sums, 6));
  return {eval_stats(sums), {0.5 * executor_->squared_norm() + sums[3], sums[4], sums[5]}};
}

template <class T>
Index Trainer<T>::support_count() {
  flush_multipliers();
  double count = static_cast<double>(executor_->support_count());
  comm_.allreduce_sum(std::span<double>(&count, 1));
  return static_cast<Index>(count);
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace normscale
