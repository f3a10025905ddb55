// A stalled rank ends the job instead of leaving the others waiting in silence: `normscale train` on two
// ranks with collective_timeout = 3 s, one rank stopped with SIGSTOP once training runs; the waiting
// rank names the collective, step, host and rank, the job exits non-zero within a bounded time, and
// (when rank 0 is the one waiting) metrics.jsonl ends with the collective_timeout event.
#include "support/run_command.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kTimeoutSeconds = 3.0;

// A tiny synthetic problem that would train for hours: only the watchdog can end it.
const std::string kEndless = testing::kTinyBinaryTrain +
                              "--set gallery=0 --set steps=1000000000 --set eval_every=1000000000 "
                              "--set checkpoint_every=1000000000 --set collective_timeout=3 ";

// NUL-separated fields of a /proc file (cmdline, environ).
std::vector<std::string> proc_fields(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<std::string> fields;
  for (std::string field; std::getline(in, field, '\0');) fields.push_back(field);
  return fields;
}

// The world rank the MPI launcher gave a process, from its environment (Open MPI, PMIx, MPICH).
std::optional<int> launcher_rank(pid_t pid) {
  for (const std::string& variable : proc_fields(fs::path("/proc") / std::to_string(pid) / "environ")) {
    for (const char* name : {"OMPI_COMM_WORLD_RANK=", "PMIX_RANK=", "PMI_RANK="}) {
      if (variable.rfind(name, 0) == 0) return std::stoi(variable.substr(std::string(name).size()));
    }
  }
  return std::nullopt;
}

// Whether `pid` is still one of this test's ranks (a pid may be reused once the rank has gone).
bool is_rank_of(pid_t pid, const fs::path& out) {
  const std::vector<std::string> argv = proc_fields(fs::path("/proc") / std::to_string(pid) / "cmdline");
  if (argv.empty() || argv[0] != NORMSCALE_BINARY) return false;
  for (const std::string& arg : argv) {
    if (arg == out.string()) return true;
  }
  return false;
}

// world rank -> pid of the processes of the binary that train into `out`.
std::map<int, pid_t> ranks_writing_to(const fs::path& out) {
  std::map<int, pid_t> ranks;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (!is_rank_of(pid, out)) continue;
    if (const auto rank = launcher_rank(pid)) ranks[*rank] = pid;
  }
  return ranks;
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string this_host() {
  std::array<char, 256> name{};
  gethostname(name.data(), name.size() - 1);
  return name.data();
}

struct StalledJob {
  testing::CommandResult result;
  double seconds_after_stop = 0.0;  // from SIGSTOP to the end of mpiexec
  bool ended = false;               // false: still running at the test's own limit (then killed)
};

// Starts the endless run on two ranks, stops rank `stopped` once the step-0 evaluation is in
// metrics.jsonl, and waits (at most a minute) for the job to end. Whatever happens, no rank is left
// stopped or running.
StalledJob run_and_stop_rank(int stopped, const fs::path& out) {
  fs::remove_all(out);
  StalledJob job;
  std::atomic<bool> finished{false};
  std::thread runner([&] {
    job.result = testing::run_shell(std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n 2 " +
                                    NORMSCALE_BINARY + " " + kEndless + "--out " + out.string());
    finished = true;
  });
  std::map<int, pid_t> ranks;
  const auto started_by = Clock::now() + std::chrono::seconds(60);
  while (!finished && Clock::now() < started_by &&
         (ranks.size() < 2 || !fs::exists(out / "metrics.jsonl") || lines_of(out / "metrics.jsonl").empty())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ranks = ranks_writing_to(out);
  }
  Clock::time_point stop_time = Clock::now();
  const bool found = ranks.count(stopped) > 0 && !finished;
  if (found) {
    kill(ranks[stopped], SIGSTOP);
    stop_time = Clock::now();
  }
  const auto ended_by = Clock::now() + std::chrono::seconds(60);
  while (!finished && Clock::now() < ended_by) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  job.seconds_after_stop = std::chrono::duration<double>(Clock::now() - stop_time).count();
  job.ended = finished;
  // Continue and end whatever is left of this job, so that mpiexec returns and nothing outlives the test.
  for (const auto& [rank, pid] : ranks_writing_to(out)) {
    kill(pid, SIGCONT);
    kill(pid, SIGKILL);
  }
  runner.join();
  EXPECT_TRUE(found) << "rank " << stopped << " was not found training into " << out << "; output:\n"
                     << job.result.output;
  return job;
}

