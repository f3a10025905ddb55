// The duality certificate of linear Minnorm, reduced over ranks, and the tolerance stop.
#include "normscale/train/duality_certificate.hpp"

#include "normscale/core/error.hpp"
#include "normscale/train/linear_dual.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

namespace normscale {

bool DualityCertificate::within(double tolerance) const {
  if (!hard) return relative_gap <= tolerance;
  return std::abs(relative_gap) <= tolerance && max_violation <= tolerance;
}

template <class T>
std::optional<DualityCertificate> duality_certificate(Communicator& comm, TrainingEngine<T>& engine,
                                                      const Network<T>& network, const Objective<T>& objective,
                                                      const Dataset& train) {
  const std::optional<LinearMinnorm> model = linear_minnorm(network, objective);
  if (!model) return std::nullopt;  // the same answer on every rank: it reads the configuration only
  engine.flush_multipliers();
  engine.sync_to_host();
  const MultiplierStore& store = *objective.multipliers();
  const MinnormParams& p = model->params;
  const bool regression = p.task == MinnormTask::kRegression;
  const double scale = svm_multiplier_scale(p, objective.traits(), engine.global_batch(), train.global_rows());
  const int outputs = static_cast<int>(model->outputs);

  // One allreduce: w(alpha), then the hinge sum and the dual's linear term.
  std::vector<double> sums = local_dual_weights(*model, train, store, scale);
  double hinge = 0.0, linear = 0.0, violation = 0.0;
  engine.forward_each_chunk(train, [&](std::span<const Index> rows, const Matrix<T>& f, const Matrix<T>&) {
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const Example<T> e = linear_example<T>(train, rows[k], f.row(static_cast<Index>(k)).data(), outputs, store);
      for (int c = 0; c < outputs; ++c) {
        const double r = MinnormRule::residual(p, e, c);
        linear += scale * e.alpha[c] * dual_target(p, e, c);
        if (regression) {
          violation = std::max(violation, std::abs(r));
        } else {
          hinge += std::max(0.0, r);
          violation = std::max(violation, r);
        }
      }
    }
  });
  sums.push_back(hinge);
  sums.push_back(linear);
  comm.allreduce_sum(std::span<double>(sums));
  comm.allreduce_max(std::span<double>(&violation, 1));
  linear = sums.back();
  sums.pop_back();
  hinge = sums.back();
  sums.pop_back();

  double dual_norm = 0.0;
  for (const double v : sums) dual_norm += v * v;
  DualityCertificate cert;
  const double C = scale * p.C;
  cert.hard = regression || std::isinf(C);
  cert.primal = 0.5 * network.squared_norm() + (cert.hard ? 0.0 : C * hinge);
  cert.dual = linear - 0.5 * dual_norm;
  cert.gap = cert.primal - cert.dual;
  cert.relative_gap = cert.primal != 0.0 ? cert.gap / std::abs(cert.primal) : cert.gap;
  cert.max_violation = violation;
  if (cert.hard) {
    cert.primal_lower_bound = linear == 0.0     ? 0.0
                              : dual_norm > 0.0 ? linear * linear / (2.0 * dual_norm)
                                                : std::numeric_limits<double>::infinity();
  }
  return cert;
}

template <class T>
void CertificateReadings<T>::check(const TrainingContext<T>& context) const {
  const double tolerance = context.config.objective.tolerance;
  NS_CHECK(tolerance == 0.0 || linear_minnorm(context.network, context.objective),
           "objective.tolerance = {} stops at the duality gap of a linear Minnorm model, which this run has not "
           "(objective.regime = {}, {} weight layer(s)); hint: use model.hidden = [] with objective.regime = minnorm "
           "(per-output multipliers), or objective.tolerance = 0",
           tolerance, context.config.objective.regime, context.network.weights().size());
}

template <class T>
void CertificateReadings<T>::evaluate(TrainingContext<T>& context, nlohmann::json& record) {
  last_ = duality_certificate(context.comm, context.engine, context.network, context.objective, context.data.train);
  if (!last_) return;
  record["primal"] = last_->primal;
  record["dual"] = last_->dual;
  record["duality_gap"] = last_->gap;
  record["relative_gap"] = last_->relative_gap;
  const bool regression = context.config.objective.task == "regression";
  record[regression ? "max_residual" : "max_violation"] = last_->max_violation;
  if (last_->hard && std::isfinite(last_->primal_lower_bound)) record["primal_lower_bound"] = last_->primal_lower_bound;
}

template <class T>
void CertificateReadings<T>::evaluated(TrainingContext<T>& context, const nlohmann::json& record) {
  const double tolerance = context.config.objective.tolerance;
  // Reduced values, the same on every rank: every rank stops after the same step.
  if (tolerance <= 0.0 || !last_ || !last_->within(tolerance)) return;
  log_.write_event({{"event", "stopped"}, {"reason", "tolerance"}, {"step", record["step"]},
                    {"epoch", record["epoch"]}, {"relative_gap", last_->relative_gap},
                    {"max_violation", last_->max_violation}, {"tolerance", tolerance}});
  context.stop_requested = true;
}

template std::optional<DualityCertificate> duality_certificate(Communicator&, TrainingEngine<float>&,
                                                               const Network<float>&, const Objective<float>&,
                                                               const Dataset&);
template std::optional<DualityCertificate> duality_certificate(Communicator&, TrainingEngine<double>&,
                                                               const Network<double>&, const Objective<double>&,
                                                               const Dataset&);
template class CertificateReadings<float>;
template class CertificateReadings<double>;

}  // namespace normscale
