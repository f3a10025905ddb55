// The duality certificate of linear Minnorm (ALGORITHMS "Multipliers at solver speed"): the SVM's primal at
// the model's weights, the dual at the multipliers and their gap, at each evaluation in metrics.jsonl, and
// objective.tolerance's stop when the relative gap falls below it.
//
// Soft margin (C finite): P(w) = 1/2 ||w||^2 + C sum max(0, 1 - y w.x), D(alpha) = sum alpha - 1/2 ||w(alpha)||^2
// with w(alpha) = sum alpha y x and alpha in [0, C]; weak duality gives P(w) - D(alpha) >= 0 for every w,
// zero exactly at the SVM. Hard margin: P(w) = 1/2 ||w||^2 is an upper bound only for a feasible w, so the
// largest violation max(0, 1 - y w.x) is reported beside the gap. Regression (the minimum-norm interpolant):
// D(alpha) = sum alpha y - 1/2 ||w(alpha)||^2 and the largest |y - w.x|. One-vs-all: summed over outputs.
// x includes the constant input 1 when the model has a bias; alpha and C are the SVM's
// (svm_multiplier_scale times the stored multipliers and objective.C).
#pragma once

#include "normscale/train/evaluation_log.hpp"
#include "normscale/train/training_callback.hpp"

#include <optional>

namespace normscale {

struct DualityCertificate {
  double primal = 0.0;
  double dual = 0.0;
  double gap = 0.0;           // primal - dual
  double relative_gap = 0.0;  // gap / |primal|
  bool hard = true;           // hard margin or regression: feasibility is measured by max_violation
  double max_violation = 0.0; // largest max(0, 1 - y w.x) (classification) or |y - w.x| (regression)
  // Hard margin and regression: S^2 / (2 ||w(alpha)||^2) with S the dual's linear term, a lower bound on
  // 1/2 ||w*||^2 of every solution w* (sum alpha_i t_i = w*.w(alpha) <= ||w*|| ||w(alpha)||), the dual's best
  // along alpha's ray, P* at the solution. Where the constraints have no solution (data the model cannot
  // separate) the dual grows without bound and so does this. Infinite (not recorded) where w(alpha) = 0.
  double primal_lower_bound = 0.0;

  // Within `tolerance`: the relative gap (in absolute value where the primal is not a bound) and, where
  // feasibility is not built in, the largest violation.
  bool within(double tolerance) const;
};

// Collective: the certificate of a linear Minnorm run over the whole training set; nullopt (on every rank)
// for any other run. The engine's host copies must be current (sync_to_host).
template <class T>
std::optional<DualityCertificate> duality_certificate(Communicator& comm, TrainingEngine<T>& engine,
                                                      const Network<T>& network, const Objective<T>& objective,
                                                      const Dataset& train);

// The training callback: "primal", "dual", "duality_gap", "relative_gap" and "max_violation" (classification)
// or "max_residual" (regression) in each evaluation record; with objective.tolerance > 0 a
// {"event": "stopped", "reason": "tolerance"} line and the end of the run once the certificate is within it.
template <class T>
class CertificateReadings final : public TrainingCallback<T> {
 public:
  explicit CertificateReadings(EvaluationLog<T>& log) : log_(log) {}

  // Refuses objective.tolerance > 0 on a run that has no certificate.
  void check(const TrainingContext<T>& context) const override;
  void evaluate(TrainingContext<T>& context, nlohmann::json& record) override;
  void evaluated(TrainingContext<T>& context, const nlohmann::json& record) override;

 private:
  EvaluationLog<T>& log_;
  std::optional<DualityCertificate> last_;
};

}  // namespace normscale
