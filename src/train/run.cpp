// `normscale train`: data, model, objective and training engine wired together, the callbacks of the
// run registered with the training loop, and the final outputs of the run directory.
#include "normscale/train/run.hpp"

#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/comm/agreement.hpp"
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/listing.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/data/file_identity.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/core/atomic_file.hpp"
#include "normscale/objective/objective_registry.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"
#include "normscale/train/config_agreement.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/conflicting_examples.hpp"
#include "normscale/train/data_fingerprint.hpp"
#include "normscale/train/console_progress.hpp"
#include "normscale/train/device_engine.hpp"
#include "normscale/train/divergence_guard.hpp"
#include "normscale/train/duality_certificate.hpp"
#include "normscale/train/evaluation_log.hpp"
#include "normscale/train/multiplier_readings.hpp"
#include "normscale/train/instrument_readings.hpp"
#include "normscale/train/model_factory.hpp"
#include "normscale/train/noise_scale_monitor.hpp"
#include "normscale/train/run_checkpoints.hpp"
#include "normscale/train/run_directory_lock.hpp"
#include "normscale/train/run_outputs.hpp"
#include "normscale/train/sampler.hpp"
#include "normscale/train/trainer.hpp"
#include "normscale/train/training_loop.hpp"
#include "normscale/train/weight_perturbation.hpp"
#include "normscale/train/training_schedule.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <new>
#include <optional>
#include <regex>
#include <span>
#include <type_traits>
#include <vector>

namespace normscale {

namespace {

// Output width: explicit, or what the objective asks for (one for binary Minnorm), or one per class or
// regression target.
Index output_width(const TrainConfig& config, const Dataset& train) {
  if (config.model.outputs > 0) return config.model.outputs;
  const ObjectiveEntry& objective = objective_registry().get(config.objective.regime);
  if (objective.outputs) {
    if (const Index outputs = objective.outputs(config.objective, train); outputs > 0) return outputs;
  }
  return train.is_classification() ? train.num_classes : train.target_cols;
}

// What of a run's outputs `out` already holds: an earlier run's, or a user's files of the same names. config.toml
// counts only where it says something else than `config_text` (the study scheduler writes the trial's own before
// the first start).
// The final outputs (run_outputs.hpp) `out` holds: the multipliers' and the layers' exports.
std::vector<std::string> exports_present(const std::filesystem::path& out) {
  std::vector<std::string> present;
  std::error_code ec;
  for (const char* name : {"alpha.npy", "alpha_average.npy", "support_vectors.csv", "support_vectors.png"}) {
    if (std::filesystem::exists(out / name, ec)) present.emplace_back(name);
  }
  static const std::regex kLayerOutput(R"(layer[0-9]+_(weight|bias)\.npy)");
  std::vector<std::string> layers;
  for (const auto& entry : std::filesystem::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, kLayerOutput)) layers.push_back(name);
  }
  std::sort(layers.begin(), layers.end());
  present.insert(present.end(), layers.begin(), layers.end());
  return present;
}

std::vector<std::string> outputs_present(const std::filesystem::path& out, const std::string& config_text) {
  std::vector<std::string> present;
  std::error_code ec;
  for (const char* name : {"metrics.jsonl", "checkpoints", "finished.json"}) {
    if (std::filesystem::exists(out / name, ec)) present.emplace_back(name);
  }
  const std::vector<std::string> exports = exports_present(out);
  present.insert(present.end(), exports.begin(), exports.end());
  if (std::filesystem::exists(out / "config.toml", ec) && read_config_file(out / "config.toml") != config_text) {
    present.emplace_back("config.toml (other settings than this run's)");
  }
  return present;
}

}  // namespace

