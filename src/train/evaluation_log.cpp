// The evaluation record's own fields and the metrics log it goes to.
#include "normscale/train/evaluation_log.hpp"

#include "normscale/core/atomic_file.hpp"
#include "normscale/model/gemm_backend.hpp"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>

namespace normscale {

namespace {

template <class T>
bool has_convolutions(const Network<T>& network) {
  for (std::size_t i = 0; i < network.layer_count(); ++i) {
    if (network.layer(i).kind().starts_with("conv2d")) return true;
  }
  return false;
}

// Drops the evaluations a killed run logged after its last checkpoint, so they are not repeated.
void trim_metrics_after(const std::string& path, Index step) {
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || record.value("step", Index{0}) > step) continue;
    kept += line + "\n";
  }
  write_file_atomically(path, kept);
}

}  // namespace

std::optional<double> record_number(const nlohmann::json& record, const std::string& key) {
  const auto value = record.find(key);
  return value != record.end() && value->is_number() ? std::optional<double>(value->get<double>()) : std::nullopt;
}

std::string describe_fit(const nlohmann::json& record, std::initializer_list<const char*> splits) {
  std::string text;
  for (const char* split : splits) {
    if (!text.empty()) text += ", ";
    if (const auto error = record_number(record, fmt::format("{}_error", split))) {
      text += fmt::format("{} error {:.2f}%", split, *error);
    } else if (const auto loss = record_number(record, fmt::format("{}_loss", split))) {
      text += fmt::format("{} loss {:.4g}", split, *loss);
    } else {
      text += fmt::format("{} n/a", split);
    }
  }
  return text;
}

template <class T>
void EvaluationLog<T>::begin(TrainingContext<T>& context) {
  interval_ = Interval{};
  warmed_up_ = false;
  provenance_recorded_ = false;
  if (!context.comm.is_root()) return;
  const std::string path = (std::filesystem::path(context.config.out) / "metrics.jsonl").string();
  if (context.resumed) trim_metrics_after(path, context.engine.steps_done());
  log_.emplace(path, context.resumed ? JsonlWriter::Mode::kAppend : JsonlWriter::Mode::kTruncate);
}

template <class T>
void EvaluationLog<T>::step_taken(TrainingContext<T>& /*context*/, const StepReport& report) {
  const StepStats& s = report.stats;
  ++interval_.steps;
  interval_.samples += s.examples;
  interval_.compute += s.compute_seconds;
  interval_.comm += s.comm_seconds;
  interval_.multiplier += s.multiplier_seconds;
  interval_.bytes += s.bytes_reduced;
  if (!warmed_up_) interval_.warmup = s;
  warmed_up_ = true;
}

