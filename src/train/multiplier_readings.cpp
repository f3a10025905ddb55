// The multiplier fields of the evaluation record, summed over ranks.
#include "normscale/train/multiplier_readings.hpp"

#include "normscale/metrics/support_vectors.hpp"
#include "normscale/train/run_outputs.hpp"

#include <span>

namespace normscale {

// A run resumed from a checkpoint of an evaluation's step holds that evaluation's multipliers: its support set is
// what the next evaluation's churn compares with, as in the uninterrupted run.
template <class T>
void MultiplierReadings<T>::begin(TrainingContext<T>& context) {
  const MultiplierStore* store = context.objective.multipliers();
  if (store == nullptr || !context.resumed_at_evaluation) return;
  previous_support_ = support_set(*store, support_rule_for(context.data.train));
}

template <class T>
void MultiplierReadings<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  const MultiplierStore* store = context.objective.multipliers();
  if (store == nullptr) return;
  const DualTerms& dual = context.train_evaluation().dual;
  record["lagrangian"] = dual.lagrangian;
  context.engine.sync_to_host();  // the multipliers after the flush the training set's evaluation did
  const Dataset& train = context.data.train;
  const SupportRule rule = support_rule_for(train);
  const AlphaStats a = global_alpha_stats(context.comm, *store, rule);
  record["support_vectors"] = a.support;
  record["support_fraction"] = a.support_fraction();
  record["alpha_max"] = a.max_alpha;
  record["alpha_mean"] = a.mean_alpha();
  record["support_per_output"] = a.per_output_support;

  // Counts summed over ranks in one allreduce: the histogram, then the churn, then the averaged support.
  std::vector<double> counts;
  for (Index n : alpha_histogram(*store, rule)) counts.push_back(static_cast<double>(n));
  const std::vector<bool> support = support_set(*store, rule);
  counts.push_back(previous_support_ ? static_cast<double>(support_churn(*previous_support_, support)) : 0.0);
  const bool averaged = store->average_column() >= 0;
  const AveragedSupport average = averaged ? averaged_support(*store, rule) : AveragedSupport{};
  counts.push_back(static_cast<double>(average.averaged));
  counts.push_back(static_cast<double>(average.stable));
  context.comm.allreduce_sum(std::span<double>(counts));
  const std::size_t tail = counts.size() - 3;
  const double churn = counts[tail], union_of_support = counts[tail + 1], stable = counts[tail + 2];
  counts.resize(tail);
  if (averaged) {
    const auto examples = static_cast<double>(train.global_rows());
    record["support_fraction_averaged"] = examples > 0 ? union_of_support / examples : 0.0;
    record["support_fraction_stable"] = examples > 0 ? stable / examples : 0.0;
  }
  record["alpha_histogram"] = {{"edges", alpha_histogram_edges()}, {"counts", counts}};
  // The first evaluation of a run has nothing to compare with, nor that of a run resumed between evaluations.
  if (previous_support_) record["support_churn"] = churn;
  previous_support_ = support;

  if (!train.is_classification()) return;  // equality constraints: no violated count or slackness
  const double constraints = static_cast<double>(train.global_rows() * store->multipliers_per_example());
  record["constraints_violated"] = constraints > 0 ? dual.violated / constraints : 0.0;
  record["complementary_slackness"] = dual.slackness;
}

template class MultiplierReadings<float>;
template class MultiplierReadings<double>;

}  // namespace normscale
