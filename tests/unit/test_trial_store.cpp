// The study database: round trip, idempotent upsert, state changes, schema version and rollback.
#include "normscale/core/error.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"
#include "normscale/train/config_io.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class TrialStoreTest : public testing::TempDirTest {
 protected:
  TrialStoreTest() : TempDirTest("normscale_store_") {}

  std::string db_path() const { return path("study.db"); }

  static std::vector<Trial> sample_trials() {
    return expand(parse_study(R"toml(
name = "sample"
batch = [64, "full"]
seeds = [1, 2]
warmup_epochs = 1.5
[grid]
"optim.lr" = [0.1, 0.2]
)toml", "sample.toml"));
  }
};

TEST_F(TrialStoreTest, RoundTrip) {
  const std::vector<Trial> trials = sample_trials();
  ASSERT_EQ(trials.size(), 8U);
  {
    TrialStore store(db_path());
    EXPECT_EQ(store.upsert_trials(trials), 8U);
  }
  const TrialStore store(db_path());  // reopened: the schema version matches
  const std::vector<TrialRecord> records = store.trials();
  ASSERT_EQ(records.size(), trials.size());
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord& record = records[i];
    EXPECT_EQ(record.id, trials[i].id);
    EXPECT_EQ(record.study, "sample");
    EXPECT_EQ(record.regime, "base");
    EXPECT_EQ(record.batch, trials[i].batch);
    EXPECT_EQ(record.ranks, 1);
    EXPECT_EQ(record.seed, trials[i].seed);
    EXPECT_EQ(record.grid_json, grid_point_json(trials[i]));
    EXPECT_DOUBLE_EQ(record.warmup_epochs, 1.5);
    EXPECT_EQ(record.state, TrialState::kPending);
    EXPECT_FALSE(record.exit_code.has_value());
    EXPECT_FALSE(record.wall_seconds.has_value());
    EXPECT_EQ(config_hash(config_from_toml(record.config_toml)), config_hash(trials[i].config));
  }
  EXPECT_EQ(records[4].batch, kFullBatch);  // order: batch > ranks > seed > grid
}

TEST_F(TrialStoreTest, UpsertIsIdempotentAndKeepsState) {
  const std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(trials);
  store.set_state(trials[0].id, TrialState::kDone, TrialOutcome{0, "ok", 12.5});
  EXPECT_EQ(store.upsert_trials(trials), 0U);
  EXPECT_EQ(store.trials().size(), trials.size());
  EXPECT_EQ(store.trial(trials[0].id)->state, TrialState::kDone);
  EXPECT_EQ(store.trials(TrialState::kDone).size(), 1U);
  EXPECT_EQ(store.trials(TrialState::kPending).size(), trials.size() - 1);
}

TEST_F(TrialStoreTest, StateChanges) {
  const std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(trials);
  const std::string& id = trials[2].id;

  store.set_state(id, TrialState::kRunning);
  TrialRecord record = *store.trial(id);
  EXPECT_EQ(record.state, TrialState::kRunning);
  EXPECT_THAT(record.started, HasSubstr("T"));
  EXPECT_EQ(record.finished, "");

  store.set_state(id, TrialState::kFailed, TrialOutcome{3, "diverged at step 7", 1.25});
  record = *store.trial(id);
  EXPECT_EQ(record.state, TrialState::kFailed);
  EXPECT_EQ(record.exit_code, 3);
  EXPECT_EQ(record.log_tail, "diverged at step 7");
  EXPECT_EQ(record.wall_seconds, 1.25);
  EXPECT_THAT(record.finished, HasSubstr("Z"));
  EXPECT_EQ(store.trials(TrialState::kFailed).size(), 1U);

  store.set_state(id, TrialState::kPending);
  record = *store.trial(id);
  EXPECT_EQ(record.state, TrialState::kPending);
  EXPECT_FALSE(record.exit_code.has_value());
  EXPECT_EQ(record.started, "");

  EXPECT_THAT([&] { store.set_state("no-such-trial", TrialState::kDone); },
              ::testing::ThrowsMessage<Error>(HasSubstr("no-such-trial")));
  EXPECT_FALSE(store.trial("no-such-trial").has_value());
}

