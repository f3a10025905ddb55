// `normscale report`: tables checked against an independent computation on a fixture database, the
// plots drawn by gnuplot, missing figures as "—", hostile study names escaped in HTML and gnuplot.
#include "normscale/core/error.hpp"
#include "normscale/study/critical_batch.hpp"
#include "normscale/study/performance_profile.hpp"
#include "normscale/study/report.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/study/report_data.hpp"
#include "normscale/study/report_gnuplot.hpp"
#include "normscale/study/report_html.hpp"
#include "normscale/study/report_plots.hpp"
#include "normscale/study/report_table.hpp"
#include "normscale/study/scaling_projection.hpp"
#include "normscale/study/scaling_projection_report.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/error_text.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace normscale {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// 2 regimes x 2 batches x 2 rank counts x 3 seeds x 2 learning rates = 48 trials.
constexpr const char* kFixtureStudy = R"toml(
name = "fixture"
batch = [64, "full"]
ranks = [1, 2]
seeds = [1, 2, 3]
epochs = 2
[base]
"data.source" = "two-point"
model.hidden = [8]
[regimes]
sgd = { "objective.regime" = "sgd" }
minnorm = { "objective.regime" = "minnorm" }
[grid]
"optim.lr" = [0.1, 0.2]
)toml";

// What the fixture stores for one done trial; support_fraction only for Minnorm.
struct Figures {
  double validation = 0, test = 0, train = 0, norm = 0, wall = 0, steps = 0, seconds = 0;
  std::optional<double> support;
};

double lr_of(const Trial& trial) { return std::stod(trial.grid_point.at(0).value); }

// The learning rate that is best by construction: 0.2 for sgd at batch 64, else 0.1.
double best_lr(const std::string& regime, std::int64_t batch) { return regime == "sgd" && batch == 64 ? 0.2 : 0.1; }
// The learning rate selection picks: the best by error, except at minnorm's full batch, where lr 0.1 has the failed
// seed (is_failed): a failed seed counts as infeasible.
double selected_lr(const std::string& regime, std::int64_t batch) {
  return regime == "minnorm" && batch == kFullBatch ? 0.2 : best_lr(regime, batch);
}

Figures figures_of(const Trial& t) {
  Figures f;
  const double seed = static_cast<double>(t.seed);
  f.validation = (t.regime == "sgd" ? 10.0 : 12.0) + (t.batch == kFullBatch ? 3.0 : 0.0) +
                 (lr_of(t) == best_lr(t.regime, t.batch) ? 0.0 : 2.0) + 0.37 * seed + 0.11 * static_cast<double>(t.ranks) +
                 0.05 * static_cast<double>((t.seed * 7) % 3);
  f.test = f.validation + 0.5 + 0.13 * seed * seed;
  f.train = f.validation - 5.0 + 0.07 * seed;
  f.norm = 20.0 + 1.3 * seed + lr_of(t);
  f.wall = 100.0 / static_cast<double>(t.ranks) + seed;
  // lr 0.2 reaches the target sooner everywhere: the fastest point differs from the best-validation one.
  f.steps = (t.batch == 64 ? 1000.0 : 250.0) + 10.0 * seed - (lr_of(t) == 0.2 ? 100.0 : 0.0);
  f.seconds = 0.5 * f.wall;
  if (t.regime == "minnorm") f.support = 0.5 + 0.01 * seed;
  return f;
}

// Step timings of the fixture's metrics (evaluations 1 and 2, ten steps each): compute seconds per example that
// differ by seed (so the median over seeds is checked), Minnorm's multiplier time, a gradient of kBytesPerStep
// reduced over a network of kBusBandwidth with the default latency on 2 ranks (so the measured bandwidth is
// exactly kBusBandwidth), and 2-rank compute 10% slower than perfect (so measured / projected is not 1).
constexpr double kBytesPerStep = 1e6;
constexpr double kBusBandwidth = 4e9;
constexpr double kStepsPerEvaluation = 10;

double compute_per_example(const Trial& t) {
  return (t.regime == "sgd" ? 2e-6 : 3e-6) * (1.0 + 0.1 * static_cast<double>(t.seed));
}
double multiplier_per_example(const Trial& t) { return t.regime == "minnorm" ? 5e-7 : 0.0; }
double global_batch(const Trial& t) { return t.batch == kFullBatch ? 50000.0 : static_cast<double>(t.batch); }
double two_rank_overhead(const Trial& t) { return t.ranks == 2 ? 1.1 : 1.0; }
// The slowest rank's compute against rank 0's.
double slowest_rank(const Trial& t) { return t.ranks == 1 ? 1.0 : 1.05; }
double comm_per_step(const Trial& t) {
  return t.ranks == 1 ? 0.0 : kAssumedLatencyUs * 1e-6 + kBytesPerStep / kBusBandwidth;  // 2 (p - 1) / p = 1
}
// Only multi-rank trials measure the noise scale; the fixture has no target, so the report reads the last
// evaluation's (epoch 2).
double b_simple_of(const Trial& t, int epoch) {
  return (t.regime == "sgd" ? 300.0 : 500.0) + 10.0 * static_cast<double>(t.seed) + (t.batch == 64 ? 0.0 : 40.0) +
         5.0 * epoch + (lr_of(t) == 0.2 ? 0.0 : 1000.0);
}

// One failed and one pending trial, each in a selected cell.
bool is_failed(const Trial& t) {
  return t.regime == "minnorm" && t.batch == kFullBatch && t.ranks == 2 && t.seed == 3 && lr_of(t) == 0.1;
}
bool is_pending(const Trial& t) {
  return t.regime == "sgd" && t.batch == kFullBatch && t.ranks == 1 && t.seed == 3 && lr_of(t) == 0.1;
}

// Stores `trials` with their figures and three metric records each (epochs 0, 1, 2).
void fill_store(TrialStore& store, const std::vector<Trial>& trials) {
  store.upsert_trials(trials);
  for (const Trial& t : trials) {
    if (is_pending(t)) continue;
    store.set_state(t.id, TrialState::kRunning);
    if (is_failed(t)) {
      store.set_state(t.id, TrialState::kFailed, TrialOutcome{1, "diverged", 3.0});
      continue;
    }
    const Figures f = figures_of(t);
    store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", f.wall});
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, double>>{{"validation_error", f.validation}, {"test_error", f.test},
                                                     {"train_error", f.train}, {"weight_norm", f.norm},
                                                     {"wall_seconds", f.wall}, {"steps_to_target", f.steps},
                                                     {"seconds_to_target", f.seconds}}) {
      store.record_result(t.id, key, value);
    }
    if (f.support) store.record_result(t.id, "support_fraction", *f.support);
    std::vector<MetricRow> rows;
    for (int epoch = 0; epoch <= 2; ++epoch) {
      nlohmann::json record = {{"step", 10 * epoch},
                               {"epoch", epoch},
                               {"validation_error", f.validation + 3.0 * (2 - epoch)},
                               {"weight_norm", f.norm * (epoch + 1) / 3.0},
                               {"train_loss", 1.0 / (epoch + 1)},
                               {"rho", 2.0 * (epoch + 1)},
                               {"layers", {{{"name", "layer1"}, {"frobenius", 1.0 + epoch}},
                                           {{"name", "layer2"}, {"frobenius", 2.0 + epoch}}}},
                               {"samples_per_s", t.ranks == 1 ? 1000.0 : 1600.0}};
      if (epoch > 0) {
        // Intervals 20% slower and faster than the trial's mean: their sum is what counts.
        const double interval = epoch == 1 ? 1.2 : 0.8;
        const double per_rank = global_batch(t) / static_cast<double>(t.ranks);
        record["steps"] = kStepsPerEvaluation;
        record["step_time_compute_s"] = compute_per_example(t) * per_rank * two_rank_overhead(t) * interval;
        record["step_time_multiplier_s"] = multiplier_per_example(t) * per_rank;
        // Rank 0's allreduce waits for the slowest rank (5% slower), the slowest rank's is the transfer alone.
        const double compute = record["step_time_compute_s"].get<double>();
        record["step_time_compute_max_s"] = compute * slowest_rank(t);
        record["step_time_comm_s"] = comm_per_step(t) + compute * (slowest_rank(t) - 1.0);
        record["step_time_comm_min_s"] = comm_per_step(t);
        record["bytes_reduced"] = kBytesPerStep * kStepsPerEvaluation;
        if (t.ranks > 1) record["noise_scale"] = {{"b_simple", b_simple_of(t, epoch)}, {"samples", 3}};
      }
      if (f.support) {
        record["support_fraction"] = *f.support + 0.1 * (2 - epoch);
        record["constraints_violated"] = 0.05 * (2 - epoch);
        if (epoch > 0) record["support_churn"] = 40.0 / epoch;
      }
      rows.push_back({10 * epoch, static_cast<double>(epoch), record.dump()});
    }
    store.add_metrics(t.id, rows);
  }
}

std::optional<std::filesystem::path> gnuplot_or_none() {
  try {
    return find_gnuplot("gnuplot");
  } catch (const Error&) {
    return std::nullopt;
  }
}

#define SKIP_WITHOUT_GNUPLOT()                                                                   \
  if (!gnuplot_or_none()) {                                                                      \
    GTEST_SKIP() << "gnuplot is not on PATH (Debian package gnuplot-nox; launch/setup.sh installs it)"; \
  }

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + separator.size();
  }
}

