// The Table-1-style summary: hyperparameters selected per (regime, batch) by best mean validation
// error, or loss (the study metric; Shallue et al. 2018), then mean ± std over seeds per (regime, batch, ranks);
// Markdown and CSV.
#pragma once

#include "normscale/study/report_data.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace normscale {

// Mean and sample standard deviation (n - 1; 0 for one value) of the values that exist.
struct Stat {
  std::size_t n = 0;
  double mean = 0.0;
  double std = 0.0;
};
Stat summarize(const std::vector<double>& values);
// The middle value (the mean of the two middle ones for an even count); nothing for no values.
std::optional<double> median_of(std::vector<double> values);

// One figure of the table: a results key, its header and how many decimals it is shown with.
struct TableColumn {
  std::string_view key;     // results key, also the CSV column stem
  std::string_view header;  // Markdown / HTML header
  int decimals;             // fixed decimals; < 0: 4 significant digits
};
// By the study metric: validation, test and train error (%), test and train loss, or for a regression study
// (metric validation loss) validation, test and train loss; then weight norm, support fraction, constraints
// violated, wall time, steps and seconds to the target.
const std::vector<TableColumn>& table_columns(StudyMetric metric);

struct TableRow {
  std::string regime;
  std::int64_t batch = 0;
  std::int64_t ranks = 1;
  bool selected = false;        // a grid point was selected (false: nothing done yet)
  std::string grid_label;       // the selected grid point ("" without a grid)
  std::optional<double> lr;     // optim.lr as trained at the selected point
  std::map<std::string, Stat> stats;  // by results key, over the selected done trials
  std::size_t trials = 0;       // trials at the selected point (every seed)
  std::size_t done = 0;
  std::size_t failed = 0;
  std::size_t diverged = 0;  // of the trials: stopped by the divergence guard (a failed trial's own outcome)
  std::size_t short_of_budget = 0;  // of the trials: done at a lower rung (ReportTrial), ...
  std::size_t stopped_early = 0;    // ... of which halving stopped these there (the rest await its decision)
  std::vector<const ReportTrial*> selected_trials;  // the done ones, by seed
  // With a target: how many of the selected done trials reached it. Steps / seconds to target are shown only
  // where every one did and none failed (as selection counts a point as reaching it), else as "k of n reached" (n:
  // done and failed).
  std::optional<std::size_t> reached_target;
  // Shallue et al.'s steps / time to result: at the grid point of this (regime, batch) whose trials all
  // reach the target in the fewest steps on average (over every rank count), the mean ± std over its
  // done trials at this rank count. No such point: n = 0.
  std::string fastest_grid_label;
  Stat steps_to_target;
  Stat seconds_to_target;
};

// One row per (regime, batch, ranks), in study-file order. A (regime, batch) with one grid point
// selects it; with several, select_hyperparameters (selection.hpp) picks the one with the lowest mean
// study metric (validation_error or validation_loss) over its done trials at every rank count (ties: the
// first in expansion order); none done: selected = false.
std::vector<TableRow> build_table(const StudyData& data);

// The row each (regime, batch) is drawn from in the plots, the critical batch fit and the performance profile: its
// smallest rank count with done trials (the trajectory does not depend on the rank count), in `rows`' order.
std::vector<const TableRow*> primary_rows(const std::vector<TableRow>& rows);

// "12.34 ± 0.56", "12.34" (one value) or "—" (none).
std::string format_stat(const Stat& stat, int decimals);
// A figure's cell in Markdown and HTML: format_stat, or "k of n reached" for a time to the target that not every
// selected trial has.
std::string table_cell(const TableRow& row, const TableColumn& column);
// The seeds cell: "3", "2 of 3", "2 of 3 (1 diverged)", "1 of 3 (1 diverged, 1 failed, 1 stopped at a lower rung)".
std::string state_counts(const TableRow& row);
std::string table_markdown(const StudyData& data, const std::vector<TableRow>& rows);
std::string table_csv(const StudyData& data, const std::vector<TableRow>& rows);
std::string all_trials_csv(const StudyData& data);

// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
std::string csv_field(std::string_view text);
// A Markdown table cell: '|' escaped, line breaks as spaces.
std::string markdown_cell(std::string_view text);

inline constexpr std::string_view kMissing = "—";

}  // namespace normscale
