// `normscale train`: data, model, objective and Trainer wired together; evaluation records in
// metrics.jsonl, a progress line, the divergence guard, and the final outputs of the run directory.
#include "normscale/train/run.hpp"

#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/comm/agreement.hpp"
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/metrics/atomic_file.hpp"
#include "normscale/metrics/metrics_log.hpp"
#include "normscale/metrics/noise_scale.hpp"
#include "normscale/metrics/progress.hpp"
#include "normscale/metrics/support_vectors.hpp"
#include "normscale/metrics/weight_metrics.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/device_engine.hpp"
#include "normscale/train/instruments.hpp"
#include "normscale/train/model_factory.hpp"
#include "normscale/train/run_outputs.hpp"
#include "normscale/train/trainer.hpp"

#include <cblas.h>
#include <fmt/format.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <type_traits>

namespace normscale {

namespace {

using Clock = std::chrono::steady_clock;

// Output width: explicit, or one per class, one for binary Minnorm, one per regression target.
Index output_width(const TrainConfig& config, const Dataset& train) {
  if (config.model.outputs > 0) return config.model.outputs;
  if (!train.is_classification()) return train.target_cols;
  if (config.objective.regime == "minnorm" && config.objective.task == "binary") return 1;
  return train.num_classes;
}

TrainerOptions trainer_options(const TrainConfig& config) {
  TrainerOptions o;
  o.batch = config.optim.batch;
  o.virtual_shards = config.virtual_shards;
  o.seed = config.seed;
  o.lr = config.optim.lr;
  o.momentum = config.optim.momentum;
  o.weight_decay = config.optim.weight_decay;
  o.decay_power = config.optim.decay_power;
  o.warmup_epochs = config.optim.warmup_epochs;
  o.exact_multiplier_update = config.objective.alpha_update == "exact";
  o.unbiased_estimator = config.objective.estimator == "unbiased";
  return o;
}

// The engine that trains: the GPU's for device = "cuda" (float32 only; validate() rejects float64 with
// cuda), else the CPU Trainer. The one place that constructs an engine.
template <class T>
std::unique_ptr<TrainingEngine<T>> make_training_engine(const TrainConfig& config, Communicator& comm,
                                                        const Dataset& train, Network<T>& network,
                                                        Objective<T>& objective) {
  if (config.device == "cuda") {
    if constexpr (std::is_same_v<T, float>) {
      CudaEngineOptions cuda;
      cuda.tf32 = config.cuda_tf32;
      return make_cuda_engine(trainer_options(config), cuda, comm, train, train.global_rows(), network, objective);
    } else {
      NS_FAIL("device = \"cuda\" trains in float32 only; set precision = \"float32\" or device = \"cpu\"");
    }
  }
  return std::make_unique<Trainer<T>>(trainer_options(config), comm, train, train.global_rows(), network, objective);
}

// Step times and bytes accumulated between two evaluations.
struct Interval {
  Index steps = 0;
  Index samples = 0;
  double compute = 0, comm = 0, multiplier = 0, bytes = 0;
  Clock::time_point start = Clock::now();
  void add(const StepStats& s) {
    ++steps;
    samples += s.examples;
    compute += s.compute_seconds;
    comm += s.comm_seconds;
    multiplier += s.multiplier_seconds;
    bytes += s.bytes_reduced;
  }
  double samples_per_second() const {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
  }
};

template <class T>
class Run {
 public:
  Run(const TrainConfig& config, Communicator& comm, DataSplits& data)
      : config_(config), comm_(comm), data_(data),
        network_(make_network<T>(config.model, data.train, output_width(config, data.train), comm)),
        objective_(make_objective<T>(config.objective, data.train, network_->output_width())),
        engine_(make_training_engine<T>(config, comm, data.train, *network_, *objective_)),
        shard_{comm.rank(), comm.size(), config.virtual_shards} {
    network_->initialize({config.model.init, config.model.init_scale}, config.seed);
    // Same seed, same weights: checked rather than assumed (a different BLAS or build on one node).
    const auto& p = network_->parameters();
    check_same_on_all_ranks(comm, crc32(0L, reinterpret_cast<const Bytef*>(p.data()),
                                        static_cast<uInt>(p.size() * sizeof(T))),
                            "the initial weights (checksum)");
    if (config.resume) resume();
    // The engine trains from the host's initial (or resumed) weights, momentum and multipliers.
    engine().load_from_host();
    if (comm.is_root()) {
      std::filesystem::create_directories(config.out);
      // A fresh run replaces the directory's history: an older run's checkpoints must not be resumed
      // as if they were this run's (its metrics.jsonl is truncated likewise).
      if (!resumed_) std::filesystem::remove_all(std::filesystem::path(config.out) / "checkpoints");
      write_file_atomically(path("config.toml"), to_toml(config));
      log_.emplace(path("metrics.jsonl"), resumed_ ? JsonlWriter::Mode::kAppend : JsonlWriter::Mode::kTruncate);
      if (config.progress) progress_.emplace(stdout, 30.0);
    }
  }