// The database is built once for the suite: 48 trials with their results and metrics.
class ReportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir("normscale_report_", "suite");
    spec_ = new StudySpec(parse_study(kFixtureStudy, "fixture.toml"));
    trials_ = new std::vector<Trial>(expand(*spec_));
    TrialStore store(database());
    fill_store(store, *trials_);
  }
  static void TearDownTestSuite() {
    delete trials_;
    delete spec_;
    delete dir_;
  }
  static std::filesystem::path database() { return dir_->path() / "fixture.db"; }

  void SetUp() override { out_ = testing::make_fresh_dir("normscale_report_out_", testing::current_test_name()); }
  void TearDown() override { std::filesystem::remove_all(out_); }

  static const TableRow& row_of(const std::vector<TableRow>& rows, const std::string& regime, std::int64_t batch,
                                std::int64_t ranks) {
    for (const TableRow& row : rows) {
      if (row.regime == regime && row.batch == batch && row.ranks == ranks) return row;
    }
    throw std::runtime_error("no such row");
  }

  // Figures of the done trials of one cell at learning rate `lr`, computed from the fixture alone.
  static std::vector<Figures> done_figures(const std::string& regime, std::int64_t batch,
                                           std::optional<std::int64_t> ranks, double lr) {
    std::vector<Figures> out;
    for (const Trial& t : *trials_) {
      if (t.regime != regime || t.batch != batch || (ranks && t.ranks != *ranks) || lr_of(t) != lr) continue;
      if (is_failed(t) || is_pending(t)) continue;
      out.push_back(figures_of(t));
    }
    return out;
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline StudySpec* spec_ = nullptr;
  static inline std::vector<Trial>* trials_ = nullptr;
  std::filesystem::path out_;
};

TEST_F(ReportTest, SelectsTheGridPointWithTheBestMeanValidationError) {
  const std::vector<TableRow> rows = build_table(load_study_data(*spec_, database()));
  ASSERT_EQ(rows.size(), 8U);  // 2 regimes x 2 batches x 2 rank counts
  for (const std::string regime : {"sgd", "minnorm"}) {
    for (const std::int64_t batch : {std::int64_t{64}, kFullBatch}) {
      // Independently: the fewest failed trials, then the mean validation error of each learning rate over every
      // seed and rank count.
      double best = 0.0;
      std::pair<int, double> best_key{1 << 30, 0.0};
      for (const double lr : {0.1, 0.2}) {
        double sum = 0.0;
        const std::vector<Figures> figures = done_figures(regime, batch, std::nullopt, lr);
        for (const Figures& f : figures) sum += f.validation;
        const auto failures = std::count_if(trials_->begin(), trials_->end(), [&](const Trial& t) {
          return t.regime == regime && t.batch == batch && lr_of(t) == lr && is_failed(t);
        });
        const std::pair<int, double> key{static_cast<int>(failures), sum / static_cast<double>(figures.size())};
        if (key < best_key) {
          best_key = key;
          best = lr;
        }
      }
      EXPECT_EQ(best, selected_lr(regime, batch));  // the fixture is built that way
      for (const std::int64_t ranks : {1, 2}) {
        const TableRow& row = row_of(rows, regime, batch, ranks);
        EXPECT_TRUE(row.selected);
        EXPECT_EQ(row.grid_label, fmt::format("optim.lr={}", best)) << regime << " " << batch_label(batch);
        ASSERT_TRUE(row.lr.has_value());
        EXPECT_DOUBLE_EQ(*row.lr, best);
      }
    }
  }
}

TEST_F(ReportTest, CellsAreMeanAndSampleStdOverSeeds) {
  const StudyData data = load_study_data(*spec_, database());
  const std::vector<TableRow> rows = build_table(data);
  const TableRow& row = row_of(rows, "sgd", 64, 2);
  const std::vector<Figures> figures = done_figures("sgd", 64, 2, 0.2);
  ASSERT_EQ(figures.size(), 3U);
  double sum = 0.0;
  for (const Figures& f : figures) sum += f.test;
  const double mean = sum / 3.0;
  double squares = 0.0;
  for (const Figures& f : figures) squares += (f.test - mean) * (f.test - mean);
  const double std = std::sqrt(squares / 2.0);  // sample std, n - 1
  ASSERT_GT(std, 0.1);                          // seeds differ: the std is checked, not just 0
  const Stat& stat = row.stats.at("test_error");
  EXPECT_EQ(stat.n, 3U);
  EXPECT_NEAR(stat.mean, mean, 1e-12);
  EXPECT_NEAR(stat.std, std, 1e-12);
  EXPECT_EQ(row.done, 3U);

  // The same numbers in table.csv (by column name) and table.md (two decimals).
  const std::vector<std::string> lines = split(table_csv(data, rows), "\n");
  const std::vector<std::string> header = split(lines.at(0), ",");
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  bool found = false;
  for (const std::string& line : lines) {
    const std::vector<std::string> cells = split(line, ",");
    if (cells.size() != header.size() || cells[0] != "sgd" || cells[1] != "64" || cells[2] != "2") continue;
    found = true;
    EXPECT_NEAR(std::stod(cells.at(column("test_error_mean"))), mean, 1e-12);
    EXPECT_NEAR(std::stod(cells.at(column("test_error_std"))), std, 1e-12);
    EXPECT_EQ(cells.at(column("test_error_n")), "3");
    EXPECT_EQ(cells.at(column("hyperparameters")), "optim.lr=0.2");
  }
  EXPECT_TRUE(found) << "no row sgd,64,2 in table.csv";
  EXPECT_THAT(table_markdown(data, rows), HasSubstr(fmt::format("| {:.2f} ± {:.2f} |", mean, std)));
}

TEST_F(ReportTest, StepsToTargetUseTheFastestGridPoint) {
  const std::vector<TableRow> rows = build_table(load_study_data(*spec_, database()));
  const TableRow& row = row_of(rows, "sgd", kFullBatch, 1);
  EXPECT_EQ(row.grid_label, "optim.lr=0.1");          // best validation error
  EXPECT_EQ(row.fastest_grid_label, "optim.lr=0.2");  // fewest steps to the target
  const std::vector<Figures> figures = done_figures("sgd", kFullBatch, 1, 0.2);
  ASSERT_EQ(figures.size(), 3U);
  double steps = 0.0, seconds = 0.0;
  for (const Figures& f : figures) {
    steps += f.steps / 3.0;
    seconds += f.seconds / 3.0;
  }
  EXPECT_EQ(row.steps_to_target.n, 3U);
  EXPECT_NEAR(row.steps_to_target.mean, steps, 1e-9);
  EXPECT_NEAR(row.seconds_to_target.mean, seconds, 1e-9);
  // The table's own column stays at the selected point: lr 0.1, two done seeds.
  EXPECT_EQ(row.stats.at("steps_to_target").n, 2U);
}

// A failed seed is infeasible (Shallue et al.): minnorm's full batch selects lr 0.2, whose seeds all finished, over
// lr 0.1 (the better mean of its two done seeds, but one failed); a pending trial is neither.
TEST_F(ReportTest, FailedAndPendingTrialsAreCountedNotAveraged) {
  const std::vector<TableRow> rows = build_table(load_study_data(*spec_, database()));
  const TableRow& minnorm = row_of(rows, "minnorm", kFullBatch, 2);
  EXPECT_EQ(minnorm.grid_label, "optim.lr=0.2");
  EXPECT_EQ(minnorm.trials, 3U);
  EXPECT_EQ(minnorm.done, 3U);
  EXPECT_EQ(minnorm.failed, 0U);
  const TableRow& pending = row_of(rows, "sgd", kFullBatch, 1);
  EXPECT_EQ(pending.grid_label, "optim.lr=0.1");
  EXPECT_EQ(pending.done, 2U);
  EXPECT_EQ(pending.failed, 0U);
  EXPECT_EQ(pending.stats.at("validation_error").n, 2U);
  const std::string markdown = table_markdown(load_study_data(*spec_, database()), rows);
  EXPECT_THAT(markdown, HasSubstr("| 2 of 3 |"));
  EXPECT_THAT(markdown, Not(HasSubstr("failed)")));
}

// A trial the divergence guard stopped is failed with the figure diverged = 1: the table names it diverged. With a
// failed seed at each learning rate of the cell, the mean of the done seeds decides again (lr 0.1, 2 of 3 done).
TEST_F(ReportTest, DivergedIsItsOwnOutcome) {
  const std::filesystem::path copy = out_ / "diverged.db";
  std::filesystem::copy_file(database(), copy);
  const std::vector<Trial> trials = expand(*spec_);
  const auto failed = std::find_if(trials.begin(), trials.end(), is_failed);
  ASSERT_NE(failed, trials.end());
  const auto other = std::find_if(trials.begin(), trials.end(), [](const Trial& t) {
    return t.regime == "minnorm" && t.batch == kFullBatch && t.ranks == 1 && t.seed == 1 && lr_of(t) == 0.2;
  });
  ASSERT_NE(other, trials.end());
  {
    TrialStore store(copy);
    store.record_result(failed->id, "diverged", 1.0);
    store.set_state(other->id, TrialState::kFailed, TrialOutcome{1, "crashed", 3.0});
  }
  const StudyData data = load_study_data(*spec_, copy);
  const std::vector<TableRow> rows = build_table(data);
  const TableRow& row = row_of(rows, "minnorm", kFullBatch, 2);
  EXPECT_EQ(row.grid_label, "optim.lr=0.1");
  EXPECT_EQ(row.failed, 1U);
  EXPECT_EQ(row.diverged, 1U);
  EXPECT_THAT(table_markdown(data, rows), HasSubstr("| 2 of 3 (1 diverged) |"));
  EXPECT_THAT(table_csv(data, rows), HasSubstr(",3,2,1,1,\n"));  // no target: nothing reached
}

