// Checkpoint manifests of this run, what a resumed run expects of one, and the two collectives.
#include "normscale/train/run_checkpoints.hpp"

#include "normscale/comm/agreement.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/listing.hpp"
#include "normscale/train/config_agreement.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/run_directory_lock.hpp"

#include <optional>

namespace normscale {

namespace {

Index multipliers_per_example(const MultiplierStore* store) { return store != nullptr ? store->per_example() : 0; }

// The settings of the run directory's config.toml (the run the checkpoints continue) that set the trajectory and
// that `config` changes, as a refusal naming them; empty where none changed or no readable config.toml is there
// (the checkpoints' config hash still decides).
std::string changed_trajectory_settings(const TrainConfig& config) {
  const std::optional<RecordedConfig> run = recorded_config(config.out);
  if (!run || trajectory_hash(run->config) == trajectory_hash(config)) return "";
  const std::vector<OptionDifference> differences =
      differing_options(to_toml(trajectory_settings(run->config)), to_toml(trajectory_settings(config)));
  if (differences.empty()) return "";
  std::vector<std::string> named;
  for (const OptionDifference& d : differences) {
    named.push_back(fmt::format("{} = {} in the run, {} now", d.key, d.a, d.b));
  }
  return fmt::format(
      "resume: the run in {} started with other settings of the training trajectory ({}), so its checkpoints cannot "
      "go on with these; hint: resume with the run's settings (its config.toml), or train into another --out",
      config.out, first_and_more(named, 4, 0, "; "));
}

}  // namespace

template <class T>
void RunCheckpoints<T>::resume(TrainingContext<T>& context) const {
  const TrainConfig& config = context.config;
  // Rank 0 owns the run directory; its refusal is every rank's.
  throw_if_any_rank_failed(context.comm, error_of([&] {
                             if (!context.comm.is_root()) return;
                             if (const std::string changed = changed_trajectory_settings(config); !changed.empty())
                               NS_FAIL("{}", changed);
                           }));
  const CheckpointExpectation expected{trajectory_hash(config), config.virtual_shards,
                                       context.data.train.global_rows(),
                                       multipliers_per_example(context.objective.multipliers()),
                                       context.network.parameter_count(), data_fingerprint_};
  const std::optional<ResumePoint<T>> point =
      load_newest_usable_checkpoint<T>(config.out, context.comm, expected, context.objective.multipliers(),
                                       shard_.first_shard(), shard_.last_shard());
  if (!point) {  // the same answer on every rank
    throw AgreedError(fmt::format(
        "resume: no checkpoint in {}/checkpoints; run without --resume (or resume=false) to start afresh",
        config.out));
  }
  context.network.mutable_parameters() = point->model.parameters;
  context.engine.velocity() = point->model.velocity;
  context.network.set_layer_state(point->model.layer_state);
  context.engine.restore(point->manifest.step);
  // A checkpoint of before format version 4 has none: the averages start afresh.
  if (!point->manifest.noise_scale.empty()) context.noise_scale.restore(point->manifest.noise_scale);
  if (context.comm.is_root() && !point->passed_over.empty()) {
    fmt::print(stderr, "normscale: warning: {}falling back to {}\n", point->passed_over, point->dir);
  }
}

template <class T>
void RunCheckpoints<T>::step_end(TrainingContext<T>& context, Index step) {
  if (cadence_.due(step)) save(context);
}

template <class T>
void RunCheckpoints<T>::save_unless_saved(TrainingContext<T>& context, Index step) {
  if (!cadence_.due(step)) save(context);
}

template <class T>
void RunCheckpoints<T>::save(TrainingContext<T>& context) {
  const TrainConfig& config = context.config;
  TrainingEngine<T>& engine = context.engine;
  engine.flush_multipliers();
  engine.sync_to_host();
  CheckpointManifest manifest;
  manifest.config_hash = trajectory_hash(config);
  manifest.seed = config.seed;
  manifest.step = engine.steps_done();
  manifest.epoch = engine.epochs_done();
  manifest.virtual_shards = config.virtual_shards;
  manifest.examples = context.data.train.global_rows();
  manifest.per_example = multipliers_per_example(context.objective.multipliers());
  manifest.data_fingerprint = data_fingerprint_;
  manifest.noise_scale = context.noise_scale.state();
  const ModelState<T> model{context.network.parameters(), engine.velocity(), context.network.layer_state()};
  write_checkpoint(config.out, context.comm, manifest, model, context.objective.multipliers(), shard_.first_shard(),
                   shard_.last_shard(), static_cast<int>(config.keep_checkpoints));
}

template class RunCheckpoints<float>;
template class RunCheckpoints<double>;

}  // namespace normscale
