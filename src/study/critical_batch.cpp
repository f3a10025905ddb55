// McCandlish's critical batch size from the table's steps to target (see the header).
#include "normscale/study/critical_batch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

namespace normscale {

std::optional<CriticalBatchFit> fit_critical_batch(std::span<const BatchSteps> points) {
  std::set<double> batches;
  for (const BatchSteps& p : points) {
    if (p.steps > 0 && p.batch > 0) batches.insert(p.batch);
  }
  if (batches.size() < 2) return std::nullopt;
  // Least squares of y = 1/S on x = 1/E.
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  for (const BatchSteps& p : points) {
    if (!(p.steps > 0 && p.batch > 0)) continue;
    const double x = 1.0 / (p.steps * p.batch), y = 1.0 / p.steps;
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
  }
  const double vx = sxx - sx * sx / n, vy = syy - sy * sy / n, cxy = sxy - sx * sy / n;
  if (!(vx > 0)) return std::nullopt;
  const double slope = cxy / vx;
  const double intercept = (sy - slope * sx) / n;
  if (!(slope < 0 && intercept > 0)) return std::nullopt;
  CriticalBatchFit fit;
  fit.s_min = 1.0 / intercept;
  fit.b_crit = -slope;
  fit.e_min = fit.b_crit * fit.s_min;
  fit.r2 = vy > 0 ? cxy * cxy / (vx * vy) : 1.0;
  fit.points = static_cast<std::size_t>(n);
  return fit;
}

std::vector<RegimeSteps> steps_to_target_by_regime(const StudyData& data, const std::vector<TableRow>& rows) {
  // The smallest rank count with done trials of each (regime, batch), as the plots take it.
  std::map<std::pair<std::string, std::int64_t>, const TableRow*> primary;
  for (const TableRow* row : primary_rows(rows)) primary[{row->regime, row->batch}] = row;
  std::vector<RegimeSteps> result;
  for (const std::string& regime : data.regimes) {
    RegimeSteps r{regime, {}};
    for (const std::int64_t batch : data.batches) {
      const auto found = primary.find({regime, batch});
      if (found == primary.end() || found->second->steps_to_target.n == 0) continue;
      r.points.push_back({batch_size(data, batch), found->second->steps_to_target.mean});
    }
    result.push_back(std::move(r));
  }
  return result;
}

std::optional<double> b_simple_near_target(const ReportTrial& trial, const std::optional<MetricTarget>& target) {
  constexpr const char* kBSimple = "noise_scale.b_simple";
  std::optional<std::int64_t> reached;
  for (const MetricPoint& point : trial.metrics) {
    if (!target) break;
    const auto value = point.values.find(metric_key(target->metric));
    if (value != point.values.end() && value->second <= target->value) {
      reached = point.step;
      break;
    }
  }
  std::optional<double> nearest;
  std::int64_t nearest_distance = 0;
  for (const MetricPoint& point : trial.metrics) {
    const auto value = point.values.find(kBSimple);
    if (value == point.values.end() || !std::isfinite(value->second)) continue;
    if (!reached) {
      nearest = value->second;  // the metrics are by step: the last one stays
      continue;
    }
    const std::int64_t distance = std::abs(point.step - *reached);
    if (!nearest || distance < nearest_distance) {  // ties: the earlier evaluation
      nearest = value->second;
      nearest_distance = distance;
    }
  }
  return nearest;
}

MeasuredNoiseScale measured_noise_scale(const StudyData& data, const std::vector<TableRow>& rows,
                                        const std::string& regime) {
  std::vector<double> values;
  for (const TableRow& row : rows) {
    // The fit's grid points only: a batch size that never reached the target is not in the fit (its selected point's
    // last evaluation was taken too).
    if (row.regime != regime || row.fastest_grid_label.empty()) continue;
    const std::string& point = row.fastest_grid_label;
    for (const ReportTrial& trial : data.trials) {
      if (trial.record.regime != regime || trial.record.batch != row.batch || trial.record.ranks != row.ranks ||
          trial.grid_label != point || !trial.done()) {
        continue;
      }
      if (const auto b = b_simple_near_target(trial, data.target)) values.push_back(*b);
    }
  }
  return {median_of(values), values.size()};
}

std::vector<RegimeCriticalBatch> critical_batches(const StudyData& data, const std::vector<TableRow>& rows) {
  std::vector<RegimeCriticalBatch> result;
  for (RegimeSteps& r : steps_to_target_by_regime(data, rows)) {
    std::optional<CriticalBatchFit> fit = fit_critical_batch(r.points);
    MeasuredNoiseScale noise = measured_noise_scale(data, rows, r.regime);
    result.push_back({std::move(r.regime), std::move(r.points), fit, noise});
  }
  return result;
}

std::string critical_batch_markdown(const StudyData& data, const std::vector<RegimeCriticalBatch>& fits) {
  const std::string target = data.target ? target_text(*data.target) : std::string("the target");
  std::string text = fmt::format(
      "\n## Critical batch size\n\nMcCandlish et al. 2018: (S/S_min - 1)(E/E_min - 1) = 1 fitted to the steps S and "
      "examples E = S B to {0} across batch sizes (least squares of 1/S on 1/E); B_crit = E_min / S_min.{1} Beside it "
      "the simple noise scale B_simple = tr(Sigma) / |G|^2 the trials "
      "measured during training, which McCandlish compares with B_crit: per trial its value at the evaluation "
      "nearest to where the trial first reached {0} (B_noise grows as the loss falls, so it is read where B_crit is "
      "defined; the last evaluation when the trial never reached it), the median over the regime's trials at the "
      "fit's grid points. Only multi-rank trials measure it (it compares the per-rank and global gradients).\n\n"
      "| regime | B_crit | S_min | E_min | batch sizes reaching the target | r^2 | B_simple near the target "
      "(median) | B_simple / B_crit |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
      target,
      std::find(data.batches.begin(), data.batches.end(), kFullBatch) == data.batches.end()
          ? std::string()
          : fmt::format(
                " Batch \"full\" counts as {} examples{}.", data.full_batch_size,
                data.full_batch_recorded ? " (its trials' training set)" : " (the study file's full_batch_size)"));
  for (const RegimeCriticalBatch& r : fits) {
    const std::string b_simple = r.noise.b_simple ? fmt::format("{:.4g} ({} trial{})", *r.noise.b_simple,
                                                                r.noise.trials, r.noise.trials == 1 ? "" : "s")
                                                  : std::string("not measured");
    const std::string ratio = r.fit && r.noise.b_simple && r.fit->b_crit > 0
                                  ? fmt::format("{:.3g}", *r.noise.b_simple / r.fit->b_crit)
                                  : std::string(kMissing);
    if (r.fit) {
      text += fmt::format("| {} | {:.4g} | {:.4g} | {:.4g} | {} | {:.3f} | {} | {} |\n", markdown_cell(r.regime),
                          r.fit->b_crit, r.fit->s_min, r.fit->e_min, r.points.size(), r.fit->r2, b_simple, ratio);
    } else {
      text += fmt::format("| {} | — | — | — | {} | {} | {} | {} |\n", markdown_cell(r.regime), r.points.size(),
                          r.points.size() < 2 ? "fewer than two batch sizes reached the target"
                                              : "no trade-off between steps and examples (no fit)",
                          b_simple, ratio);
    }
  }
  return text;
}

}  // namespace normscale