  TrainingEngine<T>& engine() { return *engine_; }

  void train() {
    const Index total = config_.steps > 0 ? config_.steps
                                          : engine().steps_for_epochs(static_cast<double>(config_.epochs));
    const Index per_epoch = engine().steps_for_epochs(1.0);
    const Index cadence = per_epoch > 1 ? per_epoch : std::max<Index>(1, total / 20);
    const Index eval_every = config_.eval_every > 0 ? config_.eval_every : cadence;
    const Index checkpoint_every = config_.checkpoint_every > 0 ? config_.checkpoint_every : cadence;
    if (comm_.is_root()) {
      fmt::print("normscale: {} on {} ({} train / {} validation / {} test) across {} rank(s), {} parameters, "
                 "{} steps of batch {}{}\n",
                 objective_->name(), data_.train.name, data_.train.global_rows(), data_.validation.global_rows(),
                 data_.test.global_rows(), comm_.size(), network_->parameter_count(), total,
                 engine().global_batch(),
                 resumed_ ? fmt::format(", resuming at step {}", engine().steps_done()) : std::string());
      if (engine().device() != "cpu") fmt::print("normscale: training on {}\n", engine().device());
      std::fflush(stdout);
    }
    if (!resumed_) evaluate(Interval{});
    Interval interval;
    auto last_progress = Clock::now() - std::chrono::seconds(1);
    while (engine().steps_done() < total) {
      const auto step_start = Clock::now();
      const StepStats stats = engine().step();
      training_seconds_ += std::chrono::duration<double>(Clock::now() - step_start).count();
      training_samples_ += stats.examples;
      if (stats.small_batch > 0) {
        noise_scale_.update(stats.small_batch_grad_sq, stats.big_batch_grad_sq, stats.small_batch,
                            static_cast<double>(stats.examples));
      }
      interval.add(stats);
      guard_divergence(stats);
      const Index step = engine().steps_done();
      if (step % eval_every == 0 || step == total) {
        evaluate(interval);
        interval = Interval{};
      } else if (progress_ && Clock::now() - last_progress > std::chrono::milliseconds(250)) {
        show_progress(total);
        last_progress = Clock::now();
      }
      if (step % checkpoint_every == 0 || step == total) checkpoint();
    }
    if (progress_) progress_->finish();
    finish();
  }

 private:
  std::string path(const char* name) const { return (std::filesystem::path(config_.out) / name).string(); }

  CheckpointExpectation expectation() const {
    const MultiplierStore* store = objective_->multipliers();
    return {trajectory_hash(config_), config_.virtual_shards, data_.train.global_rows(),
            store != nullptr ? store->per_example() : 0, network_->parameter_count()};
  }

  void checkpoint() {
    engine().flush_multipliers();
    engine().sync_to_host();
    CheckpointManifest manifest;
    manifest.config_hash = trajectory_hash(config_);
    manifest.seed = config_.seed;
    manifest.step = engine().steps_done();
    manifest.epoch = engine().epochs_done();
    manifest.virtual_shards = config_.virtual_shards;
    manifest.examples = data_.train.global_rows();
    manifest.per_example = objective_->multipliers() != nullptr ? objective_->multipliers()->per_example() : 0;
    ModelState<T> model{network_->parameters(), engine().velocity(), network_->layer_state()};
    write_checkpoint(config_.out, comm_, manifest, model, objective_->multipliers(), shard_.first_shard(),
                     shard_.last_shard(), static_cast<int>(config_.keep_checkpoints));
  }

  // Loads the newest checkpoint that every rank can load; one that some rank cannot is named and the
  // ranks try the previous one together.
  void resume() {
    const std::optional<ResumePoint<T>> point = load_newest_usable_checkpoint<T>(
        config_.out, comm_, expectation(), objective_->multipliers(), shard_.first_shard(), shard_.last_shard());
    NS_CHECK(point.has_value(),
             "resume: no checkpoint in {}/checkpoints; run without --resume (or resume=false) to start afresh",
             config_.out);
    network_->parameters() = point->model.parameters;
    engine().velocity() = point->model.velocity;
    network_->set_layer_state(point->model.layer_state);
    engine().restore(point->manifest.step);
    resumed_ = true;
    if (comm_.is_root()) {
      if (!point->passed_over.empty()) {
        fmt::print(stderr, "normscale: warning: {}falling back to {}\n", point->passed_over, point->dir);
      }
      trim_metrics_after(point->manifest.step);
    }
  }

