// The hooks through which a training run's concerns (the metrics log, checkpoints, the divergence
// guard, the progress line, the noise scale, the instruments) follow the loop, in the manner of
// ensmallen's callbacks (BeginOptimization, StepTaken, Evaluate, EndOptimization).
//
// The contract: every rank registers the same callbacks in the same order, and the loop calls every
// hook on every rank, so a hook may use collectives. When the loop evaluates is a pure function of
// the step (TrainingSchedule); a hook that decides something which changes the collectives that
// follow (stop the run by throwing, write a checkpoint) decides it from the step or from values that
// are the same on every rank (StepStats, an evaluation record), never from a clock or a local file.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/metrics/noise_scale.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/training_engine.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace normscale {

// What every hook may reach. The host network and multipliers are current only after
// engine.sync_to_host() (the loop syncs before an evaluation).
template <class T>
struct TrainingContext {
  const TrainConfig& config;
  Communicator& comm;
  const DataSplits& data;  // this rank's rows of each split
  Network<T>& network;
  Objective<T>& objective;
  TrainingEngine<T>& engine;
  Index total_steps = 0;   // the loop ends when engine.steps_done() reaches it
  Index evaluation_every = 1;  // the evaluations' cadence (the loop evaluates after the last step too)
  bool resumed = false;    // continues from a checkpoint (engine.steps_done() is its step)
  // ... written at a step the run evaluated at: its state is what that evaluation saw (set by the loop)
  bool resumed_at_evaluation = false;
  // ||W_l||_F^2 of every weight matrix at initialisation (also in a resumed run), for the norm growth
  // the log reports; empty: not reported.
  std::vector<double> initial_squared_norms;
  // The gradient noise scale's moving averages (several ranks: NoiseScaleMonitor feeds them): run state, carried by
  // checkpoints like the network, so that a resumed run reports what the uninterrupted one does.
  GradientNoiseScale noise_scale{};
  // Set by a hook at an evaluation, from values every rank shares (the record): the loop ends after this
  // step's hooks (a converged run, objective.tolerance), before total_steps.
  bool stop_requested = false;
  // The evaluation under way's pass over the training set (error, loss and dual terms), made by the first hook
  // that asks and shared by the rest: a second forward pass over the training set costs as much as the first.
  // The loop forgets it when the evaluation ends.
  std::optional<TrainingSetEvaluation> train_evaluation_made = std::nullopt;
  const TrainingSetEvaluation& train_evaluation() {
    if (!train_evaluation_made) train_evaluation_made = engine.evaluate_training_set();
    return *train_evaluation_made;
  }
};

// One step, as step_taken sees it.
struct StepReport {
  StepStats stats;                  // reduced over ranks (timings excepted: this rank's)
  Index step = 0;                   // steps done, this one included
  double seconds = 0.0;             // wall time of engine.step() on this rank
  bool evaluation_follows = false;  // the loop evaluates after this step (the host network is then current)
};

template <class T>
class TrainingCallback {
 public:
  virtual ~TrainingCallback() = default;

  // Before anything in the run directory changes (every rank, alike): refuses, by throwing, a run this
  // callback cannot serve, so that a refused run leaves the directory as it was.
  virtual void check(const TrainingContext<T>& /*context*/) const {}
  // Once, before the first step (and before a fresh run's evaluation at step 0).
  virtual void begin(TrainingContext<T>& /*context*/) {}
  // After every step, before the evaluation that may follow it.
  virtual void step_taken(TrainingContext<T>& /*context*/, const StepReport& /*report*/) {}
  // At an evaluation: add fields to its record, which holds "step" and "epoch" and what the callbacks
  // registered earlier added (collectives allowed).
  virtual void evaluate(TrainingContext<T>& /*context*/, nlohmann::json& /*record*/) {}
  // After every callback's evaluate: the complete record.
  virtual void evaluated(TrainingContext<T>& /*context*/, const nlohmann::json& /*record*/) {}
  // After step_taken and the evaluation, if any: the step is over.
  virtual void step_end(TrainingContext<T>& /*context*/, Index /*step*/) {}
  // Once, after the last step.
  virtual void end(TrainingContext<T>& /*context*/) {}
};

}  // namespace normscale