bool holds_unfinished_run_of(const TrainConfig& config) {
  std::error_code ec;
  const std::filesystem::path out(config.out);
  if (std::filesystem::exists(finished_marker(config.out), ec)) return false;
  std::optional<RecordedConfig> run = recorded_config(out);
  if (!run) return false;
  // This configuration's run, however it was started (config.toml records resume and overwrite too) and whatever
  // path named its directory.
  TrainConfig& recorded = run->config;
  TrainConfig ours = config;
  for (TrainConfig* c : {&recorded, &ours}) {
    c->resume = c->overwrite = false;
    c->out.clear();
  }
  if (config_hash(recorded) != config_hash(ours)) return false;
  // Its final outputs (written after its last checkpoint): not a run killed before its first checkpoint.
  for (const std::string& name : outputs_present(out, run->text)) {
    if (name != "metrics.jsonl" && name != "checkpoints") return false;
  }
  return true;
}

namespace {

// A fresh run in a directory that holds a run's outputs would replace them: refused unless asked for.
void check_may_start_in(const TrainConfig& config, const std::string& config_text) {
  if (config.overwrite) return;
  const std::vector<std::string> present = outputs_present(config.out, config_text);
  if (present.empty()) return;
  NS_FAIL(
      "run directory {} already holds a run's outputs ({}), which a fresh run would replace; hint: continue "
      "its run with --resume, replace them with --overwrite, or train into another --out",
      config.out, first_and_more(present, 4));
}

// Examples one training step of this rank forwards, for the model's memory estimate: its share of the global
// batch, or all its rows for full batch.
Index step_rows(const TrainConfig& config, const Dataset& train, const Communicator& comm) {
  if (config.optim.batch == kFullBatch) return train.rows;
  const Index share = (config.optim.batch + comm.size() - 1) / comm.size();
  return std::min<Index>(share, train.rows);
}

// A dense layer's batch norm in training mode takes each unit's variance over the rows that one normaliser sees:
// each rank's rows of a step, or with model.sync_bn the whole step's. One row (or none) has no variance: refused
// before training, naming the settings, rather than failing mid-run on the rank that drew it.
void check_batch_norm_rows(const TrainConfig& config, Index train_rows, int ranks) {
  if (config.model.type != "mlp" || !config.model.batch_norm || config.model.hidden.empty()) return;
  const Index batch = config.optim.batch == kFullBatch ? train_rows : config.optim.batch;
  const SmallestShare share = config.model.sync_bn
                                  ? SmallestShare{batch, 0}
                                  : smallest_step_share(train_rows, config.virtual_shards, batch, ranks, 2);
  NS_CHECK(share.examples >= 2,
           "model.batch_norm = true normalises each unit over {} of a step, and {} holds {} example(s) of some steps "
           "(optim.batch = {} of {} training examples, {} rank(s), virtual_shards = {}); expected at least 2; hint: "
           "{}",
           config.model.sync_bn ? "all the rows" : "each rank's rows",
           config.model.sync_bn ? std::string("the step") : fmt::format("rank {}", share.part), share.examples,
           config.optim.batch == kFullBatch ? std::string("full") : std::to_string(config.optim.batch), train_rows,
           ranks, config.virtual_shards,
           batch >= 2 && !config.model.sync_bn
               ? "raise optim.batch, set model.sync_bn = true (the whole step's statistics) or use fewer ranks"
               : "raise optim.batch (full batch: train on more examples)");
}

// Runs `action`, turning a std::bad_alloc into an error that says what was being done and which settings size
// it: the last line of defence behind the up-front checks (headers against file sizes, model memory).
template <class Action>
auto with_memory_context(const std::string& doing, const char* hint, Action&& action) {
  try {
    return action();
  } catch (const std::bad_alloc&) {
    NS_FAIL("out of memory while {}; hint: {}", doing, hint);
  }
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
  o.normalization = weight_normalization_named(config.optim.normalization);
  return o;
}

// The engine that trains: the GPU's for device = "cuda" (float32, with fp32 or bf16 products; validate() rejects
// float64 with cuda), else the CPU Trainer. The one place that constructs an engine.
template <class T>
std::unique_ptr<TrainingEngine<T>> make_training_engine(const TrainConfig& config, Communicator& comm,
                                                        const Dataset& train, Network<T>& network,
                                                        Objective<T>& objective) {
  if (config.device == "cuda") {
    if constexpr (std::is_same_v<T, float>) {
      CudaEngineOptions cuda;
      cuda.tf32 = config.cuda_tf32;
      cuda.bf16 = config.precision == "bf16";
      cuda.graphs = config.cuda_graphs;
      return make_cuda_engine(trainer_options(config), cuda, comm, train, train.global_rows(), network, objective);
    } else {
      NS_FAIL("device = \"cuda\" trains in float32 only; set precision = \"float32\" or device = \"cpu\"");
    }
  }
  return std::make_unique<Trainer<T>>(trainer_options(config), comm, train, train.global_rows(), network, objective);
}

template <class T>
class Run {
 public:
  Run(const TrainConfig& config, Communicator& comm, DataSplits& data, std::uint64_t data_fingerprint)
      : network_(make_network<T>(config.model, data.train, output_width(config, data.train), comm,
                                 step_rows(config, data.train, comm))),
        objective_(make_objective<T>(config.objective, data.train, network_->output_width())),
        engine_(make_training_engine<T>(config, comm, data.train, *network_, *objective_)),
        context_{.config = config, .comm = comm, .data = data, .network = *network_, .objective = *objective_,
                 .engine = *engine_, .initial_squared_norms = {}},
        schedule_(training_schedule(config, engine_->steps_for_epochs(1.0),
                                    engine_->steps_for_epochs(static_cast<double>(config.epochs)))),
        checkpoints_(schedule_.checkpoint, DataShard{comm.rank(), comm.size(), config.virtual_shards},
                     data_fingerprint) {
    context_.total_steps = schedule_.total_steps;
    context_.evaluation_every = schedule_.evaluation.every;
    network_->initialize({config.model.init, config.model.init_scale}, config.seed);
    for (const auto& w : network_->weights()) {
      context_.initial_squared_norms.push_back(w.matrix.template cast<double>().squaredNorm());
    }
    // Same seed, same weights: checked rather than assumed (a different BLAS or build on one node).
    const auto& p = network_->parameters();
    check_same_on_all_ranks(comm, crc32(0L, reinterpret_cast<const Bytef*>(p.data()),
                                        static_cast<uInt>(p.size() * sizeof(T))),
                            "the initial weights (checksum)");
    if (config.resume) {
      checkpoints_.resume(context_);
      context_.resumed = true;
    }
    // The engine trains from the host's initial (or resumed) weights, momentum and multipliers.
    engine_->load_from_host();
  }