  // Drops the evaluations a killed run logged after its last checkpoint, so they are not repeated.
  void trim_metrics_after(Index step) const {
    std::ifstream in(path("metrics.jsonl"));
    std::string kept, line;
    while (std::getline(in, line)) {
      const auto record = nlohmann::json::parse(line, nullptr, false);
      if (record.is_discarded() || record.value("step", Index{0}) > step) continue;
      kept += line + "\n";
    }
    write_file_atomically(path("metrics.jsonl"), kept);
  }

  // The rate over all steps of this process so far (evaluations and checkpoints excluded): stable
  // right after an evaluation, unlike the current interval's.
  void show_progress(Index total) {
    ProgressState state;
    state.epoch = engine().epochs_done();
    state.step = engine().steps_done();
    state.total_steps = total;
    state.train_error = last_train_error_;
    state.validation_error = last_validation_error_;
    state.samples_per_second = training_seconds_ > 0 ? static_cast<double>(training_samples_) / training_seconds_ : 0.0;
    if (state.samples_per_second > 0) {
      state.eta_seconds = static_cast<double>((total - state.step) * engine().global_batch()) / state.samples_per_second;
    }
    progress_->update(state);
  }

  void guard_divergence(const StepStats& stats) {
    const double loss = stats.loss_sum / static_cast<double>(stats.examples);
    if (std::isfinite(loss) && std::abs(loss) <= config_.divergence_limit) return;
    engine().sync_to_host();
    const std::string where = describe_weights_at_divergence();
    const std::string last_good =
        last_good_ ? fmt::format("step {} (train error {:.2f}%, validation error {})", last_good_->step,
                                 last_good_->train_error, last_good_->validation)
                   : std::string("none");
    if (log_) {
      log_->write({{"event", "diverged"}, {"step", engine().steps_done()}, {"epoch", engine().epochs_done()},
                   {"loss", std::isfinite(loss) ? nlohmann::json(loss) : nlohmann::json(nullptr)}});
    }
    NS_FAIL("training diverged at step {} (epoch {:.2f}): mean loss {} over the minibatch (limit {} = {:g}); {}. "
            "Last good evaluation: {}. Everything written to {} so far is intact. Hint: lower optim.lr or "
            "objective.s, or raise objective.rho (the published paper-minnorm-sgd preset is known to diverge; "
            "paper-minnorm-sgd-rho is its stable variant).",
            engine().steps_done(), engine().epochs_done(), loss, "divergence_limit", config_.divergence_limit,
            where, last_good, config_.out);
  }

  // The layer to blame: the first with non-finite weights, else the one with the largest weight.
  std::string describe_weights_at_divergence() const {
    const std::string nonfinite = network_->first_nonfinite_layer();
    if (!nonfinite.empty()) return "first non-finite weights in " + nonfinite;
    std::string layer;
    double largest = -1.0;
    for (const auto& w : network_->weights()) {
      const double m = static_cast<double>(w.matrix.cwiseAbs().maxCoeff());
      if (m > largest) {
        largest = m;
        layer = w.name;
      }
    }
    return fmt::format("weights still finite, the largest |w| = {:.3g} in {}", largest, layer);
  }

