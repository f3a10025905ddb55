// Selection (best grid point per (regime, batch), time to a target) and reading a run's metrics.jsonl.
#include "normscale/core/error.hpp"
#include "normscale/study/selection.hpp"
#include "normscale/study/trial_results.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace normscale {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<MetricRow> rows_of(const std::vector<std::string>& lines) {
  std::vector<MetricRow> rows;
  for (std::size_t i = 0; i < lines.size(); ++i) rows.push_back({static_cast<std::int64_t>(10 * i), 0.0, lines[i]});
  return rows;
}

std::map<std::string, double> as_map(const std::vector<std::pair<std::string, double>>& figures) {
  return {figures.begin(), figures.end()};
}

TEST(StudySelection, EvaluationPointsSumTheIntervalTimes) {
  const std::vector<MetricRow> rows = rows_of({
      R"({"step":0,"validation_error":50})",
      R"({"step":10,"validation_error":30,"time_compute_s":1.0,"time_comm_s":0.5,"time_multiplier_s":0.5})",
      R"({"step":20,"time_compute_s":1.0})",
      R"({"step":30,"validation_error":10,"wall_seconds":42})",
  });
  const std::vector<EvaluationPoint> points = evaluation_points(rows, StudyMetric::kValidationError);
  ASSERT_EQ(points.size(), 4U);
  EXPECT_DOUBLE_EQ(points[1].seconds, 2.0);
  EXPECT_DOUBLE_EQ(points[2].seconds, 3.0);
  EXPECT_FALSE(points[2].value.has_value());
  EXPECT_DOUBLE_EQ(points[3].seconds, 42.0);  // wall_seconds, when the trainer gives it, wins

  const auto reached = time_to_target(points, 30.0);
  ASSERT_TRUE(reached.has_value());
  EXPECT_EQ(reached->steps, 10);
  EXPECT_DOUBLE_EQ(reached->seconds, 2.0);
  EXPECT_EQ(time_to_target(points, 10.0)->steps, 30);
  EXPECT_FALSE(time_to_target(points, 5.0).has_value());
}

// A run stopped between eval_every's (a halving rung) evaluated there, off its cadence; the run that went straight
// through did not, so timing to a target skips that evaluation (its interval's time counts toward the next), unless
// it is the run's last.
TEST(StudySelection, AnEvaluationOffTheCadenceCountsOnlyAsTheRunsLast) {
  const std::vector<MetricRow> rows = rows_of({
      R"({"step":0,"validation_error":50})",
      R"({"step":10,"validation_error":30,"time_compute_s":1.0,"off_cadence":true})",
      R"({"step":20,"validation_error":29,"time_compute_s":1.0})",
      R"({"event":"stopped"})",
      R"({"step":30,"validation_error":10,"time_compute_s":1.0,"off_cadence":true})",
  });
  const std::vector<EvaluationPoint> points = evaluation_points(rows, StudyMetric::kValidationError);
  ASSERT_EQ(points.size(), 3U);
  EXPECT_EQ(points[1].step, 20);
  EXPECT_DOUBLE_EQ(points[1].seconds, 2.0);
  EXPECT_EQ(points[2].step, 40);  // rows_of numbers the rows' steps 10 apart: the fifth row is at 40
  EXPECT_EQ(time_to_target(points, 30.0)->steps, 20);
  EXPECT_EQ(time_to_target(points, 10.0)->steps, 40);
}

// A regression run records losses and no error: a study that selects by validation loss reads those, and one
// that selects by error finds nothing to rank (never a 0% error).
TEST(StudySelection, EvaluationPointsOfARegressionRunCarryItsValidationLoss) {
  const std::vector<MetricRow> rows = rows_of({
      R"({"step":0,"train_loss":0.9,"validation_loss":1.25})",
      R"({"step":10,"train_loss":0.2,"validation_loss":0.5,"time_compute_s":1.0})",
      R"({"step":20,"train_loss":0.1,"validation_loss":0.0625,"time_compute_s":1.0})",
  });
  const std::vector<EvaluationPoint> losses = evaluation_points(rows, StudyMetric::kValidationLoss);
  ASSERT_EQ(losses.size(), 3U);
  EXPECT_DOUBLE_EQ(*losses[0].value, 1.25);
  EXPECT_DOUBLE_EQ(*losses[2].value, 0.0625);
  EXPECT_EQ(time_to_target(losses, 0.5)->steps, 10);
  EXPECT_EQ(time_to_target(losses, 0.1)->steps, 20);
  for (const EvaluationPoint& point : evaluation_points(rows, StudyMetric::kValidationError)) {
    EXPECT_FALSE(point.value.has_value());
  }

  const std::string jsonl = rows[0].json + "\n" + rows[1].json + "\n" + rows[2].json + "\n";
  const auto figures = as_map(
      parse_trial_results(jsonl, MetricTarget{StudyMetric::kValidationLoss, 0.5}, "metrics.jsonl").figures);
  EXPECT_DOUBLE_EQ(figures.at("validation_loss"), 0.0625);
  EXPECT_DOUBLE_EQ(figures.at("train_loss"), 0.1);
  EXPECT_FALSE(figures.contains("validation_error"));
  EXPECT_DOUBLE_EQ(figures.at("steps_to_target"), 10);
  EXPECT_DOUBLE_EQ(figures.at("seconds_to_target"), 1.0);
  EXPECT_DOUBLE_EQ(figures.at("target_validation_loss"), 0.5);
  // The same log timed to an error target: no error was measured, so it is never reached.
  EXPECT_FALSE(as_map(parse_trial_results(jsonl, MetricTarget{StudyMetric::kValidationError, 100.0}, "m").figures)
                   .contains("steps_to_target"));
}

