// `normscale report STUDY`: a study's database turned into a folder of tables, plots and an index.html.
#pragma once

#include "normscale/study/scaling_projection_report.hpp"
#include "normscale/study/study_file.hpp"

#include <cstdint>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace normscale {

struct ReportOptions {
  bool plots = true;               // false: tables and index.html only (no gnuplot needed)
  std::string gnuplot = "gnuplot";  // a program name searched on PATH, or a path
  NetworkOptions network{};         // the scaling projection's network (none given: measured or assumed)
  std::int64_t cores = 0;           // cores the trials shared, for measured vs projected (0: this machine's)
};

// What write_report wrote.
struct ReportSummary {
  std::filesystem::path index;            // <out>/index.html
  std::vector<std::string> plots;         // plot names drawn (<name>.png and <name>.svg exist)
  std::vector<std::string> notes;         // one line per plot left out, and per oddity of the data
};

// Writes into `out_dir` (created if needed):
//   table.md, table.csv  one row per (regime, batch, ranks); the grid point of each (regime, batch)
//                        is the one with the best mean study metric (validation error or loss) over
//                        its done trials (every seed and rank count: the rank count does not change
//                        the trajectory); cells
//                        are mean ± sample std over the selected done trials, "—" when none has the
//                        figure (empty in the CSV files)
//   all_trials.csv       every trial of the study with its state and results
//   <plot>.dat/.gp/.png/.svg  gnuplot data, script and images (options.plots)
//   index.html           the tables and plots together; a plot without data is a one-line note
// table.md also has the critical batch size with the measured noise scale, the performance profiles and the
// scaling projection (scaling_projection_report.hpp).
// Only the database's trials that the study file expands to are reported (a study edited since it
// ran reports its current trials; the others are counted in a note).
// Errors (no database, gnuplot missing or failing) throw normscale::Error naming the file or program.
ReportSummary write_report(const StudySpec& spec, const std::filesystem::path& database,
                           const std::filesystem::path& out_dir, const ReportOptions& options = {});
ReportSummary write_report(const std::filesystem::path& study_file, const std::filesystem::path& database,
                           const std::filesystem::path& out_dir, const ReportOptions& options = {});

// `normscale report STUDY.toml [--out DIR] [--bandwidth GBPS] [--latency US]`: reads STUDY.db (study_layout),
// writes the report (default folder STUDY.report) and prints the path of index.html.
// Returns the exit status (0); errors throw normscale::Error for main to report.
int run_report_command(const std::filesystem::path& study_file,
                       const std::optional<std::filesystem::path>& out_dir, const ReportOptions& options = {});

}  // namespace normscale