TEST_F(ReportTest, MissingResultsAreDashes) {
  const StudyData data = load_study_data(*spec_, database());
  const std::vector<TableRow> rows = build_table(data);
  // sgd records no support_fraction: "—" in Markdown and HTML, empty in CSV; Minnorm has one.
  // Cells split on " | ": "| regime", batch, ranks, hyperparameters, lr, then the figures.
  std::size_t support_column = 0;
  const std::vector<TableColumn>& columns = table_columns(StudyMetric::kValidationError);
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].key == "support_fraction") support_column = 5 + i;
  }
  ASSERT_GT(support_column, 0U);
  int sgd_rows = 0;
  int minnorm_rows = 0;
  for (const std::string& line : split(table_markdown(data, rows), "\n")) {
    const std::vector<std::string> cells = split(line, " | ");
    if (cells.size() < support_column + 1) continue;
    if (cells[0] == "| sgd") {
      ++sgd_rows;
      EXPECT_EQ(cells[support_column], "—") << line;
    } else if (cells[0] == "| minnorm") {
      ++minnorm_rows;
      EXPECT_NE(cells[support_column], "—") << line;
    }
  }
  EXPECT_EQ(sgd_rows, 4);
  EXPECT_EQ(minnorm_rows, 4);
  EXPECT_EQ(format_stat(Stat{}, 2), "—");
  EXPECT_EQ(format_stat(summarize({1.0}), 2), "1.00");
  EXPECT_THAT(table_csv(data, rows), HasSubstr(",,,0"));
  EXPECT_THAT(report_html(data, rows, {}, {}), HasSubstr("<td class=\"num\">—</td>"));
}