  void train() {
    if (finished() || stopped_at_tolerance()) return report_finished();
    const TrainConfig& config = context_.config;
    Communicator& comm = context_.comm;
    const DataSplits& data = context_.data;
    if (comm.is_root()) {
      fmt::print("normscale: {} on {} ({} train / {} validation / {} test) across {} rank(s), {} parameters, "
                 "{} steps of batch {}{}\n",
                 objective_->name(), data.train.name, data.train.global_rows(), data.validation.global_rows(),
                 data.test.global_rows(), comm.size(), network_->parameter_count(), schedule_.total_steps,
                 engine_->global_batch(),
                 context_.resumed ? fmt::format(", resuming at step {}", engine_->steps_done()) : std::string());
      if (engine_->device() != "cpu") fmt::print("normscale: training on {}\n", engine_->device());
      std::fflush(stdout);
    }
    // Registration order is call order: the log's fields come first (the instruments read its "rho"),
    // then the multipliers' (the summary reads "support_fraction"), the duality certificate's (its tolerance
    // event follows the record),
    // the guard stops before an evaluation of diverged weights, the checkpoint follows the evaluation,
    // a checkpoint asked for by a signal follows the scheduled one (the same step is not written twice),
    // and a perturbation follows the checkpoints (a run resumed there makes it again).
    TrainingLoop<T> loop(context_, schedule_.evaluation);
    EvaluationLog<T> log;
    MultiplierReadings<T> multipliers;
    CertificateReadings<T> certificate(log);
    NoiseScaleMonitor<T> noise_scale;
    DivergenceGuard<T> guard(log);
    InstrumentReadings<T> instruments;
    WeightPerturbation<T> perturbation;
    CheckpointOnSignal<T> checkpoint_on_signal(checkpoints_);
    std::optional<ConsoleProgress<T>> progress;
    loop.add(log);
    loop.add(multipliers);
    loop.add(certificate);
    loop.add(noise_scale);
    loop.add(guard);
    if (config.instruments) loop.add(instruments);
    if (comm.is_root() && config.progress) loop.add(progress.emplace());
    loop.add(checkpoints_);
    loop.add(checkpoint_on_signal);
    if (config.perturb.enabled()) loop.add(perturbation);
    loop.check();
    prepare_directory();
    finish(loop.run());
  }

