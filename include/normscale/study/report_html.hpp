// index.html of a report: the tables and the plots on one page, every study value HTML-escaped.
#pragma once

#include "normscale/study/report_data.hpp"
#include "normscale/study/report_table.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace normscale {

// A plot as the page shows it: drawn (<name>.svg, linked to <name>.png) or a one-line note.
struct PlotEntry {
  std::string name;
  std::string title;
  bool drawn = false;
  std::string note;  // why it is left out
};

// & < > " ' as entities.
std::string html_escape(std::string_view text);

std::string report_html(const StudyData& data, const std::vector<TableRow>& rows,
                        const std::vector<PlotEntry>& plots, const std::vector<std::string>& notes);

}  // namespace normscale