TEST_F(ReportTest, AllTrialsCsvHasEveryTrialAndItsState) {
  const std::string csv = all_trials_csv(load_study_data(*spec_, database()));
  const std::vector<std::string> lines = split(csv, "\n");
  ASSERT_EQ(lines.size(), 1U + 48U + 1U);  // header, trials, the final newline
  EXPECT_THAT(lines[0], HasSubstr(",state,"));
  int failed = 0, pending = 0, done = 0;
  for (const std::string& line : lines) {
    failed += line.find(",failed,") != std::string::npos;
    pending += line.find(",pending,") != std::string::npos;
    done += line.find(",done,") != std::string::npos;
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(pending, 1);
  EXPECT_EQ(done, 46);
}

// McCandlish's model S = S_min (1 + B_noise / B), E = S B has B_crit = E_min / S_min = B_noise: the fit recovers
// it from the model's own points, to 1% with a 1% perturbation of every S, and refuses data without a trade-off.
TEST(CriticalBatch, FitRecoversTheModelsCriticalBatchSize) {
  constexpr double kSMin = 800, kNoise = 700;
  std::vector<BatchSteps> points;
  for (const double b : {32.0, 128.0, 512.0, 2048.0, 8192.0}) points.push_back({b, kSMin * (1 + kNoise / b)});
  const auto fit = fit_critical_batch(points);
  ASSERT_TRUE(fit.has_value());
  EXPECT_NEAR(fit->b_crit, kNoise, 1e-9 * kNoise);
  EXPECT_NEAR(fit->s_min, kSMin, 1e-9 * kSMin);
  EXPECT_NEAR(fit->e_min, kSMin * kNoise, 1e-6 * kSMin * kNoise);
  EXPECT_NEAR(fit->r2, 1.0, 1e-12);
  EXPECT_EQ(fit->points, 5U);
  for (std::size_t i = 0; i < points.size(); ++i) points[i].steps *= i % 2 == 0 ? 1.01 : 0.99;
  const auto noisy = fit_critical_batch(points);
  ASSERT_TRUE(noisy.has_value());
  EXPECT_NEAR(noisy->b_crit, kNoise, 0.01 * kNoise);

  EXPECT_FALSE(fit_critical_batch(std::vector<BatchSteps>{{128, 900}, {128, 950}}).has_value()) << "one batch size";
  // Perfect scaling, S = c / B: the examples never grow with B, so there is no critical batch size.
  EXPECT_FALSE(fit_critical_batch(std::vector<BatchSteps>{{64, 1000}, {128, 500}, {256, 250}}).has_value());
}

// Three workloads; A takes 100 / 200 / 300 steps, B 150 / 100 / never: the fastest are 100, 100, 300, so A's
// ratios are 1, 2, 1 and B's 1.5, 1. Scores: mean share over tau in [1, 4]: A (3 + 2 + 3) / 9, B (2.5 + 3) / 9.
TEST(PerformanceProfile, SharesAndScoresByHand) {
  const PerformanceProfiles p = performance_profiles(
      {{"A", {{64, 100}, {256, 200}, {1024, 300}}}, {"B", {{64, 150}, {256, 100}}}}, 4.0);
  EXPECT_EQ(p.workloads, 3U);
  ASSERT_EQ(p.regimes.size(), 2U);
  EXPECT_NEAR(p.regimes[0].score, 8.0 / 9.0, 1e-12);
  EXPECT_NEAR(p.regimes[1].score, 5.5 / 9.0, 1e-12);
  EXPECT_NEAR(p.share(0, 1.0), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(p.share(1, 1.0), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(p.share(1, 1.49), 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(p.share(1, 1.5), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(p.share(0, 2.0), 1.0, 1e-12);
  EXPECT_THAT(performance_profile_markdown(p), HasSubstr("| A | 0.889 | 67% | 100% |"));
  EXPECT_EQ(performance_profiles({}).workloads, 0U);
}

TEST_F(ReportTest, TableHasTheCriticalBatchSizePerRegime) {
  const std::vector<RegimeCriticalBatch> fits = critical_batches(load_study_data(*spec_, database()),
                                                                 build_table(load_study_data(*spec_, database())));
  ASSERT_FALSE(fits.empty());
  write_report(*spec_, database(), out_, ReportOptions{.plots = false});
  const std::string table = read_text(out_ / "table.md");
  EXPECT_THAT(table, HasSubstr("## Critical batch size"));
  EXPECT_THAT(table, HasSubstr("## Performance profiles"));
  for (const RegimeCriticalBatch& r : fits) {
    EXPECT_THAT(table, HasSubstr("| " + markdown_cell(r.regime) + " |")) << r.regime;
    EXPECT_EQ(r.points.size(), 2U) << "batch 64 and full reach the target in the fixture";
  }
}

// B_simple is read at the evaluation nearest to the step where the trial first reached the target (ties: the
// earlier one), at the last evaluation that has it when the trial never reached it or there is no target.
TEST(CriticalBatch, NoiseScaleIsReadNearTheTarget) {
  ReportTrial trial;
  const auto point = [](std::int64_t step, double error, std::optional<double> b_simple) {
    MetricPoint p{step, 0.0, {{"validation_error", error}}};
    if (b_simple) p.values["noise_scale.b_simple"] = *b_simple;
    return p;
  };
  trial.metrics = {point(10, 30.0, 100.0), point(20, 20.0, 200.0), point(30, 14.0, std::nullopt),
                   point(40, 12.0, 400.0), point(50, 11.0, std::nullopt)};
  const auto error = [](double value) { return MetricTarget{StudyMetric::kValidationError, value}; };
  // Reached at step 30, which has no estimate; steps 20 and 40 are as near, the earlier wins.
  EXPECT_EQ(b_simple_near_target(trial, error(15.0)), 200.0);
  EXPECT_EQ(b_simple_near_target(trial, error(25.0)), 200.0);  // reached at step 20 itself
  EXPECT_EQ(b_simple_near_target(trial, error(5.0)), 400.0);   // never reached: the last estimate
  EXPECT_EQ(b_simple_near_target(trial, std::nullopt), 400.0);
  // A loss target reads the validation loss (these evaluations have none: never reached).
  EXPECT_EQ(b_simple_near_target(trial, MetricTarget{StudyMetric::kValidationLoss, 100.0}), 400.0);
  for (MetricPoint& p : trial.metrics) p.values["validation_loss"] = p.values.at("validation_error") / 100.0;
  EXPECT_EQ(b_simple_near_target(trial, MetricTarget{StudyMetric::kValidationLoss, 0.25}), 200.0);
  trial.metrics = {point(10, 30.0, std::nullopt)};
  EXPECT_FALSE(b_simple_near_target(trial, error(15.0)).has_value());
}

// A halving rung's end evaluates between eval_every's ("off_cadence"): the uninterrupted run has no evaluation there,
// so the report reads none there (B_simple near the target was read at such a step) unless it is the trial's last.
TEST(CriticalBatch, AnEvaluationOffTheCadenceIsLeftOutUnlessItIsTheLast) {
  const std::vector<MetricRow> rows = {
      {10, 0.0, R"({"step":10,"validation_error":30,"noise_scale":{"b_simple":100}})"},
      {15, 0.0, R"({"step":15,"validation_error":20,"noise_scale":{"b_simple":150},"off_cadence":true})"},
      {15, 0.0, R"({"event":"resumed","step":15})"},
      {20, 0.0, R"({"step":20,"validation_error":19,"noise_scale":{"b_simple":200}})"},
      {25, 0.0, R"({"step":25,"validation_error":18,"noise_scale":{"b_simple":250},"off_cadence":true})"}};
  ReportTrial trial;
  trial.metrics = metric_points(rows);
  std::vector<std::int64_t> steps;
  for (const MetricPoint& point : trial.metrics) steps.push_back(point.step);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{10, 20, 25}));
  EXPECT_EQ(b_simple_near_target(trial, MetricTarget{StudyMetric::kValidationError, 25.0}), 200.0);
  EXPECT_EQ(trial.metrics.back().values.at("noise_scale.b_simple"), 250.0);
}

double median_by_hand(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

// The fixture's 2-rank trials log B_simple; the regime's value is the median over the trials at its fit's grid
// points (lr 0.2, the fastest to the target everywhere) of their last evaluation's (the fixture has no target).
TEST_F(ReportTest, CriticalBatchSectionHasTheMeasuredNoiseScale) {
  const StudyData data = load_study_data(*spec_, database());
  const std::vector<TableRow> rows = build_table(data);
  const std::vector<RegimeCriticalBatch> fits = critical_batches(data, rows);
  const std::string markdown = critical_batch_markdown(data, fits);
  EXPECT_THAT(markdown, HasSubstr("B_simple near the target (median) | B_simple / B_crit |"));
  for (const RegimeCriticalBatch& fit : fits) {
    std::vector<double> values;
    for (const Trial& t : *trials_) {
      if (t.regime == fit.regime && t.ranks == 2 && lr_of(t) == 0.2 && !is_failed(t) && !is_pending(t)) {
        values.push_back(b_simple_of(t, 2));
      }
    }
    ASSERT_EQ(values.size(), 6U) << "2 batches x 3 seeds";
    const double median = median_by_hand(values);
    ASSERT_TRUE(fit.noise.b_simple.has_value()) << fit.regime;
    EXPECT_NEAR(*fit.noise.b_simple, median, 1e-9) << fit.regime;
    EXPECT_EQ(fit.noise.trials, 6U);
    ASSERT_TRUE(fit.fit.has_value()) << fit.regime;
    EXPECT_THAT(markdown, HasSubstr(fmt::format("| {:.4g} (6 trials) | {:.3g} |\n", median, median / fit.fit->b_crit)))
        << fit.regime;
  }
  // A batch size that reaches no target is not in the fit, and its trials' values are not in the median (its selected
  // point's last evaluation was taken).
  std::vector<TableRow> without_full = rows;
  for (TableRow& row : without_full) {
    if (row.batch != kFullBatch) continue;
    row.fastest_grid_label.clear();
    row.steps_to_target = Stat{};
  }
  for (const RegimeCriticalBatch& fit : critical_batches(data, without_full)) {
    std::vector<double> values;
    for (const Trial& t : *trials_) {
      if (t.regime == fit.regime && t.batch == 64 && t.ranks == 2 && lr_of(t) == 0.2) values.push_back(b_simple_of(t, 2));
    }
    ASSERT_TRUE(fit.noise.b_simple.has_value()) << fit.regime;
    EXPECT_NEAR(*fit.noise.b_simple, median_by_hand(values), 1e-9) << fit.regime;
    EXPECT_EQ(fit.noise.trials, 3U) << fit.regime;
    EXPECT_EQ(fit.points.size(), 1U);
  }
  // A batch size whose smallest rank count has no done trial is drawn from the next rank count, as the plots draw it
  // (the fit and the profile left it out).
  std::vector<TableRow> one_rank_failed = rows;
  for (TableRow& row : one_rank_failed) {
    if (row.batch != 64 || row.ranks != 1) continue;
    row.done = 0;
    row.steps_to_target = Stat{};
  }
  for (const RegimeSteps& regime : steps_to_target_by_regime(data, one_rank_failed)) {
    ASSERT_EQ(regime.points.size(), 2U) << regime.regime;
    const auto two_ranks = std::find_if(rows.begin(), rows.end(), [&](const TableRow& row) {
      return row.regime == regime.regime && row.batch == 64 && row.ranks == 2;
    });
    ASSERT_NE(two_ranks, rows.end());
    EXPECT_EQ(regime.points[0].steps, two_ranks->steps_to_target.mean) << regime.regime;
  }

  // Without the noise scale in the metrics (one-rank trials cannot measure it): said so, and no ratio.
  StudyData unmeasured = data;
  for (ReportTrial& trial : unmeasured.trials) trial.metrics.clear();
  const std::vector<TableRow> unmeasured_rows = build_table(unmeasured);
  EXPECT_THAT(critical_batch_markdown(unmeasured, critical_batches(unmeasured, unmeasured_rows)),
              HasSubstr("| not measured | — |\n"));
}

// The fixture's compute per example, from its selected done trials at one rank, by hand.
double fixture_compute_per_example(const std::vector<Trial>& trials, const std::string& regime, std::int64_t batch) {
  std::vector<double> values;
  for (const Trial& t : trials) {
    if (t.regime == regime && t.batch == batch && t.ranks == 1 && lr_of(t) == selected_lr(regime, batch) &&
        !is_failed(t) && !is_pending(t)) {
      values.push_back(compute_per_example(t) + multiplier_per_example(t));
    }
  }
  return median_by_hand(values);
}

// The ring allreduce of the fixture's gradient, by hand.
double fixture_comm(std::int64_t p, double bandwidth, double latency) {
  if (p == 1) return 0.0;
  return latency + 2.0 * static_cast<double>(p - 1) / static_cast<double>(p) * kBytesPerStep / bandwidth;
}

// One row of the projection table recomputed from the fixture alone: compute c B / p, the ring allreduce,
// samples/s B / (compute + comm), efficiency against 1 / c, the first doubling p with comm > compute and p*.
std::string projection_row_by_hand(const std::vector<Trial>& trials, const std::string& regime, std::int64_t batch,
                                   double bandwidth, double latency) {
  const double c = fixture_compute_per_example(trials, regime, batch);
  const double b = batch == kFullBatch ? 50000.0 : static_cast<double>(batch);
  std::string row = fmt::format("| {} | {} | 1 | {:.4g} | {:.4g} |", regime, batch_label(batch), c * 1e6,
                                kBytesPerStep / 1e6);
  for (const std::int64_t p : {1, 8, 64, 1024}) {
    const double compute = c * b / static_cast<double>(p);
    const double samples = b / (compute + fixture_comm(p, bandwidth, latency));
    row += fmt::format(" {:.4g} ({:.2f}) |", samples, samples * c / static_cast<double>(p));
  }
  std::int64_t first = 0;
  for (std::int64_t p = 2; p <= 1024 && first == 0; p *= 2) {
    if (fixture_comm(p, bandwidth, latency) > c * b / static_cast<double>(p)) first = p;
  }
  const double transfer = 2.0 * kBytesPerStep / bandwidth;
  const double crossover = (c * b + transfer) / (latency + transfer);
  row += first > 0 ? fmt::format(" p = {} (p* = {:.3g}) |", first, crossover)
                   : fmt::format(" beyond 1024 (p* = {:.3g}) |", crossover);
  return row;
}

// The 2-rank row of measured vs projected, by hand: measured B / (compute + multiplier + comm per step) over the
// selected trials (median), projected from the 1-rank cost with `factor` for time sharing.
std::string check_row_by_hand(const std::vector<Trial>& trials, const std::string& regime, std::int64_t batch,
                              double bandwidth, double latency, double factor) {
  const double b = batch == kFullBatch ? 50000.0 : static_cast<double>(batch);
  std::vector<double> step_seconds, compute, slowest, comm, transfer;
  for (const Trial& t : trials) {
    if (t.regime == regime && t.batch == batch && t.ranks == 2 && lr_of(t) == selected_lr(regime, batch) &&
        !is_failed(t) && !is_pending(t)) {
      const double rank0 = compute_per_example(t) * 1.1 * b / 2, multiplier = multiplier_per_example(t) * b / 2;
      const double wait = rank0 * (slowest_rank(t) - 1.0);
      step_seconds.push_back(rank0 + multiplier + comm_per_step(t) + wait);
      compute.push_back(rank0 + multiplier);
      slowest.push_back(rank0 * slowest_rank(t) + multiplier);
      comm.push_back(comm_per_step(t) + wait);
      transfer.push_back(comm_per_step(t));
    }
  }
  const double measured = b / median_by_hand(step_seconds);
  const double c = fixture_compute_per_example(trials, regime, batch);
  const double model_compute = c * b / 2 * factor, model_comm = fixture_comm(2, bandwidth, latency);
  const double projected = b / (model_compute + model_comm);
  return fmt::format("| {} | {} | 2 | 1 | {:.4g} | {:.4g} | {:.3f} | {} | {:.4g}, {:.4g}, {:.4g} | {:.4g}, {:.4g}, "
                     "{:.4g} |",
                     regime, batch_label(batch), measured, projected, measured / projected,
                     std::abs(measured / projected - 1) <= 0.15 ? "yes" : "no", median_by_hand(compute) * 1e3,
                     median_by_hand(slowest) * 1e3, model_compute * 1e3, median_by_hand(comm) * 1e3,
                     median_by_hand(transfer) * 1e3, model_comm * 1e3);
}

TEST_F(ReportTest, ScalingProjectionSectionByHand) {
  write_report(*spec_, database(), out_, ReportOptions{.plots = false, .cores = 2});
  const std::string table = read_text(out_ / "table.md");
  EXPECT_THAT(table, HasSubstr("## Scaling projection"));
  // 2 ranks on 2 cores do not time-share: their comm times give the fixture's bandwidth, the latency assumed.
  EXPECT_THAT(table, HasSubstr("bus bandwidth 4 GB/s (measured on the machine the trials ran on"));
  EXPECT_THAT(table, HasSubstr("the median over 23 trials at 2 ranks"));  // 24 at 2 ranks, one failed
  EXPECT_THAT(table, HasSubstr("latency 5 us (assumed"));
  const double latency = kAssumedLatencyUs * 1e-6;
  for (const std::string regime : {"sgd", "minnorm"}) {
    for (const std::int64_t batch : {std::int64_t{64}, kFullBatch}) {
      EXPECT_THAT(table, HasSubstr(projection_row_by_hand(*trials_, regime, batch, kBusBandwidth, latency)))
          << regime << " " << batch_label(batch);
      EXPECT_THAT(table, HasSubstr(check_row_by_hand(*trials_, regime, batch, kBusBandwidth, latency, 1.0)))
          << regime << " " << batch_label(batch);
    }
  }
  // The fixture's small batch is communication-bound from 2 ranks, the full batch only from 256.
  EXPECT_THAT(table, HasSubstr("| p = 2 (p* = "));
  EXPECT_THAT(table, HasSubstr("| p = 256 (p* = "));
}

// On one core the 2-rank trials time-shared it: their comm time includes waiting, so the bandwidth is assumed,
// and the projection for them doubles the compute.
TEST_F(ReportTest, ScalingProjectionTimeSharesOneCore) {
  write_report(*spec_, database(), out_, ReportOptions{.plots = false, .cores = 1});
  const std::string table = read_text(out_ / "table.md");
  EXPECT_THAT(table, HasSubstr("bus bandwidth 10 GB/s (assumed: the study's 23 timed multi-rank trials all had more "
                               "ranks than the 1 cores of the machine they ran on"));
  const double latency = kAssumedLatencyUs * 1e-6;
  EXPECT_THAT(table, HasSubstr(projection_row_by_hand(*trials_, "sgd", 64, kAssumedBandwidthGbps * 1e9, latency)));
  EXPECT_THAT(table, HasSubstr(check_row_by_hand(*trials_, "sgd", kFullBatch, kAssumedBandwidthGbps * 1e9, latency,
                                                 2.0)));
  // Compute-bound at the full batch: measured 1.1 x (c B / 2) against a projected 2 x (c B / 2), outside 15%.
  EXPECT_THAT(check_row_by_hand(*trials_, "sgd", kFullBatch, kAssumedBandwidthGbps * 1e9, latency, 2.0),
              HasSubstr(" | no | "));
}

// --bandwidth and --latency replace the measured network.
TEST_F(ReportTest, GivenNetworkReplacesTheMeasuredOne) {
  write_report(*spec_, database(), out_,
               ReportOptions{.plots = false, .network = {.bandwidth_gbps = 25.0, .latency_us = 2.0}, .cores = 2});
  const std::string table = read_text(out_ / "table.md");
  EXPECT_THAT(table, HasSubstr("bus bandwidth 25 GB/s (given (--bandwidth)); latency 2 us (given (--latency))"));
  EXPECT_THAT(table, HasSubstr(projection_row_by_hand(*trials_, "minnorm", kFullBatch, 25e9, 2e-6)));
}

TEST_F(ReportTest, ScalingProjectionPlotHasPerfectScalingAndTheCommunicationBoundPoints) {
  const StudyData data = load_study_data(*spec_, database());
  const std::vector<TableRow> rows = build_table(data);
  const NetworkEstimate network = estimate_network(data, {}, 2);
  const std::vector<ScalingProjection> projections = scaling_projections(data, rows, network.model, 2);
  ASSERT_EQ(projections.size(), 4U);
  const Plot plot = scaling_projection_plot(network, projections);
  EXPECT_EQ(plot.name, "scaling_projection");
  EXPECT_TRUE(plot.log2_x);
  EXPECT_TRUE(plot.log_y);
  ASSERT_EQ(plot.series.size(), 2U * 4U + 1U);  // projected and perfect per (regime, batch), the starred points
  const auto series = [&](const std::string& title) -> const PlotSeries& {
    const auto found = std::find_if(plot.series.begin(), plot.series.end(),
                                    [&](const PlotSeries& s) { return s.title == title; });
    if (found == plot.series.end()) throw std::runtime_error("no series " + title);
    return *found;
  };
  const PlotSeries& sgd = series("sgd, batch 64");
  const PlotSeries& perfect = series("sgd, batch 64: perfect scaling");
  EXPECT_EQ(perfect.style, SeriesStyle::kDashed);
  ASSERT_EQ(perfect.points.size(), 11U);
  EXPECT_NEAR(perfect.points.back().y, 1024 * sgd.points.front().y, 1e-9 * perfect.points.back().y);
  const PlotSeries& bound = series("first communication-bound rank count");
  EXPECT_EQ(bound.style, SeriesStyle::kStars);
  ASSERT_EQ(bound.points.size(), 4U);
  // By hand (ScalingProjectionSectionByHand): both regimes from 2 ranks at batch 64; sgd from 256 at the full batch.
  const auto starred_at = [&](double x, double y) {
    return std::any_of(bound.points.begin(), bound.points.end(),
                       [&](const PlotPoint& p) { return p.x == x && std::abs(p.y - y) <= 1e-12 * y; });
  };
  EXPECT_TRUE(starred_at(2.0, sgd.points[1].y));
  EXPECT_TRUE(starred_at(256.0, series("sgd, batch full").points[8].y));
  EXPECT_EQ(std::count_if(bound.points.begin(), bound.points.end(), [](const PlotPoint& p) { return p.x == 2.0; }), 2);
}

TEST_F(ReportTest, WritesTablesAndIndexWithoutPlots) {
  const ReportSummary summary =
      write_report(*spec_, database(), out_, ReportOptions{.plots = false, .gnuplot = "no-such-gnuplot"});
  for (const char* name : {"table.md", "table.csv", "all_trials.csv", "index.html"}) {
    EXPECT_GT(std::filesystem::file_size(out_ / name), 0U) << name;
  }
  EXPECT_EQ(summary.index, out_ / "index.html");
  EXPECT_TRUE(summary.plots.empty());
  const std::string html = read_text(out_ / "index.html");
  EXPECT_THAT(html, HasSubstr("optim.lr=0.2"));
  EXPECT_THAT(html, HasSubstr("plots were not requested"));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
}

TEST_F(ReportTest, DrawsEveryPlotAsPngAndSvg) {
  SKIP_WITHOUT_GNUPLOT();
  const ReportSummary summary = write_report(*spec_, database(), out_);
  const std::vector<std::string> expected = {
      "test_error_vs_batch", "learning_curves",  "steps_to_target",  "examples_to_target",  "time_to_target",
      "best_lr_vs_batch",    "lr_grid",          "performance_profile", "support_fraction", "constraints_violated",
      "support_churn",       "weight_norm",      "train_loss",       "rho",                 "layer_norms",
      "scaling_efficiency",  "scaling_projection"};
  EXPECT_EQ(summary.plots, expected);
  const std::string html = read_text(out_ / "index.html");
  for (const std::string& name : expected) {
    const std::string png = read_text(out_ / (name + ".png"));
    ASSERT_GT(png.size(), 1000U) << name;
    EXPECT_EQ(png.substr(0, 4), "\x89PNG") << name;
    EXPECT_THAT(read_text(out_ / (name + ".svg")), HasSubstr("<svg")) << name;
    EXPECT_TRUE(std::filesystem::exists(out_ / (name + ".dat"))) << name;
    EXPECT_TRUE(std::filesystem::exists(out_ / (name + ".gp"))) << name;
    EXPECT_THAT(html, HasSubstr(fmt::format("src=\"{}.svg\"", name)));
  }
  // The efficiency data: samples/s 1600 on 2 ranks vs 1000 on 1 is 0.8.
  EXPECT_THAT(read_text(out_ / "scaling_efficiency.dat"), HasSubstr("\n2 0.8 0\n"));
  // The perfect-scaling line from each regime's smallest batch, and the examples (steps x batch).
  const std::string steps = read_text(out_ / "steps_to_target.dat");
  EXPECT_THAT(steps, HasSubstr("perfect scaling"));
  EXPECT_THAT(read_text(out_ / "examples_to_target.dat"), HasSubstr("index 0"));
  // The selected learning rate with its linear and square-root scaling lines, and the grid by outcome.
  const std::string best = read_text(out_ / "best_lr_vs_batch.dat");
  EXPECT_THAT(best, HasSubstr("linear scaling"));
  EXPECT_THAT(best, HasSubstr("square-root scaling"));
  // sgd's selected lr is 0.2 at batch 64: linear scaling puts 0.2 x 50000 / 64 = 156.25 at the full batch.
  EXPECT_THAT(best, HasSubstr("\n50000 156.25 0\n"));
  EXPECT_THAT(read_text(out_ / "lr_grid.dat"),
              HasSubstr("selected (best mean validation error; a point with a failed seed last)"));
  // Every layer's norm over training, a series per (regime, batch, layer).
  const std::string layers = read_text(out_ / "layer_norms.dat");
  EXPECT_THAT(layers, HasSubstr(", layer1"));
  EXPECT_THAT(layers, HasSubstr(", layer2"));
  // "full" is the largest batch on the axis, labelled as such.
  EXPECT_THAT(read_text(out_ / "test_error_vs_batch.gp"), HasSubstr("set xtics ('64' 64, 'full' 50000)"));
}

// A regression study (select_by = "validation_loss") selects by the validation loss and shows losses where a
// classification study shows errors: table columns, the trials table, the plots' keys, labels and target.
TEST_F(ReportTest, ARegressionStudyReportsLossesAndSelectsByValidationLoss) {
  const StudySpec spec = parse_study(R"toml(
name = "fit"
batch = [64, 256]
seeds = [1, 2]
target_validation_loss = 0.1
[base]
"data.source" = "sinusoid"
"objective.regime" = "square"
[grid]
"optim.lr" = [0.01, 0.1]
)toml", "fit.toml");
  EXPECT_EQ(spec.metric, StudyMetric::kValidationLoss);
  const std::vector<Trial> trials = expand(spec);
  {
    TrialStore store(out_ / "fit.db");
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      const bool fast = t.grid_point.at(0).value == "0.1";
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 5.0});
      store.record_result(t.id, "validation_loss", (fast ? 0.05 : 0.5) + 0.01 * static_cast<double>(t.seed));
      store.record_result(t.id, "test_loss", fast ? 0.07 : 0.6);
      store.record_result(t.id, "train_loss", fast ? 0.01 : 0.4);
    }
  }
  const StudyData data = load_study_data(spec, out_ / "fit.db");
  const std::vector<TableRow> rows = build_table(data);
  ASSERT_EQ(rows.size(), 2U);
  for (const TableRow& row : rows) {
    EXPECT_EQ(row.grid_label, "optim.lr=0.1") << "the lower mean validation loss is selected";
    EXPECT_NEAR(row.stats.at("validation_loss").mean, 0.065, 1e-12);  // (0.06 + 0.07) / 2
    EXPECT_EQ(row.stats.at("train_loss").n, 2U);
    EXPECT_FALSE(row.stats.contains("validation_error"));
  }
  const std::string markdown = table_markdown(data, rows);
  EXPECT_THAT(markdown, HasSubstr("| validation loss | test loss | train loss |"));
  EXPECT_THAT(markdown, Not(HasSubstr("error %")));
  EXPECT_THAT(table_csv(data, rows), HasSubstr("validation_loss_mean,validation_loss_std,validation_loss_n"));
  EXPECT_THAT(report_html(data, rows, {}, {}), HasSubstr("<th>validation loss</th><th>test loss</th>"));

  std::map<std::string, Plot> plots;
  for (Plot& plot : build_plots(data, rows)) plots.emplace(plot.name, std::move(plot));
  ASSERT_TRUE(plots.contains("test_loss_vs_batch"));
  EXPECT_FALSE(plots.contains("test_error_vs_batch"));
  EXPECT_EQ(plots.at("test_loss_vs_batch").ylabel, "test loss");
  ASSERT_FALSE(plots.at("test_loss_vs_batch").series.empty());
  EXPECT_DOUBLE_EQ(plots.at("test_loss_vs_batch").series[0].points.at(0).y, 0.07);
  EXPECT_EQ(plots.at("learning_curves").ylabel, "validation loss");
  EXPECT_THAT(plots.at("steps_to_target").title, HasSubstr("Steps to validation loss 0.1 vs global batch size"));
}

TEST_F(ReportTest, PlotWithoutDataIsANoteNotAnError) {
  SKIP_WITHOUT_GNUPLOT();
  // One rank count and no Minnorm: no scaling plot and no support-vector plot.
  const StudySpec spec = parse_study(R"toml(
name = "small"
batch = [64, 256]
seeds = [1, 2]
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
)toml", "small.toml");
  const std::vector<Trial> trials = expand(spec);
  {
    TrialStore store(out_ / "small.db");
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 5.0});
      store.record_result(t.id, "test_error", 10.0 + static_cast<double>(t.seed));
      store.record_result(t.id, "validation_error", 9.0);
    }
  }
  const ReportSummary summary = write_report(spec, out_ / "small.db", out_ / "report");
  EXPECT_EQ(summary.plots, (std::vector<std::string>{"test_error_vs_batch", "best_lr_vs_batch", "lr_grid"}));
  EXPECT_THAT(read_text(out_ / "report" / "index.html"), HasSubstr("left out: no regime reached the target"));
  EXPECT_FALSE(std::filesystem::exists(out_ / "report" / "scaling_efficiency.png"));
  const std::string html = read_text(out_ / "report" / "index.html");
  EXPECT_THAT(html, HasSubstr("left out: the study has one rank count"));
  EXPECT_THAT(html, HasSubstr("left out: no trial records support_fraction"));
  EXPECT_THAT(html, HasSubstr("left out: no trial records constraints_violated"));
  EXPECT_THAT(html, HasSubstr("left out: no trial records normalized_margin"));
  EXPECT_THAT(html, Not(HasSubstr("scaling_efficiency.svg")));
}

