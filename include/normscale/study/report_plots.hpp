// The report's figures as data: which plots a study gets and their series, independent of gnuplot.
#pragma once

#include "normscale/study/report_data.hpp"
#include "normscale/study/report_table.hpp"

#include <string>
#include <utility>
#include <vector>

namespace normscale {

struct PlotPoint {
  double x = 0.0;
  double y = 0.0;
  double error = 0.0;  // std over seeds (0: one seed)
};

enum class SeriesStyle { kLinesPoints, kDashed, kPoints, kStars };

struct PlotSeries {
  std::string title;   // from study values: quoted by gnuplot_string before it reaches a script
  std::vector<PlotPoint> points;
  SeriesStyle style = SeriesStyle::kLinesPoints;  // without error bars
};

struct Plot {
  std::string name;    // file stem: <name>.dat, .gp, .png, .svg
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool log2_x = false;
  bool log_y = false;
  bool error_bars = false;
  std::vector<std::pair<double, std::string>> xtics;  // custom tick labels ("full" for the full batch)
  std::vector<double> reference_y;                     // horizontal reference lines (ideal efficiency 1)
  std::vector<PlotSeries> series;                      // only series with points
  std::string empty_reason;                            // why there is nothing to draw ("" : drawable)

  bool empty() const { return series.empty(); }
};

// Final test error vs global batch size per regime; validation-error learning curves; steps and
// seconds to the target validation error vs batch size (losses for a regression study: the study
// metric); support-vector fraction and weight norm over training; scaling efficiency vs ranks. A plot without data has no series and says why.
// Curves are over the selected trials of each (regime, batch) at its smallest rank count, averaged
// over seeds per evaluation step.
std::vector<Plot> build_plots(const StudyData& data, const std::vector<TableRow>& rows);

// Where the full batch sits on a batch-size axis: the study's full_batch_size, or twice the largest
// numeric batch when that is larger, so that "full" is always the largest.
double full_batch_x(const StudyData& data);

}  // namespace normscale
