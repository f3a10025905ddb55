// The console progress line of rank 0 (config.progress): epoch, step, the latest errors, the training
// rate and the time left, redrawn at most every 250 ms between evaluations.
#pragma once

#include "normscale/metrics/progress.hpp"
#include "normscale/train/training_callback.hpp"

#include <chrono>
#include <cstdio>
#include <optional>

namespace normscale {

template <class T>
class ConsoleProgress final : public TrainingCallback<T> {
 public:
  // Only the printing rank creates one. The rate counts training steps only (evaluations and
  // checkpoints excluded), so it is stable right after an evaluation.
  explicit ConsoleProgress(std::FILE* out = stdout) : line_(out, 30.0) {}

  void step_taken(TrainingContext<T>& context, const StepReport& report) override;
  void evaluated(TrainingContext<T>& context, const nlohmann::json& record) override;
  void end(TrainingContext<T>& context) override;

 private:
  ProgressLine line_;
  double training_seconds_ = 0.0;
  Index training_samples_ = 0;
  std::chrono::steady_clock::time_point last_shown_ = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  std::optional<double> train_error_, validation_error_, train_loss_, validation_loss_;
};

}  // namespace normscale