 private:
  // Collective, after every check (a refused run leaves the directory as it was): the directory no longer holds a
  // finished run, a fresh run drops an older run's checkpoints (they must not be resumed as this run's; its
  // metrics.jsonl is truncated likewise) and exports (--overwrite: an older model's layer files stayed beside this
  // run's), and config.toml is this run's.
  void prepare_directory() {
    const TrainConfig& config = context_.config;
    throw_if_any_rank_failed(context_.comm, error_of([&] {
      if (!context_.comm.is_root()) return;
      std::filesystem::create_directories(config.out);
      const std::string config_text = to_toml(config);
      if (!context_.resumed) check_may_start_in(config, config_text);
      clear_finished_marker(config.out);
      if (context_.resumed) {
        remove_unfinished_checkpoint_writes(config.out);
      } else {
        remove_checkpoints(config.out);  // unfinished writes included
        for (const std::string& name : exports_present(config.out)) std::filesystem::remove(path(name.c_str()));
      }
      write_file_atomically(path("config.toml"), config_text);
    }));
  }

  std::string path(const char* name) const {
    return (std::filesystem::path(context_.config.out) / name).string();
  }

  // Resumed at its last step: the run had finished (its final checkpoint is only written after its last
  // evaluation).
  bool finished() const { return context_.resumed && engine_->steps_done() >= schedule_.total_steps; }

  // Resumed at a state that objective.tolerance stops at (the run stopped there, at a checkpointed step): finished
  // too, unless resumed with a tolerance this state does not meet. Collective.
  bool stopped_at_tolerance() {
    const double tolerance = context_.config.objective.tolerance;
    if (!context_.resumed || tolerance <= 0.0) return false;
    const std::optional<DualityCertificate> certificate =
        duality_certificate(context_.comm, *engine_, *network_, *objective_, context_.data.train);
    return certificate && certificate->within(tolerance);
  }

  // Resuming a finished run trains nothing and changes nothing in its directory (resume is idempotent,
  // so a scheduler may resume a trial whose end it missed); it reports the result read back from
  // metrics.jsonl. Only a run that died between its last checkpoint and its outputs (no finished marker
  // yet) gets them written now, from that checkpoint.
  void report_finished() {
    Communicator& comm = context_.comm;
    const std::filesystem::path out(context_.config.out);
    std::byte outputs_missing =
        comm.is_root() && !std::filesystem::exists(finished_marker(out)) ? std::byte{1} : std::byte{0};
    comm.broadcast(std::span<std::byte>(&outputs_missing, 1), 0);
    const nlohmann::json last_record = comm.is_root() ? last_evaluation_record(out) : nlohmann::json::object();
    if (comm.is_root()) fmt::print("normscale: the run in {} has already finished; nothing to train\n", out.string());
    if (outputs_missing != std::byte{0}) return finish(last_record);
    if (comm.is_root()) print_summary(last_record);
  }

  void finish(const nlohmann::json& last_record) {
    const TrainConfig& config = context_.config;
    engine_->flush_multipliers();
    engine_->sync_to_host();
    if (const MultiplierStore* store = objective_->multipliers()) {
      export_multipliers(config.out, context_.comm, *store, context_.data.train, config.gallery);
    }
    if (!context_.comm.is_root()) return;
    write_weights(config.out, *network_);
    print_summary(last_record);
  }

