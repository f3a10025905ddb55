// The evaluation record and metrics.jsonl: at each evaluation the error and loss of every split, the
// weight norms and the step times since the last evaluation (Minnorm's multipliers: MultiplierReadings);
// rank 0 writes the finished record (with every other callback's fields) as one line of the log. The
// first record a run (or a resumed run) writes also says which GEMM kernels run its products ("gemm").
#pragma once

#include "normscale/metrics/metrics_log.hpp"
#include "normscale/metrics/weight_metrics.hpp"
#include "normscale/train/training_callback.hpp"

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>

namespace normscale {

// A number of an evaluation record, or none where the record lacks it (a regression run has no *_error).
std::optional<double> record_number(const nlohmann::json& record, const std::string& key);

// An evaluation record's fit on the given splits ("train", "validation", "test"), e.g. "train error 1.20%,
// validation n/a": the error where the record has one, else the loss (a regression run's records).
std::string describe_fit(const nlohmann::json& record, std::initializer_list<const char*> splits);

template <class T>
class EvaluationLog final : public TrainingCallback<T> {
 public:
  // Rank 0 opens <out>/metrics.jsonl: a fresh run truncates it; a resumed run drops the records a
  // killed run logged after the checkpoint it resumes from (they will be logged again) and appends.
  void begin(TrainingContext<T>& context) override;
  void step_taken(TrainingContext<T>& context, const StepReport& report) override;
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;
  void evaluated(TrainingContext<T>& context, const nlohmann::json& record) override;

  // Writes a record that is not an evaluation (an event) to the log; a no-op on ranks other than 0.
  void write_event(const nlohmann::json& event);

 private:
  // Step times and bytes accumulated between two evaluations. The process's first step (its warm-up: JIT kernels,
  // first-touch allocations, ranks waiting for each other's start) is kept apart as well, so that the per-step
  // times describe the steady step that the scaling report's model projects.
  struct Interval {
    Index steps = 0;
    Index samples = 0;
    double compute = 0, comm = 0, multiplier = 0, bytes = 0;
    std::optional<StepStats> warmup;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  };

  std::optional<JsonlWriter> log_;
  SpectralNormTracker spectral_;
  Interval interval_;
  bool warmed_up_ = false;
  bool provenance_recorded_ = false;
};

}  // namespace normscale
