// Hyperparameter selection per (regime, batch), mean ± std over seeds, and the tables as Markdown / CSV.
#include "normscale/study/report_table.hpp"

#include "normscale/core/error.hpp"
#include "normscale/study/selection.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace normscale {
namespace {

// Shortest text that reads back as the same double (CSV is for machines).
std::string exact(double value) { return fmt::format("{}", value); }

// The figure of a done trial: its results row; wall time falls back to the trials table.
std::optional<double> figure(const ReportTrial& trial, const std::string& key) {
  if (auto value = trial.result(key)) return value;
  if (key == "wall_seconds") return trial.record.wall_seconds;
  return std::nullopt;
}

bool is_time_to_target(std::string_view key) { return key == "steps_to_target" || key == "seconds_to_target"; }

}  // namespace

Stat summarize(const std::vector<double>& values) {
  Stat stat;
  stat.n = values.size();
  if (stat.n == 0) return stat;
  double sum = 0.0;
  for (const double v : values) sum += v;
  stat.mean = sum / static_cast<double>(stat.n);
  if (stat.n > 1) {
    double squares = 0.0;
    for (const double v : values) squares += (v - stat.mean) * (v - stat.mean);
    stat.std = std::sqrt(squares / static_cast<double>(stat.n - 1));
  }
  return stat;
}