// As selection counts a grid point as reaching the target only when all its trials do, the table times the selected
// point only then; else it says how many reached it (it showed the mean over the seeds that did, beside a status
// that said no point reaches the target).
// Batch "full" counts as the examples its trials trained on (2,000 here), not the study file's full_batch_size default
// of 50,000, which only the learning-rate scaling rule needs (examples to target, B_crit and the plots' x were 25x off).
TEST_F(ReportTest, TheFullBatchIsTheTrainingSetItsTrialsRecorded) {
  const StudySpec spec = parse_study(R"toml(
name = "full"
batch = [100, "full"]
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
)toml", "full.toml");
  const std::vector<Trial> trials = expand(spec);
  const auto write = [&](bool recorded) {
    std::filesystem::remove(out_ / "full.db");
    TrialStore store(out_ / "full.db");
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 5.0});
      nlohmann::json record = {{"step", 0}, {"epoch", 0.0}, {"validation_error", 50.0}};
      if (recorded) record["train_examples"] = 2000;
      store.add_metrics(t.id, std::vector<MetricRow>{{0, 0.0, record.dump()}});
    }
  };
  write(true);
  const StudyData data = load_study_data(spec, out_ / "full.db");
  EXPECT_EQ(data.full_batch_size, 2000);
  EXPECT_TRUE(data.full_batch_recorded);
  EXPECT_EQ(batch_size(data, kFullBatch), 2000.0);
  EXPECT_THAT(critical_batch_markdown(data, {}), HasSubstr("counts as 2000 examples (its trials' training set)"));
  write(false);  // trials of an older build: the file's value, said so
  const StudyData older = load_study_data(spec, out_ / "full.db");
  EXPECT_EQ(older.full_batch_size, 50000);
  EXPECT_THAT(critical_batch_markdown(older, {}), HasSubstr("counts as 50000 examples (the study file's full_batch_size)"));
  EXPECT_EQ(full_batch_scaling_note(spec, data), "");  // no learning-rate scaling
  // A study without a full batch says nothing about one.
  StudyData minibatch = data;
  minibatch.batches = {100};
  EXPECT_THAT(critical_batch_markdown(minibatch, {}), Not(HasSubstr("full")));
}

