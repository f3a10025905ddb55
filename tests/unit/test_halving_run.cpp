// HalvingRun against a real study database without running anything: a finished rung's errors are read once
// (a trial's metrics are read again only when its record changed), and the decisions stay those of the planner.
#include "normscale/study/halving_run.hpp"
#include "normscale/study/report.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/study_runner.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kCacheStudy = R"toml(
name = "cache"
steps = 45
[grid]
"optim.lr" = [0.1, 0.2, 0.3]
[halving]
rungs = [5, 15, 45]
reduction = 3
)toml";

class HalvingRunTest : public testing::TempDirTest {
 protected:
  HalvingRunTest()
      : TempDirTest("normscale_halving_run_"), spec_(parse_study(kCacheStudy, "cache.toml")), trials_(expand(spec_)) {}

  // The trial's end at `rung`: one evaluation at each rung's budget up to it, all with `error`, which its results
  // also hold.
  static void finish(TrialStore& store, const Trial& trial, std::size_t rung, double error, double wall_seconds) {
    const std::vector<std::int64_t> budgets = {5, 15, 45};
    std::vector<MetricRow> rows;
    for (std::size_t r = 0; r <= rung; ++r) {
      rows.push_back({budgets[r], 0.0, R"({"validation_error":)" + std::to_string(error) + "}"});
    }
    const std::vector<std::pair<std::string, double>> results = {{"validation_error", error}};
    store.set_state(trial.id, TrialState::kRunning);
    store.finish_trial(trial.id, TrialState::kDone, {0, "", wall_seconds}, results, rows);
  }

  // Rewrites a trial's stored metrics behind the planner's back (a finished rung's never change in a study).
  void overwrite_metrics(const std::string& id, const std::string& json) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path("study.db").c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE metrics SET json = '" + json + "' WHERE trial_id = '" + id + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  StudySpec spec_;
  std::vector<Trial> trials_;
};

std::vector<std::string> ids(const HalvingStep& step) {
  std::vector<std::string> promoted;
  for (const Trial* trial : step.promoted) promoted.push_back(trial->id);
  return promoted;
}

TEST_F(HalvingRunTest, AFinishedRungIsReadOnceAndANewlyFinishedOneIsRead) {
  ASSERT_EQ(trials_.size(), 3U);
  TrialStore store(path("study.db"));
  store.upsert_trials(trials_);
  HalvingRun run(spec_, trials_);
  EXPECT_TRUE(run.advance(store).promoted.empty());
  EXPECT_EQ(run.metrics_reads(), 0U) << "nothing finished, nothing to read";

  finish(store, trials_[0], 0, 10.0, 1.0);
  EXPECT_TRUE(run.advance(store).promoted.empty());  // 1 of 3 finished rung 0: floor(1/3) = 0 go on
  EXPECT_EQ(run.metrics_reads(), 1U);
  finish(store, trials_[1], 0, 20.0, 1.0);
  EXPECT_TRUE(run.advance(store).promoted.empty());
  EXPECT_EQ(run.metrics_reads(), 2U) << "only the trial that ended is read; the first one's rung 0 is known";

  // Were trial 0 read again, its rung-0 error would now be 99 and trial 1 (20) would go on instead.
  overwrite_metrics(trials_[0].id, R"({"validation_error":99})");
  finish(store, trials_[2], 0, 30.0, 1.0);
  const HalvingStep settled = run.advance(store);
  EXPECT_EQ(ids(settled), std::vector<std::string>{trials_[0].id});
  EXPECT_EQ(run.metrics_reads(), 3U);
  ASSERT_FALSE(settled.notes.empty());
  EXPECT_THAT(settled.notes[0], HasSubstr("validation error 10.00% at 5 steps"));

  // Its promotion keeps what it knew: nothing is read again and nothing more decided.
  const HalvingStep again = run.advance(store);
  EXPECT_TRUE(again.promoted.empty());
  EXPECT_TRUE(again.notes.empty());
  EXPECT_EQ(run.metrics_reads(), 3U);

  // Its rung-1 end is new: read, and its error there (8) is in the note of its promotion to the last rung.
  finish(store, trials_[0], 1, 8.0, 2.0);
  const HalvingStep last = run.advance(store);
  EXPECT_EQ(ids(last), std::vector<std::string>{trials_[0].id});
  EXPECT_EQ(run.metrics_reads(), 4U);
  ASSERT_EQ(last.notes.size(), 1U);
  EXPECT_THAT(last.notes[0], HasSubstr("promoted to rung 2 (45 steps; validation error 8.00% at 15 steps)"));
}