template <class T>
void EvaluationLog<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  TrainingEngine<T>& engine = context.engine;
  if (!provenance_recorded_) {
    // GPU ranks run cuBLAS (with the products the configuration asks for); the CPU back end is chosen at start-up
    // from the CPU's features.
    record["gemm"] = context.config.device != "cuda"       ? gemm_kernel_family<T>()
                     : context.config.precision == "bf16" ? std::string("cublas (bf16 products, fp32 accumulation)")
                     : context.config.cuda_tf32           ? std::string("cublas (tf32 products)")
                                                          : std::string("cublas");
    // A CPU network's convolutions, where it has any: oneDNN's direct convolution or im2col + GEMM.
    if (context.config.device != "cuda" && has_convolutions(context.network)) {
      record["conv"] = convolution_kernel_family<T>();
    }
    // "mpi", or "local" for a training started alone (no MPI launcher).
    record["comm"] = context.comm.backend();
    // The training set's size: what batch "full" means (the study report counts its examples by it).
    record["train_examples"] = context.data.train.global_rows();
    provenance_recorded_ = true;
  }
  // A regression run has no classification errors: its records carry the losses alone (an error of 0% would
  // read as a perfect fit, and a study would find every trial at its target at step 0).
  const bool classifies = context.data.train.is_classification();
  const EvalStats& train = context.train_evaluation().stats;
  if (classifies) record["train_error"] = train.error_percent();
  record["train_loss"] = train.mean_loss();
  for (const auto& [name, split] : {std::pair<const char*, const Dataset*>{"validation", &context.data.validation},
                                    std::pair<const char*, const Dataset*>{"test", &context.data.test}}) {
    if (split->global_rows() == 0) continue;  // the whole split: a rank may hold none of its rows
    const EvalStats e = engine.evaluate(*split);
    if (classifies) record[std::string(name) + "_error"] = e.error_percent();
    record[std::string(name) + "_loss"] = e.mean_loss();
  }
  const WeightMetrics norms = spectral_.evaluate(context.network.weights());
  record["weight_norm"] = norms.weight_norm;
  // Every trained parameter, biases (and batch norm's scales and shifts) too: the norm that Minnorm's objective and
  // weight decay act on; weight_norm, the layer norms and rho are the weight matrices' (homogeneous networks).
  record["parameter_norm"] = context.network.squared_norm();
  record["rho"] = norms.rho;
  record["capacity_bound"] = norms.capacity_bound;
  nlohmann::json layers = nlohmann::json::array();
  // Theory III §7: under gradient flow the squared norms of all layers of a homogeneous network grow at the
  // same rate, so ||W_l||^2 - ||W_l(0)||^2 is the same for every l; the spread measures how far it is.
  const std::vector<double>& initial = context.initial_squared_norms;
  const bool growth = initial.size() == norms.layers.size() && norms.layers.size() >= 2;
  double low = std::numeric_limits<double>::infinity(), high = -low, sum = 0.0;
  for (std::size_t l = 0; l < norms.layers.size(); ++l) {
    const LayerNorms& n = norms.layers[l];
    layers.push_back({{"name", n.name}, {"frobenius", n.frobenius}, {"spectral", n.spectral},
                      {"stable_rank", n.stable_rank}});
    if (!growth) continue;
    const double g = n.frobenius * n.frobenius - initial[l];
    layers.back()["norm2_growth"] = g;
    low = std::min(low, g);
    high = std::max(high, g);
    sum += g;
  }
  record["layers"] = layers;
  // Not before the norms have moved beyond rounding (at step 0 the growth is 0 / 0).
  const double mean = growth ? sum / static_cast<double>(norms.layers.size()) : 0.0;
  const double scale = growth ? std::accumulate(initial.begin(), initial.end(), 0.0) : 0.0;
  if (growth && std::abs(mean) > 1e-9 * scale) record["norm_growth_spread"] = (high - low) / std::abs(mean);
  const Interval& i = interval_;
  if (i.steps == 0) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - i.start).count();
  record["samples_per_s"] = seconds > 0 ? static_cast<double>(i.samples) / seconds : 0.0;
  record["time_compute_s"] = i.compute;
  record["time_comm_s"] = i.comm;
  record["time_multiplier_s"] = i.multiplier;
  record["bytes_reduced"] = i.bytes;
  record["steps"] = i.steps;
  // Per step: the steady step's times, the warm-up step left out where the interval has others (it is in the
  // totals above and in warmup_step_s).
  double compute = i.compute, comm = i.comm, multiplier = i.multiplier, steps = static_cast<double>(i.steps);
  if (i.warmup) {
    record["warmup_step_s"] = i.warmup->compute_seconds + i.warmup->comm_seconds + i.warmup->multiplier_seconds;
    if (i.steps > 1) {
      compute -= i.warmup->compute_seconds;
      comm -= i.warmup->comm_seconds;
      multiplier -= i.warmup->multiplier_seconds;
      steps -= 1.0;
    }
  }
  record["step_time_comm_s"] = comm / steps;
  record["step_time_compute_s"] = compute / steps;
  record["step_time_multiplier_s"] = multiplier / steps;
  // The record is rank 0's; a step lasts as long as its slowest rank, and rank 0's allreduce time includes
  // waiting for it. The slowest rank's compute and the least-waiting rank's allreduce (the transfer alone, near
  // enough) tell the scaling report's model what it misses. Every rank evaluates, so all take part.
  std::array<double, 2> extremes{compute / steps, -comm / steps};
  context.comm.allreduce_max(extremes);
  record["step_time_compute_max_s"] = extremes[0];
  record["step_time_comm_min_s"] = -extremes[1];
}

template <class T>
void EvaluationLog<T>::evaluated(TrainingContext<T>& /*context*/, const nlohmann::json& record) {
  if (log_) log_->write(record);
  interval_ = Interval{};
}

template <class T>
void EvaluationLog<T>::write_event(const nlohmann::json& event) {
  if (log_) log_->write(event);
}

template class EvaluationLog<float>;
template class EvaluationLog<double>;

}  // namespace normscale
