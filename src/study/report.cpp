// write_report and `normscale report`: tables, plots and index.html of a study, written into one folder.
#include "normscale/study/report.hpp"
#include "normscale/study/study_layout.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/atomic_file.hpp"
#include "normscale/study/report_data.hpp"
#include "normscale/study/critical_batch.hpp"
#include "normscale/study/performance_profile.hpp"
#include "normscale/study/report_gnuplot.hpp"
#include "normscale/study/report_html.hpp"
#include "normscale/study/report_plots.hpp"
#include "normscale/study/report_table.hpp"
#include "normscale/study/scaling_projection_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace normscale {
namespace {

void write_text(const std::filesystem::path& path, std::string_view text) {
  write_file_atomically(path.string(), text);
}

}  // namespace

ReportSummary write_report(const StudySpec& spec, const std::filesystem::path& database,
                           const std::filesystem::path& out_dir, const ReportOptions& options) {
  const StudyData data = load_study_data(spec, database);
  // Fail before writing anything when the plots cannot be drawn.
  const std::filesystem::path gnuplot = options.plots ? find_gnuplot(options.gnuplot) : std::filesystem::path();
  const std::vector<TableRow> rows = build_table(data);
  // The cores the trials shared: only measured vs projected (and which trials time-shared) depend on them.
  const std::int64_t cores =
      options.cores > 0 ? options.cores : std::max<std::int64_t>(1, std::thread::hardware_concurrency());
  const NetworkEstimate network = estimate_network(data, options.network, cores);
  const std::vector<ScalingProjection> projections = scaling_projections(data, rows, network.model, cores);

  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  NS_CHECK(!error && std::filesystem::is_directory(out_dir), "report: cannot create the folder {}: {}",
           out_dir.string(), error ? error.message() : "a file of that name is in the way");

  ReportSummary summary;
  if (data.stale_trials > 0) {
    summary.notes.push_back(fmt::format("{} trials of study {} in {} are not in the current study file; left out.",
                                        data.stale_trials, data.name, database.string()));
  }
  if (std::string note = full_batch_scaling_note(spec, data); !note.empty()) summary.notes.push_back(std::move(note));
  // Short of the budget: stopped early by halving, or done at a lower rung that halving has not decided on yet (a
  // study still running, or whose scheduler stopped).
  std::size_t done = 0, stopped = 0, undecided = 0;
  for (const ReportTrial& trial : data.trials) {
    done += trial.done() ? 1 : 0;
    stopped += trial.short_of_budget && trial.record.stopped_early ? 1 : 0;
    undecided += trial.short_of_budget && !trial.record.stopped_early ? 1 : 0;
  }
  std::string short_note;
  if (stopped > 0) {
    short_note += fmt::format(", {} stopped by successive halving at a lower rung", stopped);
  }
  if (undecided > 0) {
    short_note += fmt::format(", {} done at a lower rung and not yet promoted or stopped (the study has not finished)",
                              undecided);
  }
  if (!short_note.empty()) short_note = " at the full budget" + short_note + " (counted, not averaged or compared)";
  summary.notes.push_back(fmt::format("{} of {} trials done{}.", done, data.trials.size(), short_note));
  const auto any_has = [&](StudyMetric metric) {
    return std::any_of(data.trials.begin(), data.trials.end(),
                       [&](const ReportTrial& t) { return t.done() && t.result(metric_key(metric)); });
  };
  if (std::string note = missing_metric_note(data.metric, any_has(data.metric), any_has(other_metric(data.metric)));
      !note.empty()) {
    summary.notes.push_back(std::move(note));
  }
  const std::vector<std::string> study_notes = summary.notes;  // the page lists left-out plots with the plots

  write_text(out_dir / "table.md",
             table_markdown(data, rows) + critical_batch_markdown(data, critical_batches(data, rows)) +
                 performance_profile_markdown(performance_profiles(steps_to_target_by_regime(data, rows))) +
                 scaling_projection_markdown(network, cores, projections,
                                             scaling_checks(data, rows, projections, network.model, cores)));
  write_text(out_dir / "table.csv", table_csv(data, rows));
  write_text(out_dir / "all_trials.csv", all_trials_csv(data));

  std::vector<PlotEntry> entries;
  if (options.plots) std::filesystem::remove(out_dir / "gnuplot.log", error);
  std::vector<Plot> plots = build_plots(data, rows);
  plots.push_back(scaling_projection_plot(network, projections));
  for (const Plot& plot : plots) {
    PlotEntry entry{plot.name, plot.title, false, plot.empty_reason};
    // A plot left out this time must not show last run's image.
    for (const char* extension : {".dat", ".gp", ".png", ".svg"}) {
      std::filesystem::remove(out_dir / (plot.name + extension), error);
    }
    if (!options.plots) {
      entry.note = "plots were not requested";
    } else if (!plot.empty()) {
      write_text(out_dir / (plot.name + ".dat"), gnuplot_data(plot));
      write_text(out_dir / (plot.name + ".gp"), gnuplot_script(plot));
      run_gnuplot(gnuplot, out_dir, plot.name + ".gp");
      for (const char* extension : {".png", ".svg"}) {
        const std::filesystem::path image = out_dir / (plot.name + extension);
        NS_CHECK(std::filesystem::file_size(image, error) > 0 && !error,
                 "report: gnuplot ran {}.gp but wrote no {} (see {})", plot.name, image.string(),
                 (out_dir / "gnuplot.log").string());
      }
      entry.drawn = true;
      summary.plots.push_back(plot.name);
    } else {
      summary.notes.push_back(fmt::format("{}: left out: {}", plot.name, plot.empty_reason));
    }
    entries.push_back(std::move(entry));
  }

  summary.index = out_dir / "index.html";
  write_text(summary.index, report_html(data, rows, entries, study_notes));
  return summary;
}

ReportSummary write_report(const std::filesystem::path& study_file, const std::filesystem::path& database,
                           const std::filesystem::path& out_dir, const ReportOptions& options) {
  return write_report(read_study_file(study_file), database, out_dir, options);
}

int run_report_command(const std::filesystem::path& study_file, const std::optional<std::filesystem::path>& out_dir,
                       const ReportOptions& options) {
  const StudyLayout layout = study_layout(study_file);
  const ReportSummary summary = write_report(study_file, layout.database, out_dir.value_or(layout.report), options);
  for (const std::string& note : summary.notes) fmt::print("{}\n", note);
  fmt::print("{}\n", summary.index.string());
  std::fflush(stdout);
  return 0;
}

}  // namespace normscale