// A trial that ends again at the same rung (retried: pending, run, done) may have other metrics: read again.
TEST_F(HalvingRunTest, ATrialThatEndsAgainAtItsRungIsReadAgain) {
  TrialStore store(path("study.db"));
  store.upsert_trials(trials_);
  HalvingRun run(spec_, trials_);
  finish(store, trials_[0], 0, 10.0, 1.0);
  run.advance(store);
  EXPECT_EQ(run.metrics_reads(), 1U);
  store.set_state(trials_[0].id, TrialState::kPending);
  finish(store, trials_[0], 0, 50.0, 3.0);
  finish(store, trials_[1], 0, 20.0, 1.0);
  finish(store, trials_[2], 0, 30.0, 1.0);
  const HalvingStep step = run.advance(store);
  EXPECT_EQ(run.metrics_reads(), 4U);
  EXPECT_EQ(ids(step), std::vector<std::string>{trials_[1].id}) << "trial 0's new error, 50, ranks it last";
}

// A regression study's trials record losses and no error: with select_by = "validation_loss" they are ranked by
// the loss; ranked by error, the first end says what to set instead of leaving every trial unpromotable.
TEST_F(HalvingRunTest, ARegressionStudyRanksByValidationLoss) {
  const auto end_with_loss = [](TrialStore& store, const Trial& trial, double loss) {
    store.set_state(trial.id, TrialState::kRunning);
    const std::vector<MetricRow> rows = {
        {5, 0.0, R"({"train_loss":0.01,"validation_loss":)" + std::to_string(loss) + "}"}};
    store.finish_trial(trial.id, TrialState::kDone, {0, "", 1.0}, {}, rows);
  };
  StudySpec by_loss = spec_;
  by_loss.metric = StudyMetric::kValidationLoss;
  TrialStore store(path("study.db"));
  store.upsert_trials(trials_);
  HalvingRun run(by_loss, trials_);
  end_with_loss(store, trials_[0], 0.5);
  end_with_loss(store, trials_[1], 0.0625);
  end_with_loss(store, trials_[2], 2.0);
  const HalvingStep step = run.advance(store);
  EXPECT_EQ(ids(step), std::vector<std::string>{trials_[1].id}) << "the lowest validation loss goes on";
  ASSERT_FALSE(step.notes.empty());
  EXPECT_THAT(step.notes[0], HasSubstr("promoted to rung 1 (15 steps; validation loss 0.0625 at 5 steps)"));

  HalvingRun by_error(spec_, trials_);
  try {
    by_error.advance(store);
    ADD_FAILURE() << "a rung end without a validation error was accepted";
  } catch (const std::exception& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("without a validation error"),
                                    HasSubstr("select_by = \"validation_loss\"")));
  }
}