  void print_summary(const nlohmann::json& last_record) const {
    const std::string weight_norm =
        last_record.contains("weight_norm") ? fmt::format("{:.4g}", last_record["weight_norm"].get<double>()) : "n/a";
    std::string summary = fmt::format("normscale: done after {} steps ({:.2f} epochs): {}, weight norm {}",
                                      engine_->steps_done(), engine_->epochs_done(),
                                      describe_fit(last_record, {"train", "validation", "test"}), weight_norm);
    if (last_record.contains("support_fraction")) {
      summary += fmt::format(", support vectors {:.2f}%", 100.0 * last_record["support_fraction"].get<double>());
    }
    // "done" says the budget was trained, not that a hard margin was met. Its constraints are met only where every
    // training example is classified right (y f >= 1 > 0); the violated share is no test: at the solution the
    // support vectors sit on the margin, half of them a rounding error on the violated side.
    const double train_error = last_record.value("train_error", 0.0);
    if (last_record.contains("support_fraction") && std::isinf(context_.config.objective.C) && train_error > 0.0) {
      summary += fmt::format(
          "\nnormscale: {:.2f}% of the training set is misclassified, so the hard-margin constraints are not met and "
          "this is not a minimum-norm fit; hint: train longer, or allow slack with objective.C",
          train_error);
    }
    fmt::print("{}\nnormscale: run directory {}\n", summary, context_.config.out);
  }

  std::unique_ptr<Network<T>> network_;
  std::unique_ptr<Objective<T>> objective_;
  std::unique_ptr<TrainingEngine<T>> engine_;
  TrainingContext<T> context_;
  TrainingSchedule schedule_;
  RunCheckpoints<T> checkpoints_;
};

// Rank 0's part of a collective timeout: the event as one line appended to <out>/metrics.jsonl. It runs
// on the watchdog's thread just before the job is aborted, while the training thread waits inside the
// collective and so writes nothing (its log flushes whole lines): one write() to a descriptor opened
// with O_APPEND puts the line after the last one, with no buffer of its own left to flush.
Communicator::TimeoutRecord collective_timeout_record(const TrainConfig& config, bool is_root) {
  if (!is_root) return {};
  return [path = (std::filesystem::path(config.out) / "metrics.jsonl").string()](const CollectiveTimeout& timeout) {
    const nlohmann::json event = {{"event", "collective_timeout"},
                                  {"step", timeout.stalled.step},
                                  {"collective", timeout.stalled.collective},
                                  {"bytes", timeout.stalled.bytes},
                                  {"host", timeout.host},
                                  {"rank", timeout.rank},
                                  {"seconds", timeout.stalled.seconds},
                                  {"collective_timeout", timeout.timeout_seconds}};
    const std::string line = event.dump() + "\n";
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    NS_CHECK(fd >= 0, "cannot open {} to append the collective_timeout event: {}; hint: the run directory must stay "
             "writable",
             path, std::strerror(errno));
    const ssize_t written = ::write(fd, line.data(), line.size());
    const int write_errno = errno;
    ::close(fd);
    NS_CHECK(written == static_cast<ssize_t>(line.size()),
             "cannot append the collective_timeout event to {}: {}; hint: check the disk is not full", path,
             written < 0 ? std::strerror(write_errno) : "short write");
  };
}

}  // namespace

