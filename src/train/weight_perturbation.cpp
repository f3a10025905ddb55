// Perturb-and-retrain: the noise, and when it is added.
#include "normscale/train/weight_perturbation.hpp"

#include "normscale/train/evaluation_log.hpp"
#include "normscale/train/run_directory_lock.hpp"

#include <cmath>

namespace normscale {

template <class T>
double perturb_parameters(Network<T>& network, const PerturbConfig& config, std::uint64_t seed, Index step) {
  double noise_norm2 = 0.0;
  T* params = network.mutable_parameters().data();
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const Index count = network.layer(l).parameter_count();
    T* begin = params;
    params += count;
    if (count == 0) continue;
    double sd = config.sd;
    if (sd <= 0) {
      double sum = 0.0, sum2 = 0.0;
      for (Index i = 0; i < count; ++i) {
        sum += static_cast<double>(begin[i]);
        sum2 += static_cast<double>(begin[i]) * static_cast<double>(begin[i]);
      }
      const double mean = sum / static_cast<double>(count);
      sd = config.scale * std::sqrt(std::max(0.0, sum2 / static_cast<double>(count) - mean * mean));
    }
    RandomStream rng(seed, StreamPurpose::kPerturb, static_cast<std::uint64_t>(step), l);
    for (Index i = 0; i < count; ++i) {
      const double noise = sd * rng.normal();
      begin[i] += static_cast<T>(noise);
      noise_norm2 += noise * noise;
    }
  }
  return noise_norm2;
}

template <class T>
Index WeightPerturbation<T>::step_of(TrainingContext<T>& context, std::int64_t epoch) const {
  return context.engine.steps_for_epochs(static_cast<double>(epoch));
}

template <class T>
bool WeightPerturbation<T>::scheduled(const PerturbConfig& config) const {
  return config.enabled() && next_epoch_ > 0 && (config.until <= 0 || next_epoch_ <= config.until);
}

template <class T>
void WeightPerturbation<T>::start_after_fit(TrainingContext<T>& context, Index step) {
  const std::int64_t every = context.config.perturb.every;
  next_epoch_ = every;
  while (step_of(context, next_epoch_) < step) next_epoch_ += every;
}

namespace {

// The paper's "fit": zero training error, at an evaluation of the eval_every cadence (a shorter run's extra
// evaluation after its last step would start the schedule where the uninterrupted run does not evaluate). A
// regression run's records have no error: it counts as fitted from its first evaluation.
template <class T>
bool fitted_at(const TrainingContext<T>& context, const nlohmann::json& record) {
  if (record["step"].get<Index>() % context.evaluation_every != 0) return false;
  if (!context.data.train.is_classification()) return true;
  return record_number(record, "train_error") == 0.0;
}

}  // namespace

template <class T>
void WeightPerturbation<T>::begin(TrainingContext<T>& context) {
  const PerturbConfig& config = context.config.perturb;
  const Index resumed_at = context.engine.steps_done();
  next_epoch_ = config.start;
  done_ = 0;
  if (config.start == 0 && resumed_at > 0) {
    // The fit the first run found, from its records up to the checkpoint (rank 0 reads, every rank agrees).
    std::int64_t fitted = -1;
    if (context.comm.is_root()) {
      for (const nlohmann::json& record : evaluation_records(context.config.out)) {
        if (record["step"].get<Index>() <= resumed_at && fitted_at(context, record)) {
          fitted = record["step"].get<std::int64_t>();
          break;
        }
      }
    }
    context.comm.broadcast(std::as_writable_bytes(std::span<std::int64_t>(&fitted, 1)), 0);
    if (fitted >= 0) start_after_fit(context, fitted);
  }
  // A resumed run: the perturbations before its checkpoint's step are in the checkpointed weights; one at
  // that very step is not (the checkpoint was written before it), so it is made now.
  while (scheduled(config) && step_of(context, next_epoch_) < resumed_at) {
    next_epoch_ += config.every;
    ++done_;
  }
  if (resumed_at > 0) step_end(context, resumed_at);
}

template <class T>
void WeightPerturbation<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  if (context.config.perturb.enabled()) record["perturbations"] = done_;
}

template <class T>
void WeightPerturbation<T>::evaluated(TrainingContext<T>& context, const nlohmann::json& record) {
  if (next_epoch_ != 0 || !context.config.perturb.enabled()) return;
  if (fitted_at(context, record)) start_after_fit(context, record["step"].get<Index>());
}

template <class T>
void WeightPerturbation<T>::step_end(TrainingContext<T>& context, Index step) {
  const PerturbConfig& config = context.config.perturb;
  if (!scheduled(config) || step != step_of(context, next_epoch_)) return;
  next_epoch_ += config.every;
  // After the last step nothing would retrain: leave the final weights as they were evaluated.
  if (step >= context.total_steps) return;
  // A full-batch run's exact multiplier update waits for the next step's forward pass; it belongs to the weights
  // this step left, before the noise (as a minibatch step's, or an evaluation's flush, takes it).
  context.engine.flush_multipliers();
  context.engine.sync_to_host();
  perturb_parameters(context.network, config, context.config.seed, step);
  context.engine.load_from_host();
  ++done_;
}

template double perturb_parameters<float>(Network<float>&, const PerturbConfig&, std::uint64_t, Index);
template double perturb_parameters<double>(Network<double>&, const PerturbConfig&, std::uint64_t, Index);
template class WeightPerturbation<float>;
template class WeightPerturbation<double>;

}  // namespace normscale