// Results keep the target they were timed to; a report or status against another target times the trial again
// from its metrics, and leaves results alone where nothing changed.
TEST(StudySelection, ResultsAreTimedAgainWhenTheTargetChanged) {
  const std::vector<MetricRow> rows = rows_of({
      R"({"step":0,"validation_error":50,"validation_loss":2.0})",
      R"({"step":10,"validation_error":30,"validation_loss":1.0,"time_compute_s":1.5})",
      R"({"step":20,"validation_error":10,"validation_loss":0.5,"time_compute_s":1.5})",
  });
  const MetricTarget error30{StudyMetric::kValidationError, 30.0};
  const std::string error_key(target_key(StudyMetric::kValidationError));
  const std::string loss_key(target_key(StudyMetric::kValidationLoss));
  // As the trial's end recorded them for 30%, with made-up steps: kept as long as the target is the same.
  const std::map<std::string, double> ended = {
      {error_key, 30.0}, {"steps_to_target", 7.0}, {"seconds_to_target", 0.7}, {"validation_error", 10.0}};
  std::map<std::string, double> results = ended;
  retime_to_target(results, rows, error30);
  EXPECT_EQ(results, ended);

  retime_to_target(results, rows, MetricTarget{StudyMetric::kValidationError, 10.0});
  EXPECT_DOUBLE_EQ(results.at(error_key), 10.0);
  EXPECT_DOUBLE_EQ(results.at("steps_to_target"), 20.0);
  EXPECT_DOUBLE_EQ(results.at("seconds_to_target"), 3.0);
  EXPECT_DOUBLE_EQ(results.at("validation_error"), 10.0) << "other figures stay";

  retime_to_target(results, rows, MetricTarget{StudyMetric::kValidationError, 5.0});  // never reached
  EXPECT_DOUBLE_EQ(results.at(error_key), 5.0);
  EXPECT_FALSE(results.contains("steps_to_target") || results.contains("seconds_to_target"));

  retime_to_target(results, rows, MetricTarget{StudyMetric::kValidationLoss, 1.0});  // another metric
  EXPECT_FALSE(results.contains(error_key));
  EXPECT_DOUBLE_EQ(results.at(loss_key), 1.0);
  EXPECT_DOUBLE_EQ(results.at("steps_to_target"), 10.0);
  EXPECT_DOUBLE_EQ(results.at("seconds_to_target"), 1.5);

  retime_to_target(results, rows, std::nullopt);  // the target removed
  EXPECT_EQ(results, (std::map<std::string, double>{{"validation_error", 10.0}}));

  // Recorded before targets were recorded: without a target now they stay; with one they are timed.
  std::map<std::string, double> legacy = {{"steps_to_target", 7.0}, {"seconds_to_target", 0.7}};
  retime_to_target(legacy, rows, std::nullopt);
  EXPECT_DOUBLE_EQ(legacy.at("steps_to_target"), 7.0);
  retime_to_target(legacy, rows, error30);
  EXPECT_DOUBLE_EQ(legacy.at("steps_to_target"), 10.0);
  EXPECT_DOUBLE_EQ(legacy.at(error_key), 30.0);
}

TrialSummary summary(std::string id, std::string regime, std::int64_t batch, std::string grid,
                     std::optional<double> validation, std::optional<TimeToTarget> to_target = std::nullopt) {
  return {std::move(id), std::move(regime), batch, std::move(grid), validation, to_target};
}