std::optional<double> median_of(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

const std::vector<TableColumn>& table_columns(StudyMetric metric) {
  // The study metric's columns first, then what every study shows.
  const auto with_common = [](std::vector<TableColumn> columns) {
    columns.insert(columns.end(), {{"weight_norm", "weight norm", -1},
                                   {"support_fraction", "support fraction", 3},
                                   {"constraints_violated", "constraints violated", 3},
                                   {"wall_seconds", "wall s", 1},
                                   {"steps_to_target", "steps to target", 0},
                                   {"seconds_to_target", "s to target", 1}});
    return columns;
  };
  static const std::vector<TableColumn> errors = with_common({{"validation_error", "validation error %", 2},
                                                              {"test_error", "test error %", 2},
                                                              {"train_error", "train error %", 2},
                                                              {"test_loss", "test loss", -1},
                                                              {"train_loss", "train loss", -1}});
  // A regression study: its runs record no errors.
  static const std::vector<TableColumn> losses = with_common({{"validation_loss", "validation loss", -1},
                                                              {"test_loss", "test loss", -1},
                                                              {"train_loss", "train loss", -1}});
  return metric == StudyMetric::kValidationError ? errors : losses;
}

std::vector<TableRow> build_table(const StudyData& data) {
  // The done trials as selection sees them; grid points are compared by their JSON.
  std::vector<TrialSummary> summaries;
  std::map<std::string, std::string> label_of_grid;
  for (const ReportTrial& trial : data.trials) {
    label_of_grid[trial.record.grid_json] = trial.grid_label;
    const bool failed = trial.record.state == TrialState::kFailed;
    if (!trial.done() && !failed) continue;
    TrialSummary summary{trial.record.id, trial.record.regime, trial.record.batch, trial.record.grid_json,
                         failed ? std::nullopt : trial.result(metric_key(data.metric)), std::nullopt, failed};
    const auto steps = trial.result("steps_to_target");
    const auto seconds = trial.result("seconds_to_target");
    if (steps && seconds && !failed) summary.to_target = TimeToTarget{static_cast<std::int64_t>(*steps), *seconds};
    summaries.push_back(std::move(summary));
  }
  const std::vector<Selection> selections = select_hyperparameters(summaries);

  std::vector<TableRow> rows;
  for (const std::string& regime : data.regimes) {
    for (const std::int64_t batch : data.batches) {
      std::vector<std::string> points;
      for (const ReportTrial& trial : data.trials) {
        if (trial.record.regime != regime || trial.record.batch != batch) continue;
        if (std::find(points.begin(), points.end(), trial.grid_label) == points.end()) {
          points.push_back(trial.grid_label);
        }
      }
      if (points.empty()) continue;
      std::optional<std::string> selected;
      std::optional<std::string> fastest;
      const auto selection = std::find_if(selections.begin(), selections.end(), [&](const Selection& s) {
        return s.regime == regime && s.batch == batch;
      });
      if (selection != selections.end()) {
        selected = label_of_grid.at(selection->best_grid);
        if (selection->fastest_grid) fastest = label_of_grid.at(*selection->fastest_grid);
      }
      // One grid point needs no metric to be the choice.
      if (points.size() == 1) selected = points.front();
      for (const std::int64_t ranks : data.ranks) {
        TableRow row;
        row.regime = regime;
        row.batch = batch;
        row.ranks = ranks;
        row.selected = selected.has_value();
        if (selected) row.grid_label = *selected;
        bool any = false;
        for (const ReportTrial& trial : data.trials) {
          if (trial.record.regime != regime || trial.record.batch != batch || trial.record.ranks != ranks) continue;
          any = true;
          if (!selected || trial.grid_label != *selected) continue;
          ++row.trials;
          if (!row.lr) row.lr = trial.lr;
          if (trial.record.state == TrialState::kFailed) ++row.failed;
          if (trial.result("diverged").value_or(0.0) > 0) ++row.diverged;
          if (trial.short_of_budget) ++row.short_of_budget;
          if (trial.short_of_budget && trial.record.stopped_early) ++row.stopped_early;
          if (trial.done()) {
            ++row.done;
            row.selected_trials.push_back(&trial);
          }
        }
        if (!any) continue;
        for (const TableColumn& column : table_columns(data.metric)) {
          std::vector<double> values;
          for (const ReportTrial* trial : row.selected_trials) {
            if (const auto value = figure(*trial, std::string(column.key))) values.push_back(*value);
          }
          if (column.key == "steps_to_target" && data.target) row.reached_target = values.size();
          // A mean over the seeds that reached the target would time a point that, by selection's rule, does not
          // (a failed seed, diverged or crashed, did not reach it).
          if (is_time_to_target(column.key) && (values.size() < row.selected_trials.size() || row.failed > 0)) {
            values.clear();
          }
          row.stats.emplace(std::string(column.key), summarize(values));
        }
        if (fastest) {
          row.fastest_grid_label = *fastest;
          std::vector<double> steps, seconds;
          for (const ReportTrial& trial : data.trials) {
            if (trial.record.regime != regime || trial.record.batch != batch || trial.record.ranks != ranks ||
                trial.grid_label != *fastest || !trial.done()) {
              continue;
            }
            if (const auto v = trial.result("steps_to_target")) steps.push_back(*v);
            if (const auto v = trial.result("seconds_to_target")) seconds.push_back(*v);
          }
          row.steps_to_target = summarize(steps);
          row.seconds_to_target = summarize(seconds);
        }
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

std::string format_stat(const Stat& stat, int decimals) {
  if (stat.n == 0) return std::string(kMissing);
  if (decimals < 0) {  // 4 significant digits, the spread to 2
    return stat.n == 1 ? fmt::format("{:.4g}", stat.mean) : fmt::format("{:.4g} ± {:.2g}", stat.mean, stat.std);
  }
  if (stat.n == 1) return fmt::format("{:.{}f}", stat.mean, decimals);
  return fmt::format("{:.{}f} ± {:.{}f}", stat.mean, decimals, stat.std, decimals);
}

std::string table_cell(const TableRow& row, const TableColumn& column) {
  if (is_time_to_target(column.key) && row.reached_target && *row.reached_target < row.done + row.failed) {
    return fmt::format("{} of {} reached", *row.reached_target, row.done + row.failed);
  }
  return format_stat(row.stats.at(std::string(column.key)), column.decimals);
}

std::string state_counts(const TableRow& row) {
  std::string text = fmt::format("{}", row.done);
  if (row.done < row.trials) text += fmt::format(" of {}", row.trials);
  // Diverged is its own outcome: a failed trial that diverged counts once, as diverged.
  const std::size_t other_failures = row.failed > row.diverged ? row.failed - row.diverged : 0;
  std::vector<std::string> parts;
  if (row.diverged > 0) parts.push_back(fmt::format("{} diverged", row.diverged));
  if (other_failures > 0) parts.push_back(fmt::format("{} failed", other_failures));
  if (row.stopped_early > 0) parts.push_back(fmt::format("{} stopped at a lower rung", row.stopped_early));
  if (row.short_of_budget > row.stopped_early) {
    parts.push_back(fmt::format("{} at a lower rung, not yet promoted", row.short_of_budget - row.stopped_early));
  }
  if (!parts.empty()) text += fmt::format(" ({})", fmt::join(parts, ", "));
  return text;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (const char ch : text) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  quoted += '"';
  return quoted;
}

std::string markdown_cell(std::string_view text) {
  std::string cell;
  for (const char ch : text) {
    if (ch == '|') {
      cell += "\\|";
    } else if (ch == '\n' || ch == '\r') {
      cell += ' ';
    } else {
      cell += ch;
    }
  }
  return cell;
}

std::string table_markdown(const StudyData& data, const std::vector<TableRow>& rows) {
  std::string text = fmt::format("# Study {}\n\n", markdown_cell(data.name));
  text += fmt::format(
      "Hyperparameters selected per (regime, batch) by the best mean {} over seeds (a point with a failed or "
      "diverged seed only where every point has one); "
      "mean ± sample std over the selected done trials; — : no value. Steps / seconds to target "
      "are at the selected point, where every trial of it reached the target (a diverged or failed one did not; "
      "else how many did); the plots use the point that reaches the target fastest. With successive halving, only "
      "trials "
      "that ran the full budget are averaged and compared.\n\n",
      metric_name(data.metric));
  const std::vector<TableColumn>& columns = table_columns(data.metric);
  text += "| regime | batch | ranks | hyperparameters | lr |";
  for (const TableColumn& column : columns) text += fmt::format(" {} |", column.header);
  text += " seeds |\n| --- | ---: | ---: | --- | ---: |";
  for (std::size_t i = 0; i < columns.size(); ++i) text += " ---: |";
  text += " ---: |\n";
  for (const TableRow& row : rows) {
    const std::string hyper = !row.selected ? std::string(kMissing) : row.grid_label.empty() ? "(none)" : row.grid_label;
    text += fmt::format("| {} | {} | {} | {} | {} |", markdown_cell(row.regime), batch_label(row.batch), row.ranks,
                        markdown_cell(hyper), row.lr ? fmt::format("{:.4g}", *row.lr) : std::string(kMissing));
    for (const TableColumn& column : columns) {
      text += fmt::format(" {} |", markdown_cell(table_cell(row, column)));
    }
    text += fmt::format(" {} |\n", state_counts(row));
  }
  return text;
}

std::string table_csv(const StudyData& data, const std::vector<TableRow>& rows) {
  const std::vector<TableColumn>& columns = table_columns(data.metric);
  std::string text = "regime,batch,ranks,hyperparameters,lr";
  for (const TableColumn& column : columns) {
    text += fmt::format(",{0}_mean,{0}_std,{0}_n", column.key);
  }
  text += ",trials,done,failed,diverged,reached_target\n";
  for (const TableRow& row : rows) {
    text += fmt::format("{},{},{},{},{}", csv_field(row.regime), batch_label(row.batch), row.ranks,
                        csv_field(row.grid_label), row.lr ? exact(*row.lr) : "");
    for (const TableColumn& column : columns) {
      const Stat& stat = row.stats.at(std::string(column.key));
      if (stat.n == 0) {
        text += ",,,0";
      } else {
        text += fmt::format(",{},{},{}", exact(stat.mean), exact(stat.std), stat.n);
      }
    }
    text += fmt::format(",{},{},{},{},{}\n", row.trials, row.done, row.failed, row.diverged,
                        row.reached_target ? std::to_string(*row.reached_target) : std::string());
  }
  return text;
}

std::string all_trials_csv(const StudyData& data) {
  // Every results key any trial has, in key order, after the fixed columns.
  std::vector<std::string> keys;
  for (const ReportTrial& trial : data.trials) {
    for (const auto& [key, value] : trial.results) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  std::sort(keys.begin(), keys.end());
  std::string text =
      "id,regime,batch,ranks,seed,grid,lr,state,exit_code,wall_seconds,started,finished,rung,"
      "short_of_budget";
  for (const std::string& key : keys) text += fmt::format(",{}", csv_field(key));
  text += '\n';
  for (const ReportTrial& trial : data.trials) {
    const TrialRecord& r = trial.record;
    text += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}", r.id, csv_field(r.regime), batch_label(r.batch),
                        r.ranks, r.seed, csv_field(r.grid_json), exact(trial.lr), trial_state_name(r.state),
                        r.exit_code ? std::to_string(*r.exit_code) : "", r.wall_seconds ? exact(*r.wall_seconds) : "",
                        csv_field(r.started), csv_field(r.finished), r.rung, trial.short_of_budget ? 1 : 0);
    for (const std::string& key : keys) {
      const auto value = trial.result(key);
      text += fmt::format(",{}", value ? exact(*value) : std::string());
    }
    text += '\n';
  }
  return text;
}

std::vector<const TableRow*> primary_rows(const std::vector<TableRow>& rows) {
  std::map<std::pair<std::string, std::int64_t>, const TableRow*> best;
  std::vector<std::pair<std::string, std::int64_t>> order;
  for (const TableRow& row : rows) {
    if (row.done == 0) continue;
    const auto key = std::make_pair(row.regime, row.batch);
    const auto found = best.find(key);
    if (found == best.end()) {
      best.emplace(key, &row);
      order.push_back(key);
    } else if (row.ranks < found->second->ranks) {
      found->second = &row;
    }
  }
  std::vector<const TableRow*> primary;
  for (const auto& key : order) primary.push_back(best.at(key));
  return primary;
}

}  // namespace normscale
