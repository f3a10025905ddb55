// Stops a diverging run with what went wrong, where, and what is still good.
#include "normscale/train/divergence_guard.hpp"

#include "normscale/core/error.hpp"
#include "normscale/train/evaluation_log.hpp"

#include <cmath>
#include <limits>

namespace normscale {

namespace {

// The layer to blame: the first with non-finite weights, else the one with the largest weight.
template <class T>
std::string describe_weights_at_divergence(const Network<T>& network) {
  const std::string nonfinite = network.first_nonfinite_layer();
  if (!nonfinite.empty()) return "first non-finite weights in " + nonfinite;
  std::string layer;
  double largest = -1.0;
  for (const auto& w : network.weights()) {
    const double m = static_cast<double>(w.matrix.cwiseAbs().maxCoeff());
    if (m > largest) {
      largest = m;
      layer = w.name;
    }
  }
  return fmt::format("weights still finite, the largest |w| = {:.3g} in {}", largest, layer);
}

}  // namespace

bool step_diverged(const StepStats& stats, double limit) {
  const double loss = stats.loss_sum / static_cast<double>(stats.examples);
  return !std::isfinite(loss) || std::abs(loss) > limit;
}

template <class T>
void DivergenceGuard<T>::step_taken(TrainingContext<T>& context, const StepReport& report) {
  const TrainConfig& config = context.config;
  TrainingEngine<T>& engine = context.engine;
  // A NaN is said as "nan" whatever its sign bit ("-nan" reads as a value).
  const double mean = report.stats.loss_sum / static_cast<double>(report.stats.examples);
  const double loss = std::isnan(mean) ? std::numeric_limits<double>::quiet_NaN() : mean;
  const bool loss_diverged = step_diverged(report.stats, config.divergence_limit);
  // The step's loss is the one before its update: an update that overflowed the weights shows in them alone, and
  // the evaluation that follows must not meet them (weights are the same on every rank: every rank stops). Before an
  // evaluation the loop has made the host network current.
  const bool weights_diverged =
      !loss_diverged && report.evaluation_follows && !context.network.first_nonfinite_layer().empty();
  if (!loss_diverged && !weights_diverged) return;
  if (!report.evaluation_follows) engine.sync_to_host();
  const std::string what =
      loss_diverged ? fmt::format("mean loss {} over the minibatch (limit {} = {:g})", loss, "divergence_limit",
                                  config.divergence_limit)
                    : fmt::format("the step's update made the weights non-finite (mean loss {} before it)", loss);
  stop(context, what, loss);
}

template <class T>
void DivergenceGuard<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  // The evaluation's figures so far (every rank's record holds the same reduced values): a non-finite one is a
  // divergence the minibatch loss did not show (multipliers that overflowed, outputs beyond float range), and
  // neither this record nor a checkpoint of this state may be written as a good one.
  for (const char* key : {"train_loss", "lagrangian", "alpha_max", "alpha_mean", "complementary_slackness",
                          "validation_loss", "test_loss"}) {
    if (!record.contains(key) || !record[key].is_number() || std::isfinite(record[key].template get<double>())) {
      continue;
    }
    const std::string name = key;
    const bool held_out = name == "validation_loss" || name == "test_loss";
    const std::string split = name.substr(0, name.find('_'));
    const std::string what =
        held_out ? fmt::format(
                       "the {} loss is {} (the training set's is {}): some {} examples give outputs beyond "
                       "the float range (check that their features are on the training data's scale, "
                       "data.preprocess)",
                       split, record[key].template get<double>(), record["train_loss"].template get<double>(), split)
                 : fmt::format("the evaluation's {} is {}", key, record[key].template get<double>());
    stop(context, what, record["train_loss"].template get<double>());
  }
}

template <class T>
void DivergenceGuard<T>::stop(TrainingContext<T>& context, const std::string& what, double loss) {
  const TrainConfig& config = context.config;
  TrainingEngine<T>& engine = context.engine;
  const std::string where = describe_weights_at_divergence(context.network);
  const std::string last_good =
      last_good_ ? fmt::format("step {} ({})", last_good_->step, last_good_->figures) : std::string("none");
  log_.write_event({{"event", "diverged"}, {"step", engine.steps_done()}, {"epoch", engine.epochs_done()},
                    {"loss", std::isfinite(loss) ? nlohmann::json(loss) : nlohmann::json(nullptr)}});
  const std::string hint =
      config.objective.regime == "minnorm"
          ? "lower optim.lr or objective.s, or raise objective.rho (the published paper-minnorm-sgd preset is known "
            "to diverge; paper-minnorm-sgd-rho is its stable variant)"
          : "lower optim.lr, or check the scale of the inputs (data.preprocess) and of the initial weights "
            "(model.init_scale)";
  // Every rank stops here at the same step with the same message: the loss is the allreduced one of the global
  // minibatch, the evaluation's figures are reduced, and the weights are the same on every rank. So it is said
  // once, by rank 0, and the job ends without MPI_Abort (Failures.ADivergedRunIsSaidOnceAndEndsEveryRank).
  throw AgreedError(fmt::format(
      "training diverged at step {} (epoch {:.2f}): {}; {}. Last good evaluation: {}. Everything written to {} so "
      "far is intact. Hint: {}.",
      engine.steps_done(), engine.epochs_done(), what, where, last_good, config.out, hint));
}

template <class T>
void DivergenceGuard<T>::evaluated(TrainingContext<T>& context, const nlohmann::json& record) {
  // An evaluation whose training loss is already beyond the limit a step's loss is held to is no good one (the
  // minibatch that crosses it may come later).
  const auto loss = record.find("train_loss");
  if (loss != record.end() && loss->is_number() &&
      !(std::abs(loss->get<double>()) <= context.config.divergence_limit)) {
    return;
  }
  last_good_ = LastGood{record["step"].get<Index>(), describe_fit(record, {"train", "validation"})};
}

template class DivergenceGuard<float>;
template class DivergenceGuard<double>;

}  // namespace normscale
