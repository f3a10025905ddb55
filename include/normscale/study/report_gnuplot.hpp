// A report plot as gnuplot input (data file and script) and the gnuplot process that draws it.
#pragma once

#include "normscale/study/report_plots.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace normscale {

// `text` as a gnuplot single-quoted string literal that cannot end early or run anything: only
// letters, digits, spaces, UTF-8 and the punctuation . , : ; = + - _ / ( ) [ ] % < > # * ! ? are
// kept, anything else (quotes, backquotes, backslash, $, @ macros, braces, control characters)
// becomes '_'. Scripts set `noenhanced`, so '_' is literal.
std::string gnuplot_string(std::string_view text);

// <name>.dat: one block per series ("x y error"), blocks separated by two blank lines (gnuplot `index`).
std::string gnuplot_data(const Plot& plot);
// <name>.gp: draws <name>.dat into <name>.png (pngcairo) and <name>.svg; paths are relative, so
// gnuplot runs in the report folder.
std::string gnuplot_script(const Plot& plot);

// The gnuplot executable: `program` itself when it holds a '/', else the first match on PATH.
// Missing: an error naming it and the Debian package gnuplot-nox.
std::filesystem::path find_gnuplot(const std::string& program);

// Runs `gnuplot <script>` in `dir` (argument vector, no shell), its output in <dir>/gnuplot.log; a
// failure (exit status, signal) throws with the script's name and the end of that log.
void run_gnuplot(const std::filesystem::path& gnuplot, const std::filesystem::path& dir,
                 const std::string& script);

}  // namespace normscale