// `study status` names the best grid point among the trials trained to the full budget, as the report does: a trial
// halving stopped at rung 0 (20% there) is no candidate against the winner's 25% after 45 steps.
TEST_F(HalvingRunTest, StatusSelectsAmongTheTrialsAtTheFullBudget) {
  std::ofstream(path("cache.toml")) << kCacheStudy;
  {
    TrialStore store(path("cache.db"));
    store.upsert_trials(trials_);
    HalvingRun run(spec_, trials_);
    finish(store, trials_[0], 0, 30.0, 1.0);
    finish(store, trials_[1], 0, 10.0, 1.0);
    finish(store, trials_[2], 0, 20.0, 1.0);
    EXPECT_EQ(ids(run.advance(store)), std::vector<std::string>{trials_[1].id});
    // Its later rungs at 25%; its metrics keep the rung-0 record (10%), as a resumed run's do.
    const auto finish_at = [&](std::vector<MetricRow> rows) {
      const std::vector<std::pair<std::string, double>> results = {{"validation_error", 25.0}};
      store.set_state(trials_[1].id, TrialState::kRunning);
      store.finish_trial(trials_[1].id, TrialState::kDone, {0, "", 2.0}, results, rows);
    };
    finish_at({{5, 0.0, R"({"validation_error":10})"}, {15, 0.0, R"({"validation_error":25})"}});
    EXPECT_EQ(ids(run.advance(store)), std::vector<std::string>{trials_[1].id});
    finish_at({{5, 0.0, R"({"validation_error":10})"},
               {15, 0.0, R"({"validation_error":25})"},
               {45, 0.0, R"({"validation_error":25})"}});
    EXPECT_TRUE(run.advance(store).promoted.empty());
    EXPECT_TRUE(store.trial(trials_[2].id)->stopped_early);
  }
  const std::string status = study_status(path("cache.toml"));
  EXPECT_THAT(status, HasSubstr("{\"optim.lr\":0.2} validation error 25.00% (1 trial(s))")) << status;
}

// The report counts a trial done at a lower rung apart from one that halving stopped there: the first is only
// waiting for its rung to settle (a study still running, or whose scheduler stopped).
TEST_F(HalvingRunTest, TheReportTellsTrialsStoppedEarlyFromTrialsNotYetDecidedOn) {
  TrialStore store(path("study.db"));
  store.upsert_trials(trials_);
  HalvingRun run(spec_, trials_);
  finish(store, trials_[0], 0, 30.0, 1.0);
  finish(store, trials_[1], 0, 10.0, 1.0);
  EXPECT_TRUE(run.advance(store).promoted.empty());
  const auto notes = [&](const char* out) {
    return ::testing::PrintToString(write_report(spec_, path("study.db"), path(out), {.plots = false}).notes);
  };
  const std::string waiting = notes("waiting");
  EXPECT_THAT(waiting, HasSubstr("0 of 3 trials done at the full budget, 2 done at a lower rung and not yet "
                                 "promoted or stopped (the study has not finished)"));
  EXPECT_THAT(waiting, Not(HasSubstr("stopped by successive halving")));
  finish(store, trials_[2], 0, 20.0, 1.0);
  EXPECT_EQ(ids(run.advance(store)), std::vector<std::string>{trials_[1].id});
  const std::string settled = notes("settled");
  EXPECT_THAT(settled, HasSubstr("0 of 3 trials done at the full budget, 2 stopped by successive halving at a lower "
                                 "rung (counted, not averaged or compared)."));
  EXPECT_THAT(settled, Not(HasSubstr("not yet promoted")));
}

// A full-batch run evaluates 20 times over its budget by default: each rung's run takes the full budget's cadence,
// so a promoted trial evaluates where the uninterrupted run does (every 9 steps of 180, not every step of rung 0's
// 20). A minibatch run's default (once per epoch) and a cadence the study sets are left alone.
TEST_F(HalvingRunTest, EveryRungOfAFullBatchTrialEvaluatesOnTheFullBudgetsCadence) {
  const auto rungs_of = [](const std::string& text) {
    const StudySpec spec = parse_study(text, "full.toml");
    const std::vector<Trial> trials = expand(spec);
    const HalvingRun run(spec, trials);
    std::vector<std::int64_t> every;
    for (std::int64_t rung = 0; rung < 3; ++rung) every.push_back(run.at_rung(trials[0], rung).config.eval_every);
    return every;
  };
  const std::string axes = "[grid]\n\"optim.lr\" = [0.1, 0.2]\n[halving]\nrungs = [20, 60, 180]\n";
  EXPECT_EQ(rungs_of("steps = 180\nbatch = [\"full\"]\n" + axes), (std::vector<std::int64_t>{9, 9, 9}));
  EXPECT_EQ(rungs_of("steps = 180\nbatch = [32]\n" + axes), (std::vector<std::int64_t>{0, 0, 0}));
  EXPECT_EQ(rungs_of("steps = 180\nbatch = [\"full\"]\n[base]\neval_every = 4\n" + axes),
            (std::vector<std::int64_t>{4, 4, 4}));
}

}  // namespace
}  // namespace normscale