// With lr_scaling, a full_batch_size other than the training set the full-batch trials recorded scaled their
// learning rate wrongly: the report says so, with the factor (linear: 2500 / 2000).
TEST_F(ReportTest, AFullBatchSizeOtherThanTheRecordedTrainingSetIsNoted) {
  const StudySpec spec = parse_study(R"toml(
name = "scaled"
batch = [100, "full"]
lr_scaling = "linear"
base_batch = 100
full_batch_size = 2500
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
"optim.lr" = 0.1
)toml",
                                     "scaled.toml");
  {
    TrialStore store(out_ / "scaled.db");
    store.upsert_trials(expand(spec));
    for (const Trial& t : expand(spec)) {
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 5.0});
      const nlohmann::json record = {{"step", 0}, {"epoch", 0.0}, {"validation_error", 50.0}, {"train_examples", 2000}};
      store.add_metrics(t.id, std::vector<MetricRow>{{0, 0.0, record.dump()}});
    }
  }
  const StudyData data = load_study_data(spec, out_ / "scaled.db");
  EXPECT_THAT(full_batch_scaling_note(spec, data),
              AllOf(HasSubstr("full_batch_size = 2500"), HasSubstr("trained on 2000 examples"), HasSubstr("1.25x"),
                    HasSubstr("set full_batch_size = 2000")));
  StudySpec right = spec;
  right.full_batch_size = 2000;
  EXPECT_EQ(full_batch_scaling_note(right, data), "");
}

TEST_F(ReportTest, StepsToTargetAreShownOnlyWhereEverySeedReachedIt) {
  const StudySpec spec = parse_study(R"toml(
name = "half"
batch = [64, 256]
seeds = [1, 2]
target_validation_error = 3.0
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
)toml", "half.toml");
  const std::vector<Trial> trials = expand(spec);
  {
    TrialStore store(out_ / "half.db");
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 5.0});
      store.record_result(t.id, "validation_error", 2.0 + static_cast<double>(t.seed));
      store.record_result(t.id, "target_validation_error", 3.0);
      // Batch 64: seed 1 alone reaches the target; batch 256: both seeds do.
      if (t.batch == 256 || t.seed == 1) {
        store.record_result(t.id, "steps_to_target", t.batch == 64 ? 100.0 : 40.0 + static_cast<double>(t.seed));
        store.record_result(t.id, "seconds_to_target", 1.0);
      }
    }
  }
  const StudyData data = load_study_data(spec, out_ / "half.db");
  const std::vector<TableRow> rows = build_table(data);
  ASSERT_EQ(rows.size(), 2U);
  const TableRow& half = rows[0];  // batch 64
  EXPECT_EQ(half.reached_target, std::optional<std::size_t>(1));
  EXPECT_EQ(half.stats.at("steps_to_target").n, 0U);
  EXPECT_EQ(half.steps_to_target.n, 0U);  // no fastest point either
  const TableRow& both = rows[1];
  EXPECT_EQ(both.reached_target, std::optional<std::size_t>(2));
  EXPECT_EQ(both.stats.at("steps_to_target").n, 2U);
  EXPECT_NEAR(both.stats.at("steps_to_target").mean, 41.5, 1e-12);
  const std::string markdown = table_markdown(data, rows);
  EXPECT_THAT(markdown, HasSubstr("| 1 of 2 reached | 1 of 2 reached | 2 |"));
  EXPECT_THAT(markdown, Not(HasSubstr("| 100 |")));
  EXPECT_THAT(markdown, HasSubstr("| 42 ± 1 |"));
  EXPECT_THAT(report_html(data, rows, {}, {}), HasSubstr("<td class=\"num\">1 of 2 reached</td>"));
  EXPECT_THAT(table_csv(data, rows), HasSubstr(",2,2,0,0,1\n"));
  EXPECT_THAT(table_csv(data, rows), HasSubstr(",2,2,0,0,2\n"));

  // A seed that diverged did not reach the target either: batch 256 with seed 2 diverged is 1 of 2 reached, with no
  // steps to target and no fastest point (its one done seed's 41 steps were shown and fitted).
  {
    TrialStore store(out_ / "half.db");
    for (const Trial& t : trials) {
      if (t.batch == 256 && t.seed == 2) store.set_state(t.id, TrialState::kFailed, TrialOutcome{2, "diverged", 1.0});
    }
  }
  const StudyData diverged = load_study_data(spec, out_ / "half.db");
  const std::vector<TableRow> diverged_rows = build_table(diverged);
  ASSERT_EQ(diverged_rows.size(), 2U);
  EXPECT_EQ(diverged_rows[1].failed, 1U);
  EXPECT_EQ(diverged_rows[1].stats.at("steps_to_target").n, 0U);
  EXPECT_EQ(diverged_rows[1].steps_to_target.n, 0U);
  EXPECT_THAT(table_markdown(diverged, diverged_rows), HasSubstr("| 1 of 2 reached | 1 of 2 reached | 1 of 2 (1 failed) |"));
}