TEST(StudySelection, BestGridPointPerRegimeAndBatchByMeanValidationError) {
  const std::vector<TrialSummary> trials = {
      summary("a1", "sgd", 128, R"({"optim.lr":0.1})", 10.0, TimeToTarget{300, 3.0}),
      summary("a2", "sgd", 128, R"({"optim.lr":0.1})", 14.0, TimeToTarget{500, 5.0}),   // mean 12
      summary("b1", "sgd", 128, R"({"optim.lr":0.2})", 11.0, TimeToTarget{100, 1.0}),
      summary("b2", "sgd", 128, R"({"optim.lr":0.2})", 11.5, std::nullopt),             // mean 11.25, one misses
      summary("c1", "sgd", 1024, R"({"optim.lr":0.2})", 20.0),
      summary("d1", "minnorm", 128, R"({"objective.s":1})", std::nullopt),             // no candidate
      summary("e1", "minnorm", 128, R"({"objective.s":2})", 9.0, TimeToTarget{50, 0.5}),
  };
  const std::vector<Selection> selections = select_hyperparameters(trials);
  ASSERT_EQ(selections.size(), 3U);
  EXPECT_EQ(selections[0].regime, "sgd");
  EXPECT_EQ(selections[0].batch, 128);
  EXPECT_EQ(selections[0].best_grid, R"({"optim.lr":0.2})");
  EXPECT_DOUBLE_EQ(selections[0].best_value, 11.25);
  EXPECT_THAT(selections[0].best_trials, ElementsAre("b1", "b2"));
  // lr 0.2 is best by error but one of its seeds never reaches the target: lr 0.1 is the fastest.
  ASSERT_TRUE(selections[0].fastest_grid.has_value());
  EXPECT_EQ(*selections[0].fastest_grid, R"({"optim.lr":0.1})");
  EXPECT_DOUBLE_EQ(*selections[0].steps_to_target, 400.0);
  EXPECT_DOUBLE_EQ(*selections[0].seconds_to_target, 4.0);

  EXPECT_EQ(selections[1].batch, 1024);
  EXPECT_FALSE(selections[1].steps_to_target.has_value());
  EXPECT_EQ(selections[2].regime, "minnorm");
  EXPECT_EQ(selections[2].best_grid, R"({"objective.s":2})");
}

// A failed seed (diverged, crashed) of a point counts as infeasible (Shallue et al.): the point neither reaches the
// target nor is the best, though its other seeds' error and time are the best. Failed trials alone make no selection.
TEST(StudySelection, AFailedSeedKeepsItsPointFromBeingSelectedOrReachingTheTarget) {
  TrialSummary diverged = summary("b2", "sgd", 128, R"({"optim.lr":0.2})", std::nullopt);
  diverged.failed = true;
  TrialSummary alone = summary("c1", "sgd", 1024, R"({"optim.lr":0.2})", std::nullopt);
  alone.failed = true;
  const std::vector<TrialSummary> trials = {
      summary("a1", "sgd", 128, R"({"optim.lr":0.1})", 12.0, TimeToTarget{300, 3.0}),
      summary("b1", "sgd", 128, R"({"optim.lr":0.2})", 11.0, TimeToTarget{100, 1.0}),
      diverged,
      alone,
  };
  const std::vector<Selection> selections = select_hyperparameters(trials);
  ASSERT_EQ(selections.size(), 1U);
  EXPECT_EQ(selections[0].best_grid, R"({"optim.lr":0.1})");
  EXPECT_DOUBLE_EQ(selections[0].best_value, 12.0);
  EXPECT_THAT(selections[0].best_trials, ElementsAre("a1"));
  ASSERT_TRUE(selections[0].fastest_grid.has_value());
  EXPECT_EQ(*selections[0].fastest_grid, R"({"optim.lr":0.1})");
  EXPECT_DOUBLE_EQ(*selections[0].steps_to_target, 300.0);
}

// Where every point has a failed seed, the one with the fewest is chosen, then by the mean of its finished seeds.
TEST(StudySelection, WhereEveryPointHasAFailedSeedTheFewestFailedWin) {
  const auto failed = [](std::string id, std::string grid) {
    TrialSummary trial = summary(std::move(id), "sq", 32, std::move(grid), std::nullopt);
    trial.failed = true;
    return trial;
  };
  const std::vector<TrialSummary> trials = {
      summary("a1", "sq", 32, R"({"optim.lr":0.1})", 20.0),
      failed("a2", R"({"optim.lr":0.1})"),
      failed("a3", R"({"optim.lr":0.1})"),
      summary("b1", "sq", 32, R"({"optim.lr":0.2})", 40.0),
      failed("b2", R"({"optim.lr":0.2})"),
      summary("b3", "sq", 32, R"({"optim.lr":0.2})", 50.0),
      summary("c1", "sq", 32, R"({"optim.lr":0.3})", 32.0),
      failed("c2", R"({"optim.lr":0.3})"),
      summary("c3", "sq", 32, R"({"optim.lr":0.3})", 60.0),
  };
  const std::vector<Selection> selections = select_hyperparameters(trials);
  ASSERT_EQ(selections.size(), 1U);
  EXPECT_EQ(selections[0].best_grid, R"({"optim.lr":0.2})");  // one failed as lr 0.3, mean 45 against 46
  EXPECT_DOUBLE_EQ(selections[0].best_value, 45.0);
  EXPECT_THAT(selections[0].best_trials, ElementsAre("b1", "b3"));
  EXPECT_EQ(selections[0].best_failed, 1U);
}

