// The report's index.html: summary table, plots (or a note per plot left out) and every trial.
#include "normscale/study/report_html.hpp"

#include <fmt/format.h>

namespace normscale {
namespace {

constexpr std::string_view kStyle = R"css(
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; }
td.num { text-align: right; white-space: nowrap; }
th { background: #f0f0f0; }
figure { display: inline-block; margin: 0.5em; }
figure img { width: 640px; }
p.note { color: #666; margin: 0.2em 0; }
)css";

std::string cell(std::string_view text, bool number = false) {
  return fmt::format("<td{}>{}</td>", number ? " class=\"num\"" : "", html_escape(text));
}

std::string summary_table(const StudyData& data, const std::vector<TableRow>& rows) {
  const std::vector<TableColumn>& columns = table_columns(data.metric);
  std::string html = "<table>\n<tr><th>regime</th><th>batch</th><th>ranks</th><th>hyperparameters</th><th>lr</th>";
  for (const TableColumn& column : columns) html += fmt::format("<th>{}</th>", html_escape(column.header));
  html += "<th>seeds</th></tr>\n";
  for (const TableRow& row : rows) {
    html += "<tr>" + cell(row.regime) + cell(batch_label(row.batch), true) + cell(std::to_string(row.ranks), true);
    html += cell(!row.selected ? std::string(kMissing) : row.grid_label.empty() ? "(none)" : row.grid_label);
    html += cell(row.lr ? fmt::format("{:.4g}", *row.lr) : std::string(kMissing), true);
    for (const TableColumn& column : columns) {
      html += cell(table_cell(row, column), true);
    }
    html += cell(state_counts(row), true) + "</tr>\n";
  }
  return html + "</table>\n";
}

std::string trials_table(const StudyData& data) {
  // The study metric and its test-split twin: errors (percent), or a regression study's losses.
  const bool errors = data.metric == StudyMetric::kValidationError;
  std::string html = fmt::format("<table>\n<tr><th>id</th><th>regime</th><th>batch</th><th>ranks</th><th>seed</th>"
                                 "<th>grid</th><th>state</th><th>{}</th><th>{}</th><th>wall s</th></tr>\n",
                                 metric_label(data.metric), errors ? "test error %" : "test loss");
  const auto value = [&](const ReportTrial& trial, const char* key) {
    const auto v = trial.result(key);
    return !v ? std::string(kMissing) : errors ? fmt::format("{:.2f}", *v) : fmt::format("{:.4g}", *v);
  };
  for (const ReportTrial& trial : data.trials) {
    const TrialRecord& r = trial.record;
    html += "<tr>" + cell(r.id) + cell(r.regime) + cell(batch_label(r.batch), true) +
            cell(std::to_string(r.ranks), true) + cell(std::to_string(r.seed), true) +
            cell(trial.grid_label.empty() ? std::string(kMissing) : trial.grid_label) +
            cell(trial_state_name(r.state)) + cell(value(trial, metric_key(data.metric)), true) +
            cell(value(trial, metric_test_key(data.metric)), true) +
            cell(r.wall_seconds ? fmt::format("{:.1f}", *r.wall_seconds) : std::string(kMissing), true) + "</tr>\n";
  }
  return html + "</table>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += ch;
    }
  }
  return escaped;
}

std::string report_html(const StudyData& data, const std::vector<TableRow>& rows, const std::vector<PlotEntry>& plots,
                        const std::vector<std::string>& notes) {
  const std::string name = html_escape(data.name);
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Study {0}</title>\n"
      "<style>{1}</style>\n</head>\n<body>\n<h1>Study {0}</h1>\n",
      name, kStyle);
  for (const std::string& note : notes) html += fmt::format("<p class=\"note\">{}</p>\n", html_escape(note));

  html += fmt::format(
      "<h2>Summary</h2>\n<p>Hyperparameters selected per (regime, batch) by the best mean {} over "
      "seeds (Shallue et al. 2018; a point with a failed or diverged seed only where every point has one); mean ± "
      "sample std over the selected done trials; — : no value. "
      "<a href=\"table.csv\">table.csv</a>, <a href=\"table.md\">table.md</a>.</p>\n",
      metric_name(data.metric));
  html += summary_table(data, rows);

  html += "<h2>Plots</h2>\n";
  for (const PlotEntry& plot : plots) {
    if (!plot.drawn) continue;
    html += fmt::format(
        "<figure><a href=\"{0}.png\"><img src=\"{0}.svg\" alt=\"{1}\"></a><figcaption>{1} "
        "(<a href=\"{0}.dat\">data</a>, <a href=\"{0}.gp\">gnuplot</a>)</figcaption></figure>\n",
        html_escape(plot.name), html_escape(plot.title));
  }
  for (const PlotEntry& plot : plots) {
    if (plot.drawn) continue;
    html += fmt::format("<p class=\"note\">{}: left out: {}</p>\n", html_escape(plot.title), html_escape(plot.note));
  }

  html += "<h2>Every trial</h2>\n<p><a href=\"all_trials.csv\">all_trials.csv</a> has every result.</p>\n";
  html += trials_table(data);
  return html + "</body>\n</html>\n";
}

}  // namespace normscale
