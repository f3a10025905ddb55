// Noise-scale samples in, estimates out; the samples are reduced values, so every rank's estimate agrees.
#include "normscale/train/noise_scale_monitor.hpp"

namespace normscale {

template <class T>
void NoiseScaleMonitor<T>::step_taken(TrainingContext<T>& context, const StepReport& report) {
  const StepStats& s = report.stats;
  if (s.small_batch > 0) {
    context.noise_scale.update(s.small_batch_grad_sq, s.big_batch_grad_sq, s.small_batch,
                               static_cast<double>(s.examples));
  }
}

template <class T>
void NoiseScaleMonitor<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  // One rank has no small batches to compare: it samples nothing, and averages restored from a multi-rank
  // checkpoint would be reported unchanged at every evaluation.
  if (context.comm.size() < 2) return;
  if (const NoiseScaleEstimate n = context.noise_scale.estimate(); n.available) {
    record["noise_scale"] = {{"b_simple", n.b_simple}, {"gradient_sq", n.gradient_sq},
                             {"trace_sigma", n.trace_sigma}, {"samples", n.updates}};
  }
}

template class NoiseScaleMonitor<float>;
template class NoiseScaleMonitor<double>;

}  // namespace normscale