  void evaluate(const Interval& interval) {
    engine().sync_to_host();  // the weight metrics read the host network
    const EvalStats train = engine().evaluate(data_.train);
    nlohmann::json record = {{"step", engine().steps_done()},
                             {"epoch", engine().epochs_done()},
                             {"train_error", train.error_percent()},
                             {"train_loss", train.mean_loss()}};
    for (const auto& [name, split] : {std::pair<const char*, const Dataset*>{"validation", &data_.validation},
                                      std::pair<const char*, const Dataset*>{"test", &data_.test}}) {
      if (split->rows == 0) continue;
      const EvalStats e = engine().evaluate(*split);
      record[std::string(name) + "_error"] = e.error_percent();
      record[std::string(name) + "_loss"] = e.mean_loss();
    }
    const WeightMetrics norms = spectral_.evaluate(network_->weights());
    record["weight_norm"] = norms.weight_norm;
    record["rho"] = norms.rho;
    record["capacity_bound"] = norms.capacity_bound;
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : norms.layers) {
      layers.push_back({{"name", l.name}, {"frobenius", l.frobenius}, {"spectral", l.spectral},
                        {"stable_rank", l.stable_rank}});
    }
    record["layers"] = layers;
    if (objective_->is_minnorm()) {
      record["lagrangian"] = engine().lagrangian();
      engine().sync_to_host();  // the multipliers after the flush the Lagrangian did
      const AlphaStats a = global_alpha_stats(comm_, *objective_->multipliers(), support_rule_for(data_.train));
      record["support_vectors"] = a.support;
      record["support_fraction"] = a.support_fraction();
      record["alpha_max"] = a.max_alpha;
      record["alpha_mean"] = a.mean_alpha();
      record["support_per_output"] = a.per_output_support;
    }
    if (interval.steps > 0) {
      record["samples_per_s"] = interval.samples_per_second();
      record["time_compute_s"] = interval.compute;
      record["time_comm_s"] = interval.comm;
      record["time_multiplier_s"] = interval.multiplier;
      record["bytes_reduced"] = interval.bytes;
      record["steps"] = interval.steps;
      record["step_time_comm_s"] = interval.comm / static_cast<double>(interval.steps);
      record["step_time_compute_s"] = interval.compute / static_cast<double>(interval.steps);
      record["step_time_multiplier_s"] = interval.multiplier / static_cast<double>(interval.steps);
    }
    if (config_.instruments) {
      record.update(evaluate_instruments(engine(), *network_, comm_, data_.train, norms.rho));
    }
    if (const NoiseScaleEstimate n = noise_scale_.estimate(); n.available) {
      record["noise_scale"] = {{"b_simple", n.b_simple}, {"gradient_sq", n.gradient_sq},
                               {"trace_sigma", n.trace_sigma}, {"samples", n.updates}};
    }
    last_train_error_ = train.error_percent();
    if (record.contains("validation_error")) last_validation_error_ = record["validation_error"].get<double>();
    const std::string validation = last_validation_error_ ? fmt::format("{:.2f}%", *last_validation_error_) : "n/a";
    last_good_ = LastGood{engine().steps_done(), train.error_percent(), validation};
    if (log_) log_->write(record);
    last_record_ = record;
  }

  void finish() {
    engine().flush_multipliers();
    engine().sync_to_host();
    if (const MultiplierStore* store = objective_->multipliers()) {
      export_multipliers(config_.out, comm_, *store, data_.train, config_.gallery);
    }
    if (!comm_.is_root()) return;
    write_weights(config_.out, *network_);
    const auto percent = [&](const char* key) {
      return last_record_.contains(key) ? fmt::format("{:.2f}%", last_record_[key].get<double>()) : "n/a";
    };
    std::string summary = fmt::format("normscale: done after {} steps ({:.2f} epochs): train error {}, validation "
                                      "error {}, test error {}, weight norm {:.4g}",
                                      engine().steps_done(), engine().epochs_done(), percent("train_error"),
                                      percent("validation_error"), percent("test_error"),
                                      last_record_["weight_norm"].get<double>());
    if (last_record_.contains("support_fraction")) {
      summary += fmt::format(", support vectors {:.2f}%", 100.0 * last_record_["support_fraction"].get<double>());
    }
    fmt::print("{}\nnormscale: run directory {}\n", summary, config_.out);
  }

  struct LastGood {
    Index step;
    double train_error;
    std::string validation;
  };

  const TrainConfig& config_;
  Communicator& comm_;
  DataSplits& data_;
  std::unique_ptr<Network<T>> network_;
  std::unique_ptr<Objective<T>> objective_;
  std::unique_ptr<TrainingEngine<T>> engine_;
  DataShard shard_;
  bool resumed_ = false;
  double training_seconds_ = 0.0;
  Index training_samples_ = 0;
  SpectralNormTracker spectral_;
  GradientNoiseScale noise_scale_;
  std::optional<JsonlWriter> log_;
  std::optional<ProgressLine> progress_;
  std::optional<double> last_train_error_, last_validation_error_;
  std::optional<LastGood> last_good_;
  nlohmann::json last_record_;
};

}  // namespace

void run_training(const TrainConfig& config, Communicator& comm) {
  validate(config);
  check_same_on_all_ranks(comm, config_hash(config), "the configuration (config hash)");
  if (config.threads > 0) openblas_set_num_threads(static_cast<int>(config.threads));
  const DataShard shard{comm.rank(), comm.size(), config.virtual_shards};
  check_data_shard(shard);
  // Each rank reads its shards only; preprocessing statistics are those of the whole training set.
  DataSplits data = load_data(config.data, shard);
  const PreprocessStats local = local_preprocess_stats(data.train, config.data.preprocess);
  std::vector<double> sums = local.to_vector();
  double max_abs = local.max_abs;
  comm.allreduce_sum(std::span<double>(sums));
  comm.allreduce_max(std::span<double>(&max_abs, 1));
  finish_loading(data, config.data, PreprocessStats::from_vector(sums, max_abs));
  validate_against_data(config, data.train.global_rows(), data.train.num_classes);
  if (config.precision == "float64") {
    Run<double>(config, comm, data).train();
  } else {
    Run<float>(config, comm, data).train();
  }
}

}  // namespace normscale