void run_training(const TrainConfig& config, Communicator& comm) {
  validate(config);
  // Before the first collective, so even loading the data cannot leave a rank waiting forever.
  comm.set_collective_timeout(std::chrono::duration<double>(config.collective_timeout),
                              collective_timeout_record(config, comm.is_root()));
  check_same_configuration(comm, config);
  // Rank 0 owns the run directory for the whole run, before anything in it is read or replaced; a
  // directory another trainer holds is every rank's error.
  std::optional<RunDirectoryLock> lock;
  throw_if_any_rank_failed(comm, error_of([&] {
    if (!comm.is_root()) return;
    // Said before the lock would create the directory: a refused run leaves nothing behind.
    NS_CHECK(!config.resume || std::filesystem::exists(config.out),
             "resume: run directory {} does not exist, so there is no checkpoint to resume; run without --resume (or "
             "resume=false) to start afresh",
             config.out);
    lock.emplace(config.out);
  }));
  if (config.threads > 0) set_gemm_threads(static_cast<int>(config.threads));
  const DataShard shard{comm.rank(), comm.size(), config.virtual_shards};
  throw_if_any_rank_failed(comm, error_of([&] { check_data_shard(shard); }));  // every rank's: said once
  // Each rank reads its shards only; preprocessing statistics are those of the whole training set.
  // A file missing or damaged on one node's view is every rank's error, said once.
  DataSplits data;
  std::uint64_t files_read = 0;
  throw_if_any_rank_failed(comm, error_of([&] {
    data = with_memory_context(
        fmt::format("loading data.source = \"{}\" (data.path = '{}')", config.data.source, config.data.path),
        "check the data files (a damaged header?), or lower data.train_limit / run on more ranks",
        [&] { return load_data(config.data, shard); });
    files_read = files_identity(data.files);
  }));
  // Each node may read its own copy of the files (node-local scratch): one stale or partial copy would mix
  // other examples into the run.
  check_same_on_all_ranks(comm, files_read,
                          fmt::format("the data files they read ({}: their sizes and first and last 64 KiB; a stale "
                                      "or partial copy on one node?)",
                                      first_and_more(data.files, 4)));
  const std::uint64_t fingerprint = data_fingerprint(comm, data.train);  // of the data as read
  const PreprocessStats local = local_preprocess_stats(data.train, config.data.preprocess);
  std::vector<double> sums = local.to_vector();
  double max_abs = local.max_abs;
  comm.allreduce_sum(std::span<double>(sums));
  comm.allreduce_max(std::span<double>(&max_abs, 1));
  finish_loading(data, config.data, PreprocessStats::from_vector(sums, max_abs));
  // Of values every rank holds alike: a refusal is every rank's, said once. So are the objective's own checks of
  // the data (the task against the labels, slack with regression): built here once, alone, before any collective
  // of the run's construction could leave a failed rank's peers waiting.
  throw_if_any_rank_failed(comm, error_of([&] {
                             validate_against_data(config, data.train.global_rows(), data.train.num_classes);
                             check_batch_norm_rows(config, data.train.global_rows(), comm.size());
                             make_objective<float>(config.objective, data.train, output_width(config, data.train));
                           }));
  if (has_hard_constraints(
          config.objective)) {  // of the inputs the model sees (after preprocessing), once the task fits
    const ConflictingExamples conflicts = conflicting_examples(comm, data.train);  // the same on every rank
    throw_if_any_rank_failed(comm,
                             error_of([&] { check_no_conflicting_examples(config, conflicts, data.train.name); }));
  }
  const char* hint = "lower model.hidden / model.channels or optim.batch (precision = \"float64\" needs twice the "
                     "memory of float32)";
  with_memory_context(fmt::format("building or training the model (model.type = \"{}\")", config.model.type),
                      hint, [&] {
                        if (config.precision == "float64") {
                          Run<double>(config, comm, data, fingerprint).train();
                        } else {
                          // bf16: a float network whose products take bf16 operands (model/gemm_backend.hpp on
                          // CPU ranks; cuBLAS's bf16 products on GPU ranks, CudaEngineOptions).
                          const bool cpu_bf16 = config.precision == "bf16" && config.device != "cuda";
                          const ScopedGemmPrecision products(cpu_bf16 ? GemmPrecision::kBf16 : GemmPrecision::kFloat32);
                          Run<float>(config, comm, data, fingerprint).train();
                        }
                      });
  if (lock && !std::filesystem::exists(finished_marker(config.out))) mark_run_finished(config.out);
}

}  // namespace normscale