// Successive halving stops some trials at a lower rung; their seeds' brackets differ, so one grid point may hold a
// full-budget trial and one stopped early. The table averaged and selected by both as equals (a 90000-step trial with
// a 10000-step one); now only full-budget trials are averaged and compared, and the others are counted.
TEST_F(ReportTest, TrialsStoppedAtALowerRungAreCountedNotAveraged) {
  const StudySpec spec = parse_study(R"toml(
name = "halved"
steps = 45
seeds = [1, 2]
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
[grid]
"optim.lr" = [0.01, 0.03]
[halving]
rungs = [5, 15, 45]
reduction = 3
)toml", "halved.toml");
  const std::vector<Trial> trials = expand(spec);
  ASSERT_EQ(trials.size(), 4U);
  {
    TrialStore store(out_ / "halved.db");
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      // lr 0.01: seed 1 ran the full budget (21%), seed 2 stopped at rung 0 (22%); lr 0.03: seed 2 full (26%),
      // seed 1 stopped (12%, a better figure at a tenth of the budget).
      const bool full = (lr_of(t) == 0.01) == (t.seed == 1);
      const double error = lr_of(t) == 0.01 ? (full ? 21.0 : 22.0) : (full ? 26.0 : 12.0);
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 1.0});
      if (full) {
        store.promote(t.id, 2);
        store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 9.0});
      } else {
        store.stop_early(t.id);
      }
      store.record_result(t.id, "validation_error", error);
    }
  }
  const StudyData data = load_study_data(spec, out_ / "halved.db");
  const std::vector<TableRow> rows = build_table(data);
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].grid_label, "optim.lr=0.01");  // 21 against 26 at the full budget (mixed: 0.03 won, 19 < 21.5)
  EXPECT_EQ(rows[0].stats.at("validation_error").n, 1U);
  EXPECT_EQ(rows[0].stats.at("validation_error").mean, 21.0);
  EXPECT_EQ(rows[0].short_of_budget, 1U);
  EXPECT_THAT(table_markdown(data, rows), HasSubstr("| 1 of 2 (1 stopped at a lower rung) |"));
  const std::string csv = all_trials_csv(data);
  EXPECT_THAT(csv, HasSubstr(",rung,short_of_budget,"));
  EXPECT_THAT(csv, HasSubstr(",2,0,"));
  EXPECT_THAT(csv, HasSubstr(",0,1,"));

  // A trial done at rung 0 that halving has not decided on yet (the study still runs) is not "stopped"; in the grid
  // plot a point with a trial short of the budget is its own outcome, not "diverged or failed".
  {
    TrialStore store(out_ / "halved.db");
    for (const Trial& t : trials) {
      if (lr_of(t) == 0.01 && t.seed == 2) {
        store.promote(t.id, 1);
        store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 2.0});
        store.record_result(t.id, "validation_error", 22.0);
      }
    }
  }
  const StudyData waiting = load_study_data(spec, out_ / "halved.db");
  const std::vector<TableRow> waiting_rows = build_table(waiting);
  EXPECT_EQ(waiting_rows[0].stopped_early, 0U);
  EXPECT_THAT(table_markdown(waiting, waiting_rows), HasSubstr("| 1 of 2 (1 at a lower rung, not yet promoted) |"));
  const std::vector<Plot> plots = build_plots(waiting, waiting_rows);
  const auto grid = std::find_if(plots.begin(), plots.end(), [](const Plot& p) { return p.name == "lr_grid"; });
  ASSERT_NE(grid, plots.end());
  std::vector<std::string> titles;
  for (const PlotSeries& series : grid->series) titles.push_back(series.title);
  EXPECT_THAT(titles, Contains("at a lower rung (successive halving)"));
  EXPECT_THAT(titles, Not(Contains("diverged or failed")));
}

// A target met at the first evaluation gives 0 steps, which the log axes of steps / examples to the target cannot
// show: those points are left out (the title says how many), a plot left empty is a note, and the report is written.
TEST_F(ReportTest, ATargetMetAtStepZeroIsLeftOffTheLogAxesNotAnError) {
  const StudySpec spec = parse_study(R"toml(
name = "easy"
batch = [64, 256]
seeds = [1, 2]
target_validation_error = 90.0
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
)toml", "easy.toml");
  const std::vector<Trial> trials = expand(spec);
  const auto fill = [&](const std::filesystem::path& database, bool all_at_zero) {
    TrialStore store(database);
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 5.0});
      store.record_result(t.id, "test_error", 10.0);
      store.record_result(t.id, "validation_error", 9.0);
      store.record_result(t.id, "target_validation_error", 90.0);  // timed to the study's target
      const bool at_zero = all_at_zero || t.batch == 64;
      store.record_result(t.id, "steps_to_target", at_zero ? 0.0 : 40.0);
      store.record_result(t.id, "seconds_to_target", at_zero ? 0.0 : 4.0);
    }
  };
  fill(out_ / "mixed.db", false);
  const StudyData mixed = load_study_data(spec, out_ / "mixed.db");
  std::map<std::string, Plot> plots;
  for (Plot& plot : build_plots(mixed, build_table(mixed))) plots.emplace(plot.name, std::move(plot));
  const Plot& steps = plots.at("steps_to_target");
  ASSERT_EQ(steps.series.size(), 1U);  // the perfect-scaling line from 0 steps is 0 everywhere: left out
  ASSERT_EQ(steps.series[0].points.size(), 1U);
  EXPECT_EQ(steps.series[0].points[0].x, 256.0);
  EXPECT_EQ(steps.series[0].points[0].y, 40.0);
  EXPECT_THAT(steps.title, HasSubstr("(3 points at 0 or below not drawn)"));
  EXPECT_THAT(plots.at("examples_to_target").title, HasSubstr("(1 point at 0 or below not drawn)"));

  SKIP_WITHOUT_GNUPLOT();
  fill(out_ / "zero.db", true);
  const ReportSummary summary = write_report(spec, out_ / "zero.db", out_ / "report");
  EXPECT_THAT(summary.plots, Not(::testing::Contains("steps_to_target")));
  EXPECT_THAT(summary.plots, ::testing::Contains("test_error_vs_batch"));
  EXPECT_THAT(read_text(out_ / "report" / "index.html"),
              HasSubstr("left out: its 4 values are 0 or below, which a logarithmic axis cannot show"));
}