TEST(StudySelection, TiesGoToTheGridPointSeenFirst) {
  const std::vector<TrialSummary> trials = {summary("x", "r", 8, "{\"a\":1}", 5.0), summary("y", "r", 8, "{\"a\":2}", 5.0)};
  EXPECT_EQ(select_hyperparameters(trials)[0].best_grid, "{\"a\":1}");
  EXPECT_TRUE(select_hyperparameters(std::vector<TrialSummary>{}).empty());
}

TEST(StudySelection, TrialResultsFromMetricsJsonl) {
  const std::string jsonl =
      R"({"step":0,"epoch":0.0,"train_error":50,"validation_error":48,"test_error":49,"weight_norm":1})" "\n"
      R"({"step":10,"epoch":1.0,"train_error":20,"validation_error":22,"test_error":23,"weight_norm":2,"support_fraction":0.5,"time_compute_s":0.25})" "\n"
      R"({"step":20,"epoch":2.0,"train_error":10,"validation_error":12,"test_error":13,"weight_norm":3,"support_fraction":0.4,"time_compute_s":0.25})" "\n"
      R"({"event":"diverged","step":21})" "\n"
      R"({"step":30,"epo)";  // torn by a kill
  const TrialResults results =
      parse_trial_results(jsonl, MetricTarget{StudyMetric::kValidationError, 25.0}, "metrics.jsonl");
  ASSERT_EQ(results.rows.size(), 3U);
  EXPECT_EQ(results.rows[2].step, 20);
  EXPECT_DOUBLE_EQ(results.rows[1].epoch, 1.0);
  EXPECT_TRUE(results.diverged);
  const auto figures = as_map(results.figures);
  EXPECT_DOUBLE_EQ(figures.at("train_error"), 10);
  EXPECT_DOUBLE_EQ(figures.at("validation_error"), 12);
  EXPECT_DOUBLE_EQ(figures.at("test_error"), 13);
  EXPECT_DOUBLE_EQ(figures.at("weight_norm"), 3);
  EXPECT_DOUBLE_EQ(figures.at("support_fraction"), 0.4);
  EXPECT_DOUBLE_EQ(figures.at("steps"), 20);
  EXPECT_DOUBLE_EQ(figures.at("epochs"), 2.0);
  EXPECT_DOUBLE_EQ(figures.at("train_seconds"), 0.5);
  EXPECT_DOUBLE_EQ(figures.at("steps_to_target"), 10);
  EXPECT_DOUBLE_EQ(figures.at("seconds_to_target"), 0.25);
  EXPECT_DOUBLE_EQ(figures.at("target_validation_error"), 25.0);  // what they were timed to
  EXPECT_DOUBLE_EQ(figures.at("diverged"), 1.0);

  const auto unreached =
      as_map(parse_trial_results(jsonl, MetricTarget{StudyMetric::kValidationError, 5.0}, "m").figures);
  EXPECT_FALSE(unreached.contains("steps_to_target"));
  EXPECT_FALSE(as_map(parse_trial_results(jsonl, std::nullopt, "m").figures).contains("steps_to_target"));
}

TEST(StudySelection, DamagedMetricsLineInTheMiddleIsAnError) {
  try {
    parse_trial_results("{\"step\":0}\nnot json\n{\"step\":1}\n", std::nullopt, "run/metrics.jsonl");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("run/metrics.jsonl:2"));
  }
  EXPECT_TRUE(parse_trial_results("", std::nullopt, "m").figures.empty());
}

class StudyLogTail : public testing::TempDirTest {
 protected:
  StudyLogTail() : TempDirTest("normscale_logtail_") {}
};

TEST_F(StudyLogTail, KeepsTheLastLines) {
  {
    std::ofstream log(dir_ / "log.txt");
    for (int i = 1; i <= 100; ++i) log << "line " << i << "\n";
  }
  EXPECT_EQ(log_tail(dir_ / "log.txt", 3), "line 98\nline 99\nline 100");
  EXPECT_EQ(log_tail(dir_ / "log.txt", 3, 8), "line 100");
  EXPECT_EQ(log_tail(dir_ / "missing.txt"), "");
}

}  // namespace
}  // namespace normscale
