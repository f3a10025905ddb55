// Builds the report's plots (series of points with titles) from the study data and the selected table rows.
#include "normscale/study/report_plots.hpp"

#include "normscale/study/performance_profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

namespace normscale {
namespace {

double batch_x(const StudyData& data, std::int64_t batch) {
  return batch == kFullBatch ? full_batch_x(data) : static_cast<double>(batch);
}

std::vector<std::pair<double, std::string>> batch_tics(const StudyData& data) {
  std::vector<std::pair<double, std::string>> tics;
  for (const std::int64_t batch : data.batches) tics.emplace_back(batch_x(data, batch), batch_label(batch));
  std::sort(tics.begin(), tics.end());
  return tics;
}

// The figure `key` of a row: a table column, or Shallue's steps / seconds to the target.
const Stat& stat_of(const TableRow& row, const std::string& key) {
  if (key == "steps_to_target") return row.steps_to_target;
  if (key == "seconds_to_target") return row.seconds_to_target;
  return row.stats.at(key);
}

// One figure vs global batch size, a series per regime (or per regime and rank count).
Plot versus_batch(const StudyData& data, const std::vector<TableRow>& rows, const std::string& key,
                  bool per_ranks) {
  Plot plot;
  plot.log2_x = true;
  plot.error_bars = true;
  plot.xlabel = "global batch size";
  plot.xtics = batch_tics(data);
  std::vector<const TableRow*> source;
  if (per_ranks) {
    for (const TableRow& row : rows) source.push_back(&row);
  } else {
    source = primary_rows(rows);
  }
  std::map<std::string, std::size_t> index;
  for (const TableRow* row : source) {
    const Stat& stat = stat_of(*row, key);
    if (stat.n == 0) continue;
    const std::string title = per_ranks && data.ranks.size() > 1
                                  ? fmt::format("{}, {} rank{}", row->regime, row->ranks, row->ranks == 1 ? "" : "s")
                                  : row->regime;
    auto [at, inserted] = index.emplace(title, plot.series.size());
    if (inserted) plot.series.push_back({title, {}});
    plot.series[at->second].points.push_back({batch_x(data, row->batch), stat.mean, stat.std});
  }
  for (PlotSeries& series : plot.series) {
    std::sort(series.points.begin(), series.points.end(),
              [](const PlotPoint& a, const PlotPoint& b) { return a.x < b.x; });
  }
  if (plot.empty()) plot.empty_reason = fmt::format("no done trial has a {} result", key);
  return plot;
}

// One metric over epochs, a series per (regime, batch), the mean over seeds at each evaluation step.
Plot over_training(const std::vector<TableRow>& rows, const std::string& key) {
  Plot plot;
  plot.xlabel = "epoch";
  for (const TableRow* row : primary_rows(rows)) {
    std::map<std::int64_t, std::pair<double, std::vector<double>>> by_step;  // step -> epoch, values
    for (const ReportTrial* trial : row->selected_trials) {
      for (const MetricPoint& point : trial->metrics) {
        const auto value = point.values.find(key);
        if (value == point.values.end()) continue;
        auto& slot = by_step[point.step];
        slot.first = point.epoch;
        slot.second.push_back(value->second);
      }
    }
    if (by_step.empty()) continue;
    PlotSeries series{fmt::format("{}, batch {}", row->regime, batch_label(row->batch)), {}};
    for (const auto& [step, slot] : by_step) {
      const Stat stat = summarize(slot.second);
      series.points.push_back({slot.first, stat.mean, 0.0});
    }
    plot.series.push_back(std::move(series));
  }
  if (plot.empty()) plot.empty_reason = fmt::format("no metrics record of a done trial has {}", key);
  return plot;
}

// Throughput of a trial: mean samples/s over its evaluations, else 1 / wall time (relative only).
std::optional<double> throughput(const ReportTrial& trial, bool samples_per_s) {
  if (samples_per_s) {
    std::vector<double> values;
    for (const MetricPoint& point : trial.metrics) {
      if (const auto v = point.values.find("samples_per_s"); v != point.values.end()) values.push_back(v->second);
    }
    if (values.empty()) return std::nullopt;
    return summarize(values).mean;
  }
  std::optional<double> wall = trial.result("wall_seconds");
  if (!wall) wall = trial.record.wall_seconds;
  if (!wall || *wall <= 0.0) return std::nullopt;
  return 1.0 / *wall;
}

// Speedup over the smallest rank count divided by the rank ratio, a series per (regime, batch).
Plot scaling_efficiency(const StudyData& data, const std::vector<TableRow>& rows) {
  Plot plot;
  plot.name = "scaling_efficiency";
  plot.title = "Scaling efficiency vs ranks (throughput at r ranks / (r x throughput at the fewest))";
  plot.xlabel = "ranks";
  plot.ylabel = "efficiency";
  plot.log2_x = true;
  plot.reference_y = {1.0};
  for (const std::int64_t r : data.ranks) plot.xtics.emplace_back(static_cast<double>(r), std::to_string(r));
  std::sort(plot.xtics.begin(), plot.xtics.end());
  if (data.ranks.size() < 2) {
    plot.empty_reason = "the study has one rank count (give ranks = [1, 2, ...] to measure scaling)";
    return plot;
  }
  for (const std::string& regime : data.regimes) {
    for (const std::int64_t batch : data.batches) {
      std::vector<const TableRow*> cells;
      for (const TableRow& row : rows) {
        if (row.regime == regime && row.batch == batch && row.done > 0) cells.push_back(&row);
      }
      // One measure for the whole series: samples/s when every cell has it, else wall time.
      for (const bool samples_per_s : {true, false}) {
        std::vector<std::pair<double, double>> measured;  // ranks, mean throughput
        for (const TableRow* row : cells) {
          std::vector<double> values;
          for (const ReportTrial* trial : row->selected_trials) {
            if (const auto t = throughput(*trial, samples_per_s)) values.push_back(*t);
          }
          if (!values.empty()) measured.emplace_back(static_cast<double>(row->ranks), summarize(values).mean);
        }
        if (measured.size() < 2 || measured.size() < cells.size()) continue;
        std::sort(measured.begin(), measured.end());
        PlotSeries series{fmt::format("{}, batch {}", regime, batch_label(batch)), {}};
        const auto [r0, t0] = measured.front();
        for (const auto& [r, t] : measured) series.points.push_back({r, (t / t0) / (r / r0), 0.0});
        plot.series.push_back(std::move(series));
        break;
      }
    }
  }
  if (plot.empty()) plot.empty_reason = "no (regime, batch) has timing data at two or more rank counts";
  return plot;
}

// Shallue et al.: the selected learning rate against batch size per regime, with the linear and square-root
// scaling lines from its smallest batch; and every grid point's learning rate marked by how its trials ended
// (all seeds reached the target, some did not, some diverged), the selected points starred.
std::vector<Plot> learning_rate_plots(const StudyData& data, const std::vector<TableRow>& rows) {
  Plot best;
  best.name = "best_lr_vs_batch";
  best.title = "Selected learning rate vs global batch size, with linear and square-root scaling from the smallest";
  best.xlabel = "global batch size";
  best.ylabel = "learning rate";
  best.log2_x = true;
  best.log_y = true;
  best.xtics = batch_tics(data);
  const auto actual = [&](std::int64_t batch) { return batch_size(data, batch); };
  for (const std::string& regime : data.regimes) {
    PlotSeries chosen{regime, {}};
    std::vector<std::pair<std::int64_t, double>> points;  // batch, lr
    for (const TableRow* row : primary_rows(rows)) {
      if (row->regime == regime && row->lr) points.emplace_back(row->batch, *row->lr);
    }
    std::sort(points.begin(), points.end(),
              [&](const auto& a, const auto& b) { return actual(a.first) < actual(b.first); });
    for (const auto& [batch, lr] : points) chosen.points.push_back({batch_x(data, batch), lr, 0.0});
    if (chosen.points.empty()) continue;
    best.series.push_back(chosen);
    if (points.size() < 2) continue;
    PlotSeries linear{regime + ": linear scaling", {}, SeriesStyle::kDashed};
    PlotSeries root{regime + ": square-root scaling", {}, SeriesStyle::kDashed};
    const double b0 = actual(points.front().first), lr0 = points.front().second;
    for (const auto& [batch, lr] : points) {
      linear.points.push_back({batch_x(data, batch), lr0 * actual(batch) / b0, 0.0});
      root.points.push_back({batch_x(data, batch), lr0 * std::sqrt(actual(batch) / b0), 0.0});
    }
    best.series.push_back(std::move(linear));
    best.series.push_back(std::move(root));
  }
  if (best.empty()) best.empty_reason = "no (regime, batch) has a selected point yet";

  Plot grid = best;
  grid.name = "lr_grid";
  grid.title = "Every grid point's learning rate by outcome (all regimes; the selected points starred)";
  grid.series.clear();
  PlotSeries reached{"all seeds reached the target", {}, SeriesStyle::kPoints};
  PlotSeries missed{"not reached by every seed", {}, SeriesStyle::kPoints};
  PlotSeries diverged{"diverged or failed", {}, SeriesStyle::kPoints};
  PlotSeries lower_rung{"at a lower rung (successive halving)", {}, SeriesStyle::kPoints};
  PlotSeries selected{fmt::format("selected (best mean {}; a point with a failed seed last)", metric_name(data.metric)),
                      {},
                      SeriesStyle::kStars};
  std::map<std::tuple<std::string, std::int64_t, std::string>, std::vector<const ReportTrial*>> cells;
  for (const ReportTrial& trial : data.trials) {
    if (trial.record.state == TrialState::kDone || trial.record.state == TrialState::kFailed) {
      cells[{trial.record.regime, trial.record.batch, trial.grid_label}].push_back(&trial);
    }
  }
  for (const auto& [key, trials] : cells) {
    const auto& [regime, batch, label] = key;
    bool all_reached = true, any_failed = false, any_short = false;
    for (const ReportTrial* t : trials) {
      any_failed = any_failed || t->record.state == TrialState::kFailed || t->result("diverged").value_or(0.0) > 0;
      any_short = any_short || t->short_of_budget;  // its figures are a lower budget's
      all_reached = all_reached && t->result("steps_to_target").has_value();
    }
    const PlotPoint point{batch_x(data, batch), trials.front()->lr, 0.0};
    (any_failed ? diverged : any_short ? lower_rung : all_reached ? reached : missed).points.push_back(point);
    for (const TableRow& row : rows) {
      if (row.regime == regime && row.batch == batch && row.selected && row.grid_label == label) {
        selected.points.push_back(point);
        break;
      }
    }
  }
  for (PlotSeries* series : {&reached, &missed, &diverged, &lower_rung, &selected}) {
    if (!series->points.empty()) grid.series.push_back(std::move(*series));
  }
  if (grid.empty()) grid.empty_reason = "no trial has ended yet";
  return {std::move(best), std::move(grid)};
}

// A logarithmic y axis cannot show values at or below 0 (gnuplot fails on a plot left with nothing else, as a
// steps-to-target plot whose target was met at step 0): such points are left out and the title says how many; a
// plot left with no point says why.
void leave_out_what_a_log_axis_cannot_show(Plot& plot) {
  if (!plot.log_y) return;
  std::size_t left_out = 0;
  for (PlotSeries& series : plot.series) {
    left_out += std::erase_if(series.points, [](const PlotPoint& p) { return std::isfinite(p.y) && p.y <= 0.0; });
  }
  std::erase_if(plot.series, [](const PlotSeries& series) { return series.points.empty(); });
  if (left_out == 0) return;
  if (plot.empty()) {
    plot.empty_reason = fmt::format("its {} value{} {} 0 or below, which a logarithmic axis cannot show", left_out,
                                    left_out == 1 ? "" : "s", left_out == 1 ? "is" : "are");
    return;
  }
  plot.title += fmt::format(" ({} point{} at 0 or below not drawn)", left_out, left_out == 1 ? "" : "s");
}

}  // namespace

double full_batch_x(const StudyData& data) {
  double largest = 0.0;
  for (const std::int64_t batch : data.batches) {
    if (batch != kFullBatch) largest = std::max(largest, static_cast<double>(batch));
  }
  return std::max(static_cast<double>(data.full_batch_size), 2.0 * largest);
}

std::vector<Plot> build_plots(const StudyData& data, const std::vector<TableRow>& rows) {
  std::vector<Plot> plots;

  // A regression study (select_by = "validation_loss") has losses where a classification study has errors.
  const bool errors = data.metric == StudyMetric::kValidationError;
  Plot error = versus_batch(data, rows, metric_test_key(data.metric), false);
  error.name = fmt::format("{}_vs_batch", metric_test_key(data.metric));
  error.title = fmt::format("Final test {} vs global batch size (selected hyperparameters, mean ± std over seeds)",
                            errors ? "error" : "loss");
  error.ylabel = errors ? "test error %" : "test loss";
  plots.push_back(std::move(error));

  Plot curves = over_training(rows, metric_key(data.metric));
  curves.name = "learning_curves";
  curves.title = fmt::format("Validation {} over training (selected hyperparameters, mean over seeds)",
                             errors ? "error" : "loss");
  curves.ylabel = std::string(metric_label(data.metric));
  plots.push_back(std::move(curves));

  const std::string target =
      data.target ? target_text(*data.target) : fmt::format("the target {}", metric_name(data.metric));
  const std::string no_target = fmt::format("the study sets no {}", target_key(data.metric));
  Plot steps = versus_batch(data, rows, "steps_to_target", false);
  steps.name = "steps_to_target";
  steps.title = fmt::format("Steps to {} vs global batch size (fastest grid point per batch)", target);
  steps.ylabel = "steps";
  steps.log_y = true;
  if (steps.empty() && !data.target) steps.empty_reason = no_target;
  // Shallue et al.: each regime's perfect-scaling line from its smallest batch, steps(B0) B0 / B; and the
  // examples to the target, steps x B (McCandlish's E), from the same points.
  Plot examples = steps;
  examples.name = "examples_to_target";
  examples.title = fmt::format("Examples to {} vs global batch size (steps x batch; fastest grid point)", target);
  examples.ylabel = "examples";
  const auto actual_batch = [&](double x) {
    const bool full = std::find(data.batches.begin(), data.batches.end(), kFullBatch) != data.batches.end();
    return full && x == full_batch_x(data) ? static_cast<double>(data.full_batch_size) : x;
  };
  for (PlotSeries& series : examples.series) {
    for (PlotPoint& p : series.points) {
      p.y *= actual_batch(p.x);
      p.error *= actual_batch(p.x);
    }
  }
  const std::size_t measured = steps.series.size();
  for (std::size_t i = 0; i < measured; ++i) {
    const PlotSeries& series = steps.series[i];
    if (series.points.size() < 2) continue;
    const PlotPoint& first = series.points.front();  // sorted by batch
    PlotSeries ideal{series.title + ": perfect scaling", {}};
    for (const PlotPoint& p : series.points) {
      ideal.points.push_back({p.x, first.y * actual_batch(first.x) / actual_batch(p.x), 0.0});
    }
    steps.series.push_back(std::move(ideal));
  }
  plots.push_back(std::move(steps));
  plots.push_back(std::move(examples));

  Plot seconds = versus_batch(data, rows, "seconds_to_target", true);
  seconds.name = "time_to_target";
  seconds.title = fmt::format("Time to {} vs global batch size (fastest grid point per batch)", target);
  seconds.ylabel = "seconds";
  seconds.log_y = true;
  if (seconds.empty() && !data.target) seconds.empty_reason = no_target;
  plots.push_back(std::move(seconds));

  for (Plot& plot : learning_rate_plots(data, rows)) plots.push_back(std::move(plot));

  // AlgoPerf's performance profiles: the share of batch sizes each regime reaches the target on within tau
  // times the fastest regime's steps.
  const PerformanceProfiles profiles = performance_profiles(steps_to_target_by_regime(data, rows));
  Plot profile;
  profile.name = "performance_profile";
  profile.title = fmt::format("Performance profiles: share of batch sizes reaching {} within tau x the fastest",
                              target);
  profile.xlabel = "tau";
  profile.ylabel = "share of workloads";
  constexpr int kTauPoints = 61;
  for (std::size_t i = 0; i < profiles.regimes.size() && profiles.workloads > 0; ++i) {
    PlotSeries series{profiles.regimes[i].regime, {}};
    for (int k = 0; k < kTauPoints; ++k) {
      const double tau = 1.0 + (profiles.tau_max - 1.0) * k / (kTauPoints - 1);
      series.points.push_back({tau, profiles.share(i, tau), 0.0});
    }
    profile.series.push_back(std::move(series));
  }
  if (profile.empty()) profile.empty_reason = "no regime reached the target at any batch size";
  plots.push_back(std::move(profile));

  Plot support = over_training(rows, "support_fraction");
  support.name = "support_fraction";
  support.title = "Support-vector fraction over training (Minnorm)";
  support.ylabel = "support fraction";
  if (support.empty()) support.empty_reason = "no trial records support_fraction (only Minnorm regimes do)";
  plots.push_back(std::move(support));

  // Metrics over training, each drawn where the trials record it: Minnorm's dual diagnostics (issue #13),
  // the weight norm and losses, and Theory III's instruments (issue #14).
  struct Curve {
    const char* key;
    const char* title;
    const char* ylabel;
    const char* recorded_by;  // appended to the note of a plot left out
  };
  for (const Curve& c : std::initializer_list<Curve>{
           {"constraints_violated", "Fraction of constraints violated over training (Minnorm)",
            "constraints violated", " (only Minnorm regimes do)"},
           {"support_churn", "Support-vector churn between evaluations (Minnorm)", "examples in or out",
            " (only Minnorm regimes do)"},
           {"weight_norm", "Weight norm over training", "weight norm", ""},
           {"train_loss", "Training loss over training", "training loss", ""},
           {"test_loss", "Test loss over training", "test loss", ""},
           {"rho", "rho = product of the layers' Frobenius norms over training", "rho", ""},
           {"normalized_margin", "Normalized margin min_n y_n f(x_n) / rho over training", "normalized margin",
            " (instruments = true records it)"},
           {"near_min_margin_fraction", "Share of training examples within 5% of the smallest margin", "share",
            " (instruments = true records it)"},
           {"norm_growth_spread", "Spread of the layers' squared-norm growth, (max - min) / mean (0: equal growth)",
            "spread", ""}}) {
    Plot curve = over_training(rows, c.key);
    curve.name = c.key;
    curve.title = c.title;
    curve.ylabel = c.ylabel;
    if (curve.empty()) curve.empty_reason = fmt::format("no trial records {}{}", c.key, c.recorded_by);
    plots.push_back(std::move(curve));
  }

  // Each layer's Frobenius norm over training (Theory III §7 and Fig. 11: every layer's norm grows), a series per
  // (regime, batch, layer).
  std::set<std::string> layer_keys;
  for (const ReportTrial& trial : data.trials) {
    for (const MetricPoint& point : trial.metrics) {
      for (const auto& [key, value] : point.values) {
        if (key.starts_with("layer") && key.ends_with(".frobenius")) layer_keys.insert(key);
      }
    }
  }
  Plot layers;
  layers.name = "layer_norms";
  layers.title = "Frobenius norm of each layer over training";
  layers.xlabel = "epoch";
  layers.ylabel = "Frobenius norm";
  // layer2 before layer10: by the number after "layer".
  std::vector<std::string> ordered(layer_keys.begin(), layer_keys.end());
  std::sort(ordered.begin(), ordered.end(), [](const std::string& a, const std::string& b) {
    return std::make_pair(a.size(), a) < std::make_pair(b.size(), b);
  });
  for (const std::string& key : ordered) {
    for (PlotSeries& series : over_training(rows, key).series) {
      series.title += ", " + key.substr(0, key.size() - std::string_view(".frobenius").size());
      layers.series.push_back(std::move(series));
    }
  }
  if (layers.empty()) layers.empty_reason = "no trial records per-layer norms";
  plots.push_back(std::move(layers));

  plots.push_back(scaling_efficiency(data, rows));
  for (Plot& plot : plots) leave_out_what_a_log_axis_cannot_show(plot);
  return plots;
}

}  // namespace normscale