// A regime that met the target at step 0 is the fastest on that workload (ratio 1, not 0 / 0).
TEST(PerformanceProfile, TargetMetAtStepZeroIsTheFastest) {
  const PerformanceProfiles p = performance_profiles({{"A", {{64, 0}, {256, 10}}}, {"B", {{64, 0}, {256, 20}}}}, 4.0);
  ASSERT_EQ(p.regimes.size(), 2U);
  EXPECT_EQ(p.regimes[0].ratios, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(p.regimes[1].ratios, (std::vector<double>{1.0, 2.0}));
  EXPECT_NEAR(p.share(1, 1.0), 0.5, 1e-12);
  EXPECT_NEAR(p.regimes[0].score, 1.0, 1e-12);
}

TEST_F(ReportTest, MissingGnuplotNamesItAndTheDebianPackage) {
  const std::string message = testing::error_of(
      [&] { write_report(*spec_, database(), out_, ReportOptions{.gnuplot = "normscale-no-such-gnuplot"}); });
  EXPECT_THAT(message, HasSubstr("normscale-no-such-gnuplot"));
  EXPECT_THAT(message, HasSubstr("gnuplot-nox"));
  EXPECT_THAT(testing::error_of([&] { find_gnuplot("/nonexistent/gnuplot"); }), HasSubstr("gnuplot-nox"));
  // Nothing is written when the plots cannot be drawn.
  EXPECT_FALSE(std::filesystem::exists(out_ / "table.md"));
}

TEST_F(ReportTest, MissingDatabaseIsNamed) {
  const std::string message = testing::error_of(
      [&] { write_report(*spec_, out_ / "nothing.db", out_, ReportOptions{.plots = false}); });
  EXPECT_THAT(message, HasSubstr("nothing.db"));
  EXPECT_THAT(message, HasSubstr("does not exist"));
  EXPECT_FALSE(std::filesystem::exists(out_ / "nothing.db"));  // not created as an empty database
}

TEST(ReportEscaping, GnuplotStringsCannotEndEarlyOrRunCommands) {
  const std::string hostile = "a'b\"c`touch x`\\n\nsystem('rm -rf /') @macro $(id) {x}^_ ± é";
  const std::string quoted = gnuplot_string(hostile);
  ASSERT_GE(quoted.size(), 2U);
  EXPECT_EQ(quoted.front(), '\'');
  EXPECT_EQ(quoted.back(), '\'');
  const std::string inner = quoted.substr(1, quoted.size() - 2);
  for (const char bad : {'\'', '"', '`', '\\', '\n', '@', '$', '{', '}'}) {
    EXPECT_EQ(inner.find(bad), std::string::npos) << "character " << bad << " in " << quoted;
  }
  EXPECT_THAT(inner, HasSubstr("± é"));  // UTF-8 survives
  EXPECT_EQ(gnuplot_string("sgd, batch 128"), "'sgd, batch 128'");
}

TEST(ReportEscaping, HtmlAndMarkdownEscapeStudyValues) {
  EXPECT_EQ(html_escape("<script>alert(\"x\")</script> & 'y'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
  EXPECT_EQ(markdown_cell("a|b\nc"), "a\\|b c");
  EXPECT_EQ(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
}

// A regime named to break out of HTML and of gnuplot strings, end to end.
class HostileReportTest : public testing::TempDirTest {
 protected:
  HostileReportTest() : TempDirTest("normscale_report_hostile_") {}

  StudySpec hostile_spec() const {
    const std::string marker = (dir_ / "pwned").string();
    // A TOML basic-string key: \" and \\ are escapes, \n a line break in the regime name.
    const std::string name = fmt::format(
        R"(<script>alert(\"x\")</script> | '; system(\"touch {0}1\"); print ' `touch {0}2` \n!touch {0}3\n @x)",
        marker);
    return parse_study(fmt::format(R"toml(
name = "hostile <b>study</b>"
batch = [64, 128]
ranks = [1, 2]
seeds = [1, 2]
[base]
"data.source" = "two-point"
[regimes]
"{}" = {{ "objective.regime" = "minnorm" }}
plain = {{ "objective.regime" = "sgd" }}
)toml", name), "hostile.toml");
  }
};

TEST_F(HostileReportTest, NamesAreEscapedInEveryOutput) {
  SKIP_WITHOUT_GNUPLOT();
  const StudySpec spec = hostile_spec();
  ASSERT_THAT(spec.regimes[0].name, HasSubstr("<script>"));
  ASSERT_THAT(spec.regimes[0].name, HasSubstr("\n"));
  const std::vector<Trial> trials = expand(spec);
  {
    TrialStore store(dir_ / "hostile.db");
    store.upsert_trials(trials);
    for (const Trial& t : trials) {
      store.set_state(t.id, TrialState::kDone, TrialOutcome{0, "", 10.0 / static_cast<double>(t.ranks)});
      store.record_result(t.id, "test_error", 10.0 + static_cast<double>(t.seed));
      store.record_result(t.id, "validation_error", 9.0);
      store.record_result(t.id, "support_fraction", 0.5);
      const nlohmann::json record = {{"step", 1}, {"epoch", 1.0}, {"validation_error", 9.0}, {"weight_norm", 3.0},
                                     {"support_fraction", 0.5}};
      store.add_metrics(t.id, std::vector<MetricRow>{{1, 1.0, record.dump()}});
    }
  }
  const std::filesystem::path out = dir_ / "report";
  const ReportSummary summary = write_report(spec, dir_ / "hostile.db", out);
  EXPECT_THAT(summary.plots, ::testing::Contains("test_error_vs_batch"));
  EXPECT_THAT(summary.plots, ::testing::Contains("scaling_efficiency"));
  // gnuplot ran every script without running anything else.
  for (const char* suffix : {"1", "2", "3"}) {
    EXPECT_FALSE(std::filesystem::exists(dir_ / (std::string("pwned") + suffix))) << suffix;
  }
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    if (entry.path().extension() != ".gp") continue;
    const std::string script = read_text(entry.path());
    EXPECT_EQ(script.find('`'), std::string::npos) << entry.path();
    EXPECT_EQ(script.find('"'), std::string::npos) << entry.path();
    // Every string closes on its own line: the name's quotes and line breaks are gone.
    for (const std::string& line : split(script, "\n")) {
      EXPECT_EQ(std::count(line.begin(), line.end(), '\'') % 2, 0) << entry.path() << ": " << line;
      if (line.find("system(") != std::string::npos) {
        EXPECT_THAT(line, HasSubstr("system(_touch")) << line;
      }
    }
  }
  const std::string html = read_text(out / "index.html");
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>study")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("hostile &lt;b&gt;study&lt;/b&gt;"));
  // Markdown: the '|' cannot open a new column, the line break cannot end the row.
  for (const std::string& line : split(read_text(out / "table.md"), "\n")) {
    if (line.find("script") == std::string::npos) continue;
    EXPECT_THAT(line, HasSubstr("</script> \\| '"));
  }
}

TEST_F(HostileReportTest, RunReportCommandWritesBesideTheStudyAndPrintsTheIndex) {
  SKIP_WITHOUT_GNUPLOT();
  const std::filesystem::path study = dir_ / "tiny.toml";
  std::ofstream(study) << R"toml(
batch = [32]
seeds = [1, 2]
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
)toml";
  {
    TrialStore store(study_layout(study).database);
    const std::vector<Trial> trials = expand(read_study_file(study));
    store.upsert_trials(trials);
    store.set_state(trials[0].id, TrialState::kDone, TrialOutcome{0, "", 2.0});
    store.record_result(trials[0].id, "test_error", 12.5);
  }
  ::testing::internal::CaptureStdout();
  const int status = run_report_command(study, std::nullopt);
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  const std::filesystem::path index = dir_ / "tiny.report" / "index.html";
  EXPECT_TRUE(std::filesystem::exists(index));
  EXPECT_THAT(printed, ::testing::EndsWith(index.string() + "\n"));
  EXPECT_THAT(printed, HasSubstr("1 of 2 trials done."));
  // --out elsewhere.
  ::testing::internal::CaptureStdout();
  run_report_command(study, dir_ / "elsewhere");
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr((dir_ / "elsewhere" / "index.html").string()));
}

class ReportCommandTest : public testing::TempDirTest {
 protected:
  ReportCommandTest() : TempDirTest("normscale_report_command_") {}
};

// `normscale report --bandwidth GBPS --latency US --cores N` reach the scaling projection; 0 is refused.
TEST_F(ReportCommandTest, TakesTheNetworkOfTheScalingProjection) {
  SKIP_WITHOUT_GNUPLOT();
  const std::filesystem::path study = dir_ / "tiny.toml";
  std::ofstream(study) << R"toml(
batch = [32]
[base]
"data.source" = "two-point"
"objective.regime" = "sgd"
)toml";
  {
    TrialStore store(study_layout(study).database);
    const std::vector<Trial> trials = expand(read_study_file(study));
    store.upsert_trials(trials);
    store.set_state(trials[0].id, TrialState::kDone, TrialOutcome{0, "", 2.0});
  }
  const std::string out = (dir_ / "report").string();
  const auto given = testing::run_normscale(fmt::format("report {} --out {} --bandwidth 25 --latency 2",
                                                        study.string(), out));
  ASSERT_EQ(given.exit_code, 0) << given.output;
  EXPECT_THAT(read_text(dir_ / "report" / "table.md"),
              HasSubstr("bus bandwidth 25 GB/s (given (--bandwidth)); latency 2 us (given (--latency))"));
  const auto refused = testing::run_normscale(fmt::format("report {} --out {} --bandwidth 0", study.string(), out));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("--bandwidth"));
  // A report made away from the machine the trials ran on is told its cores (ReportOptions::cores, whose effect
  // the ScalingProjectionReport tests check).
  const auto cores = testing::run_normscale(fmt::format("report {} --out {} --cores 48", study.string(), out));
  EXPECT_EQ(cores.exit_code, 0) << cores.output;
  const auto no_cores = testing::run_normscale(fmt::format("report {} --out {} --cores 0", study.string(), out));
  EXPECT_NE(no_cores.exit_code, 0);
  EXPECT_THAT(no_cores.output, HasSubstr("--cores"));
}

// `normscale report --no-plots`: the tables and the page without gnuplot (a compute node without it).
TEST_F(ReportCommandTest, NoPlotsWritesTheTablesWithoutGnuplot) {
  const std::filesystem::path study = dir_ / "tiny.toml";
  std::ofstream(study) << "batch = [32]\n[base]\n\"data.source\" = \"two-point\"\n\"objective.regime\" = \"sgd\"\n";
  {
    TrialStore store(study_layout(study).database);
    const std::vector<Trial> trials = expand(read_study_file(study));
    store.upsert_trials(trials);
    store.set_state(trials[0].id, TrialState::kDone, TrialOutcome{0, "", 2.0});
  }
  const std::filesystem::path out = dir_ / "report";
  // A PATH without gnuplot: plots fail, naming the way out.
  const auto without_gnuplot = [&](const std::string& arguments) {
    return testing::run_shell(fmt::format("PATH=/nonexistent {} report {} --out {}{}", NORMSCALE_BINARY,
                                          study.string(), out.string(), arguments));
  };
  const auto plotted = without_gnuplot("");
  EXPECT_NE(plotted.exit_code, 0);
  EXPECT_THAT(plotted.output, HasSubstr("--no-plots"));
  const auto tables = without_gnuplot(" --no-plots");
  ASSERT_EQ(tables.exit_code, 0) << tables.output;
  EXPECT_THAT(read_text(out / "table.md"), HasSubstr("# Study tiny"));
  EXPECT_TRUE(std::filesystem::exists(out / "index.html"));
  for (const auto& entry : std::filesystem::directory_iterator(out)) EXPECT_NE(entry.path().extension(), ".png");
}

}  // namespace
}  // namespace normscale
