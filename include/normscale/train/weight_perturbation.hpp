// Perturb-and-retrain as a training callback (config.perturb): at the end of the step that completes
// epoch e, e + every, ... (not after `until`, not at the run's last step), every layer's parameters get
// Gaussian noise; e is perturb.start, or by default the first multiple of `every` at or after the first
// evaluation with zero training error (a value every rank has; a resumed run finds it in metrics.jsonl).
// The noise is a function of (seed, step, layer) only, so every rank adds the same and a resumed run
// repeats the perturbations the first run made. Register it after the
// checkpoints: a checkpoint at a perturbation's step holds the weights before it, and a run resumed
// there makes it first (so a run that ended at that step and is resumed for more agrees with one that
// went straight on).
#pragma once

#include "normscale/model/network.hpp"
#include "normscale/train/perturb_config.hpp"
#include "normscale/train/training_callback.hpp"

#include <cstdint>

namespace normscale {

// Adds N(0, sd_l^2) to every parameter of each layer l with parameters, sd_l = config.sd if > 0, else
// config.scale times the (population) sd of that layer's parameters. Returns the squared norm of the noise.
template <class T>
double perturb_parameters(Network<T>& network, const PerturbConfig& config, std::uint64_t seed, Index step);

template <class T>
class WeightPerturbation final : public TrainingCallback<T> {
 public:
  void begin(TrainingContext<T>& context) override;
  // Adds "perturbations": how many were made before this step's end.
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;
  // Starts the schedule at the first evaluation with zero training error (perturb.start = 0).
  void evaluated(TrainingContext<T>& context, const nlohmann::json& record) override;
  void step_end(TrainingContext<T>& context, Index step) override;

 private:
  Index step_of(TrainingContext<T>& context, std::int64_t epoch) const;
  bool scheduled(const PerturbConfig& config) const;
  // The schedule's first epoch for a fit found at `step`: the first multiple of `every` at or after it.
  void start_after_fit(TrainingContext<T>& context, Index step);

  std::int64_t next_epoch_ = 0;  // epoch of the next perturbation; 0: waiting for the fit
  Index done_ = 0;               // perturbations made so far
};

}  // namespace normscale
