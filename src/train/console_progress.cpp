// The progress line's state from the steps and the evaluation records.
#include "normscale/train/console_progress.hpp"

#include "normscale/train/evaluation_log.hpp"

namespace normscale {

template <class T>
void ConsoleProgress<T>::step_taken(TrainingContext<T>& context, const StepReport& report) {
  training_seconds_ += report.seconds;
  training_samples_ += report.stats.examples;
  // An evaluation follows: the line is redrawn with its errors at the next step.
  const auto now = std::chrono::steady_clock::now();
  if (report.evaluation_follows || now - last_shown_ <= std::chrono::milliseconds(250)) return;
  const TrainingEngine<T>& engine = context.engine;
  ProgressState state;
  state.epoch = engine.epochs_done();
  state.step = engine.steps_done();
  state.total_steps = context.total_steps;
  state.train_error = train_error_;
  state.validation_error = validation_error_;
  state.train_loss = train_loss_;
  state.validation_loss = validation_loss_;
  state.samples_per_second = training_seconds_ > 0 ? static_cast<double>(training_samples_) / training_seconds_ : 0.0;
  if (state.samples_per_second > 0) {
    state.eta_seconds =
        static_cast<double>((context.total_steps - state.step) * engine.global_batch()) / state.samples_per_second;
  }
  line_.update(state);
  last_shown_ = std::chrono::steady_clock::now();
}

template <class T>
void ConsoleProgress<T>::evaluated(TrainingContext<T>& /*context*/, const nlohmann::json& record) {
  // Regression records have losses and no errors.
  train_error_ = record_number(record, "train_error");
  validation_error_ = record_number(record, "validation_error");
  train_loss_ = record_number(record, "train_loss");
  validation_loss_ = record_number(record, "validation_loss");
}

template <class T>
void ConsoleProgress<T>::end(TrainingContext<T>& /*context*/) {
  line_.finish();
}

template class ConsoleProgress<float>;
template class ConsoleProgress<double>;

}  // namespace normscale
