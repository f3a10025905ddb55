// The critical batch size of McCandlish et al. 2018 ("An empirical model of large-batch training"): the
// steps S and examples E = S B to reach a target across batch sizes B follow (S / S_min - 1)(E / E_min - 1) = 1,
// which is the straight line S_min / S + E_min / E = 1, i.e. 1/S = 1/S_min - B_crit (1/E) with
// B_crit = E_min / S_min. Fitted by least squares of 1/S on 1/E.
#pragma once

#include "normscale/study/report_data.hpp"
#include "normscale/study/report_table.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace normscale {

struct BatchSteps {
  double batch = 0.0;  // global batch size B
  double steps = 0.0;  // steps to the target S (> 0)
};

struct CriticalBatchFit {
  double s_min = 0.0;   // fewest steps (infinite batch)
  double e_min = 0.0;   // fewest examples (batch -> 0)
  double b_crit = 0.0;  // E_min / S_min
  double r2 = 0.0;      // of the straight-line fit in (1/E, 1/S)
  std::size_t points = 0;
};

// Nothing where fewer than two distinct batch sizes reached the target, or the fit has no trade-off between
// steps and examples (slope >= 0 or intercept <= 0).
std::optional<CriticalBatchFit> fit_critical_batch(std::span<const BatchSteps> points);

// Each (regime, batch)'s steps to target at its smallest rank count (the fastest grid point, as the table's),
// batch "full" counted as the study's full-batch size; per regime in study-file order, batches in study-file
// order, those that did not reach the target left out.
struct RegimeSteps {
  std::string regime;
  std::vector<BatchSteps> points;
};
std::vector<RegimeSteps> steps_to_target_by_regime(const StudyData& data, const std::vector<TableRow>& rows);

// McCandlish's simple noise scale B_simple = tr(Sigma) / |G|^2 as the trials measured it during training
// (metrics "noise_scale.b_simple"; only multi-rank trials log it: the estimate compares the per-rank and the
// global batch's gradients). B_noise grows as the loss falls (McCandlish §3), so it is read where B_crit is
// defined: at the evaluation nearest to the step where the trial first reached the study's target, or at its last
// evaluation when it never did (or the study has no target). Nothing when no evaluation has it.
std::optional<double> b_simple_near_target(const ReportTrial& trial, const std::optional<MetricTarget>& target);

struct MeasuredNoiseScale {
  std::optional<double> b_simple;  // the median over the trials that logged it
  std::size_t trials = 0;          // how many did
};
// Over the regime's done trials at the grid points the fit uses: each batch's fastest point to the target (its
// selected point when none reached it), at every rank count.
MeasuredNoiseScale measured_noise_scale(const StudyData& data, const std::vector<TableRow>& rows,
                                        const std::string& regime);

// The fit of each regime's points, with the noise scale its trials measured.
struct RegimeCriticalBatch {
  std::string regime;
  std::vector<BatchSteps> points;
  std::optional<CriticalBatchFit> fit;
  MeasuredNoiseScale noise;
};
std::vector<RegimeCriticalBatch> critical_batches(const StudyData& data, const std::vector<TableRow>& rows);

// The section of table.md: one line per regime with B_crit, S_min, E_min, the points, r^2, the measured B_simple
// and B_simple / B_crit.
std::string critical_batch_markdown(const StudyData& data, const std::vector<RegimeCriticalBatch>& fits);

}  // namespace normscale
