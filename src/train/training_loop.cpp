// The loop of `normscale train`: one place decides when the ranks step and evaluate (from the step
// alone); everything else is a callback.
#include "normscale/train/training_loop.hpp"

#include "normscale/comm/agreement.hpp"

#include <chrono>

namespace normscale {

template <class T>
void TrainingLoop<T>::check() const {
  throw_if_any_rank_failed(context_.comm, error_of([&] {
    for (const auto* callback : callbacks_) callback->check(context_);
  }));
}

template <class T>
nlohmann::json TrainingLoop<T>::run() {
  TrainingEngine<T>& engine = context_.engine;
  // A collective timeout names the step it stalled in: the one being taken, or during an evaluation or
  // checkpoint the one just taken.
  context_.comm.set_step(engine.steps_done());
  context_.resumed_at_evaluation = context_.resumed && evaluation_.due(engine.steps_done());
  for (auto* callback : callbacks_) callback->begin(context_);
  nlohmann::json last_record;
  if (!context_.resumed) {
    engine.sync_to_host();
    last_record = evaluate();
  }
  while (!context_.stop_requested && engine.steps_done() < context_.total_steps) {
    context_.comm.set_step(engine.steps_done() + 1);
    const auto start = std::chrono::steady_clock::now();
    StepReport report;
    report.stats = engine.step();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.step = engine.steps_done();
    report.evaluation_follows = evaluation_.due(report.step);
    // Once per evaluation, before step_taken: the divergence guard looks for non-finite weights in the host network
    // that the evaluation's callbacks then read.
    if (report.evaluation_follows) engine.sync_to_host();
    for (auto* callback : callbacks_) callback->step_taken(context_, report);
    if (report.evaluation_follows) last_record = evaluate();
    for (auto* callback : callbacks_) callback->step_end(context_, report.step);
  }
  for (auto* callback : callbacks_) callback->end(context_);
  return last_record;
}

template <class T>
nlohmann::json TrainingLoop<T>::evaluate() {
  nlohmann::json record = {{"step", context_.engine.steps_done()}, {"epoch", context_.engine.epochs_done()}};
  // An evaluation made only because the run ends here, between eval_every's (a shorter run, a halving rung): what
  // times a run to a target skips it unless it is the run's last, so a run stopped and resumed here times as one
  // that went straight through.
  if (context_.engine.steps_done() % evaluation_.every != 0) record["off_cadence"] = true;
  context_.train_evaluation_made.reset();
  for (auto* callback : callbacks_) callback->evaluate(context_, record);
  for (auto* callback : callbacks_) callback->evaluated(context_, record);
  context_.train_evaluation_made.reset();  // the steps that follow change it
  return record;
}

template class TrainingLoop<float>;
template class TrainingLoop<double>;

}  // namespace normscale