TEST_F(TrialStoreTest, ResultsAndMetrics) {
  const std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(trials);
  store.record_result(trials[0].id, "test_error", 0.12);
  store.record_result(trials[0].id, "test_error", 0.11);  // replaced, not duplicated
  store.record_result(trials[0].id, "bytes_sent", 1e9);
  EXPECT_EQ(store.results(trials[0].id),
            (std::vector<std::pair<std::string, double>>{{"bytes_sent", 1e9}, {"test_error", 0.11}}));

  const std::vector<MetricRow> rows = {{10, 1.0, R"({"loss":0.5})"}, {20, 2.0, R"({"loss":0.25})"}};
  store.add_metrics(trials[0].id, rows);
  const std::vector<MetricRow> read = store.metrics(trials[0].id);
  ASSERT_EQ(read.size(), 2U);
  EXPECT_EQ(read[1].step, 20);
  EXPECT_DOUBLE_EQ(read[1].epoch, 2.0);
  EXPECT_EQ(read[1].json, R"({"loss":0.25})");

  // Foreign keys: metrics of an unknown trial are refused.
  EXPECT_THROW(store.add_metrics("no-such-trial", rows), Error);
}

TEST_F(TrialStoreTest, SchemaVersionMismatchIsAnError) {
  { TrialStore store(db_path()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT([&] { TrialStore store(db_path()); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("study.db"), HasSubstr("schema version 7"),
                                                    HasSubstr("reads version 1"))));
}

TEST_F(TrialStoreTest, ForeignDatabaseIsRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(TrialStore store(db_path()), Error);
}

TEST_F(TrialStoreTest, NotADatabaseNamesTheFile) {
  std::ofstream(db_path()) << "this is not an SQLite database, just some text long enough to matter\n";
  EXPECT_THAT([&] { TrialStore store(db_path()); }, ::testing::ThrowsMessage<Error>(HasSubstr("study.db")));
}

TEST_F(TrialStoreTest, FailedUpsertRollsBack) {
  std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(std::span<const Trial>(trials).first(2));
  store.set_state(trials[0].id, TrialState::kDone);

  // The third trial breaks a constraint (ranks >= 1) after two new rows were written in the transaction.
  std::vector<Trial> batch = {trials[0], trials[2], trials[3], trials[4]};
  batch[1].regime = "renamed";
  batch[2].ranks = 0;
  EXPECT_THAT([&] { store.upsert_trials(batch); },
              ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("study.db"), HasSubstr("CHECK"))));
  const std::vector<TrialRecord> records = store.trials();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].state, TrialState::kDone);
  EXPECT_FALSE(store.trial(trials[2].id).has_value());
  // The store is still usable after the rollback.
  EXPECT_EQ(store.upsert_trials(trials), 6U);
}


TEST_F(TrialStoreTest, FinishTrialReplacesResultsAndMetricsInOneTransaction) {
  const std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(trials);
  const std::vector<std::pair<std::string, double>> figures = {{"train_error", 1.5}, {"steps", 20}};
  const std::vector<MetricRow> rows = {{0, 0.0, R"({"step":0})"}, {10, 1.0, R"({"step":10})"}};
  store.finish_trial(trials[0].id, TrialState::kDone, {0, "tail", 2.5}, figures, rows);
  // Finished again (a rerun after a crash): replaced, never duplicated.
  store.finish_trial(trials[0].id, TrialState::kFailed, {3, "boom", 1.0}, figures, rows);
  EXPECT_EQ(store.metrics(trials[0].id).size(), 2U);
  EXPECT_EQ(store.results(trials[0].id).size(), 2U);
  const TrialRecord record = *store.trial(trials[0].id);
  EXPECT_EQ(record.state, TrialState::kFailed);
  EXPECT_EQ(record.exit_code, 3);
  EXPECT_EQ(record.log_tail, "boom");
  EXPECT_FALSE(record.finished.empty());

  // A failure inside (an unknown trial) leaves nothing behind.
  EXPECT_THROW(store.finish_trial("0000000000000000", TrialState::kDone, {}, figures, rows), Error);
  EXPECT_THROW(store.finish_trial(trials[1].id, TrialState::kRunning, {}, figures, rows), Error);
  EXPECT_TRUE(store.metrics(trials[1].id).empty());
  EXPECT_EQ(store.trial(trials[1].id)->state, TrialState::kPending);
}

}  // namespace
}  // namespace normscale
