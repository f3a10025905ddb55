// gnuplot input for a report plot (quoted titles, data blocks, script) and running gnuplot without a shell.
#include "normscale/study/report_gnuplot.hpp"

#include "normscale/core/error.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace normscale {
namespace {

bool allowed_in_title(unsigned char ch) {
  if (ch >= 0x80) return true;  // UTF-8 bytes: never an ASCII quote, backquote or '@'
  if (std::isalnum(ch) != 0) return true;
  constexpr std::string_view kPunctuation = " .,:;=+-_/()[]%<>#*!?";
  return kPunctuation.find(static_cast<char>(ch)) != std::string_view::npos;
}

constexpr std::string_view kTerminalOptions = "size 1000,650 noenhanced font 'sans,11'";

bool is_executable(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

std::string log_tail(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  constexpr std::size_t kTail = 1500;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

}  // namespace

std::string gnuplot_string(std::string_view text) {
  std::string quoted = "'";
  for (const char ch : text) quoted += allowed_in_title(static_cast<unsigned char>(ch)) ? ch : '_';
  quoted += '\'';
  return quoted;
}

std::string gnuplot_data(const Plot& plot) {
  std::string text = fmt::format("# {}: x y error; one block per series (gnuplot index)\n", plot.name);
  bool first = true;
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    if (!first) text += "\n\n";
    first = false;
    text += fmt::format("# index {}: {}\n", i, gnuplot_string(plot.series[i].title));
    for (const PlotPoint& p : plot.series[i].points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      text += fmt::format("{} {} {}\n", p.x, p.y, std::isfinite(p.error) ? p.error : 0.0);
    }
  }
  return text;
}

namespace {

std::string_view series_style(SeriesStyle style) {
  switch (style) {
    case SeriesStyle::kDashed: return "with lines dt 2 lw 2";
    case SeriesStyle::kPoints: return "with points pt 7 ps 0.8";
    case SeriesStyle::kStars: return "with points pt 3 ps 2.5 lw 2";
    case SeriesStyle::kLinesPoints: break;
  }
  return "with linespoints lw 2 pt 7 ps 0.6";
}

}  // namespace

std::string gnuplot_script(const Plot& plot) {
  const std::string data = gnuplot_string(plot.name + ".dat");
  std::string s = fmt::format("# {}: written by normscale report; redraw with: gnuplot {}.gp (in this folder)\n",
                              plot.name, plot.name);
  s += "set encoding utf8\n";
  s += fmt::format("set terminal pngcairo {}\n", kTerminalOptions);
  s += fmt::format("set output {}\n", gnuplot_string(plot.name + ".png"));
  s += fmt::format("set title {}\n", gnuplot_string(plot.title));
  s += fmt::format("set xlabel {}\n", gnuplot_string(plot.xlabel));
  s += fmt::format("set ylabel {}\n", gnuplot_string(plot.ylabel));
  s += "set grid\nset key outside right top\nset offsets graph 0, graph 0, graph 0.05, graph 0.05\n";
  if (plot.log2_x) s += "set logscale x 2\n";
  if (plot.log_y) s += "set logscale y\n";
  if (!plot.xtics.empty()) {
    std::string tics;
    for (const auto& [x, label] : plot.xtics) {
      if (!tics.empty()) tics += ", ";
      tics += fmt::format("{} {}", gnuplot_string(label), x);
    }
    s += fmt::format("set xtics ({})\n", tics);
    // A margin of half a tick on a log axis keeps the end points off the frame.
    if (plot.log2_x) s += fmt::format("set xrange [{}:{}]\n", plot.xtics.front().first / 1.5, plot.xtics.back().first * 1.5);
  }
  std::string items;
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    if (!items.empty()) items += ", \\\n     ";
    items += plot.error_bars
                 ? fmt::format("{} index {} using 1:2:3 with yerrorlines lw 2 pt 7 title {}", data, i,
                               gnuplot_string(plot.series[i].title))
                 : fmt::format("{} index {} using 1:2 {} title {}", data, i, series_style(plot.series[i].style),
                               gnuplot_string(plot.series[i].title));
  }
  for (const double y : plot.reference_y) {
    items += fmt::format(", \\\n     {} with lines dt 2 lc rgb 'black' title {}", y, gnuplot_string("ideal"));
  }
  s += fmt::format("plot {}\n", items);
  s += fmt::format("set terminal svg {} background rgb 'white'\n", kTerminalOptions);
  s += fmt::format("set output {}\n", gnuplot_string(plot.name + ".svg"));
  s += "replot\nunset output\n";
  return s;
}

std::filesystem::path find_gnuplot(const std::string& program) {
  const std::string hint = "install the Debian package gnuplot-nox (sudo apt-get install gnuplot-nox, or "
                           "launch/setup.sh), or make a report without plots (normscale report --no-plots)";
  if (program.find('/') != std::string::npos) {
    NS_CHECK(is_executable(program), "report: gnuplot {} is not an executable file; {}", program, hint);
    return program;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty()) {
      const std::filesystem::path candidate = std::filesystem::path(dir) / program;
      if (is_executable(candidate)) return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  NS_FAIL("report: {} not found on PATH ({}); plots need gnuplot: {}", program, path != nullptr ? path : "unset",
          hint);
}

void run_gnuplot(const std::filesystem::path& gnuplot, const std::filesystem::path& dir, const std::string& script) {
  const std::filesystem::path log = dir / "gnuplot.log";
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  NS_CHECK(log_fd >= 0, "report: cannot write {}: {}", log.string(), std::strerror(errno));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    NS_FAIL("report: cannot open /dev/null: {}", std::strerror(errno));
  }
  const std::string program = gnuplot.string();
  const std::string directory = dir.string();
  std::vector<char*> argv = {const_cast<char*>("gnuplot"), const_cast<char*>(script.c_str()), nullptr};

  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(directory.c_str()) != 0 || ::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
        ::dup2(log_fd, STDERR_FILENO) < 0) {
      ::_exit(126);
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  NS_CHECK(pid > 0, "report: cannot start {}: {}", program, std::strerror(fork_errno));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    NS_CHECK(errno == EINTR, "report: waiting for {} failed: {}", program, std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                            : fmt::format("signal {}", WTERMSIG(status));
  NS_FAIL("report: {} {} failed in {} ({}); the end of {}:\n{}", program, script, directory, how, log.string(),
          log_tail(log));
}

}  // namespace normscale