// The waiting rank's report: "<collective> of <N> bytes ... at step <S>, waiting on host <H> rank <R> of 2".
struct Report {
  std::string collective;
  long long step = -1;
};

std::optional<Report> report_of(const std::string& output, int waiting_rank) {
  const std::regex report("collective_timeout: (allreduce_sum|allreduce_max|broadcast|barrier) of [0-9]+ bytes "
                          "has not completed after [0-9.]+ s \\(collective_timeout = 3 s\\) at step ([0-9]+), "
                          "waiting on host " +
                          this_host() + " rank " + std::to_string(waiting_rank) + " of 2");
  std::smatch match;
  if (!std::regex_search(output, match, report)) return std::nullopt;
  return Report{match[1], std::stoll(match[2])};
}

TEST(StalledRank, StoppedRankOneIsReportedByRankZeroWhichRecordsItAndEndsTheJob) {
  const fs::path out = fs::temp_directory_path() / "normscale_stalled_rank1";
  const StalledJob job = run_and_stop_rank(1, out);
  ASSERT_TRUE(job.ended) << "the job still waited a minute after rank 1 was stopped:\n" << job.result.output;
  EXPECT_NE(job.result.exit_code, 0) << job.result.output;
  EXPECT_GE(job.seconds_after_stop, kTimeoutSeconds - 0.5) << "ended before the timeout:\n" << job.result.output;
  EXPECT_LT(job.seconds_after_stop, kTimeoutSeconds + 20) << job.result.output;

  const auto report = report_of(job.result.output, 0);
  ASSERT_TRUE(report) << "no report naming the collective, step, host and rank 0:\n" << job.result.output;
  EXPECT_GE(report->step, 1) << "training had started";
  // The stopped rank, continued only to be ended, must not blame the rank it kept waiting.
  EXPECT_FALSE(report_of(job.result.output, 1)) << job.result.output;

  const std::vector<std::string> lines = lines_of(out / "metrics.jsonl");
  ASSERT_FALSE(lines.empty());
  const auto event = nlohmann::json::parse(lines.back(), nullptr, false);
  ASSERT_TRUE(event.is_object()) << lines.back();
  EXPECT_EQ(event.value("event", ""), "collective_timeout") << lines.back();
  EXPECT_EQ(event.value("collective", ""), report->collective) << lines.back();
  EXPECT_EQ(event.value("step", -1LL), report->step) << lines.back();
  EXPECT_EQ(event.value("host", ""), this_host()) << lines.back();
  EXPECT_EQ(event.value("rank", -1), 0) << lines.back();
  EXPECT_GE(event.value("seconds", 0.0), kTimeoutSeconds) << lines.back();
  EXPECT_EQ(event.value("collective_timeout", 0.0), kTimeoutSeconds) << lines.back();
}

TEST(StalledRank, StoppedRankZeroIsReportedOnStderrByRankOneWhichEndsTheJob) {
  const fs::path out = fs::temp_directory_path() / "normscale_stalled_rank0";
  const StalledJob job = run_and_stop_rank(0, out);
  ASSERT_TRUE(job.ended) << "the job still waited a minute after rank 0 was stopped:\n" << job.result.output;
  EXPECT_NE(job.result.exit_code, 0) << job.result.output;
  EXPECT_GE(job.seconds_after_stop, kTimeoutSeconds - 0.5) << "ended before the timeout:\n" << job.result.output;
  EXPECT_LT(job.seconds_after_stop, kTimeoutSeconds + 20) << job.result.output;
  const auto report = report_of(job.result.output, 1);
  ASSERT_TRUE(report) << "no report naming the collective, step, host and rank 1:\n" << job.result.output;
  EXPECT_GE(report->step, 1);
  EXPECT_FALSE(report_of(job.result.output, 0)) << job.result.output;
  // Rank 0 writes the metrics log, and it was stopped: the log holds no event (rank 1 writes none).
  for (const std::string& line : lines_of(out / "metrics.jsonl")) {
    EXPECT_EQ(line.find("collective_timeout"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace normscale
