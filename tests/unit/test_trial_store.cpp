// The study database: round trip, idempotent upsert, state changes, schema version and rollback,
// heartbeats and the scheduler's claim on its study.
#include "normscale/core/error.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"
#include "normscale/train/config_io.hpp"
#include "support/read_file.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
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
            (std::map<std::string, double>{{"bytes_sent", 1e9}, {"test_error", 0.11}}));

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
                                                    HasSubstr(fmt::format("reads version {}", TrialStore::kSchemaVersion)))));
}

// The schema normscale wrote as version 1, verbatim: a database of the previous release.
constexpr const char* kVersion1Database = R"sql(
CREATE TABLE trials (
  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, study TEXT NOT NULL, regime TEXT NOT NULL,
  batch INTEGER NOT NULL CHECK (batch = -1 OR batch >= 1), ranks INTEGER NOT NULL CHECK (ranks >= 1),
  seed INTEGER NOT NULL CHECK (seed >= 0), grid TEXT NOT NULL, config TEXT NOT NULL,
  warmup_epochs REAL NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  exit_code INTEGER, log_tail TEXT NOT NULL DEFAULT '', wall_seconds REAL,
  started TEXT NOT NULL DEFAULT '', finished TEXT NOT NULL DEFAULT ''
);
CREATE TABLE metrics (trial_id TEXT NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, epoch REAL NOT NULL,
                      json TEXT NOT NULL);
CREATE INDEX metrics_by_trial ON metrics (trial_id, step);
CREATE TABLE results (trial_id TEXT NOT NULL REFERENCES trials(id), key TEXT NOT NULL, value REAL,
                      PRIMARY KEY (trial_id, key));
INSERT INTO trials VALUES ('t-done', 1, 'old', 'sgd', 64, 2, 3, '{"optim.lr":0.1}', 'seed = 3', 1.5, 'done', 0,
                           'ok', 12.5, '2025-01-02T03:04:05Z', '2025-01-02T03:05:00Z');
INSERT INTO trials VALUES ('t-running', 2, 'old', 'wd', -1, 1, 1, '{}', 'seed = 1', 0, 'running', NULL, '', NULL,
                           '2025-01-02T03:06:00Z', '');
INSERT INTO trials (id, seq, study, regime, batch, ranks, seed, grid, config)
  VALUES ('t-pending', 3, 'old', 'sgd', 128, 1, 2, '{}', 'seed = 2');
INSERT INTO metrics VALUES ('t-done', 0, 0.0, '{"step":0}'), ('t-done', 10, 1.0, '{"step":10}');
INSERT INTO results VALUES ('t-done', 'validation_error', 4.25), ('t-done', 'steps', 10);
PRAGMA user_version = 1;
)sql";

TEST_F(TrialStoreTest, VersionOneDatabaseIsMigratedKeepingEveryRow) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, kVersion1Database, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  for (int open = 0; open < 2; ++open) {  // migrated, then opened as the current version
    TrialStore store(db_path());
    const std::vector<TrialRecord> records = store.trials();
    ASSERT_EQ(records.size(), 3U);
    const TrialRecord& done = records[0];
    EXPECT_EQ(done.id, "t-done");
    EXPECT_EQ(done.study, "old");
    EXPECT_EQ(done.batch, 64);
    EXPECT_EQ(done.ranks, 2);
    EXPECT_EQ(done.seed, 3U);
    EXPECT_EQ(done.grid_json, "{\"optim.lr\":0.1}");
    EXPECT_EQ(done.config_toml, "seed = 3");
    EXPECT_DOUBLE_EQ(done.warmup_epochs, 1.5);
    EXPECT_EQ(done.state, TrialState::kDone);
    EXPECT_EQ(done.exit_code, 0);
    EXPECT_EQ(done.log_tail, "ok");
    EXPECT_EQ(done.wall_seconds, 12.5);
    EXPECT_EQ(done.started, "2025-01-02T03:04:05Z");
    EXPECT_EQ(done.finished, "2025-01-02T03:05:00Z");
    EXPECT_FALSE(done.process.has_value());
    EXPECT_EQ(records[1].id, "t-running");
    EXPECT_EQ(records[1].state, TrialState::kRunning);
    EXPECT_EQ(records[1].batch, kFullBatch);
    EXPECT_EQ(records[1].started, "2025-01-02T03:06:00Z");
    EXPECT_FALSE(records[1].process.has_value());
    EXPECT_EQ(records[2].id, "t-pending");
    EXPECT_EQ(records[2].state, TrialState::kPending);
    const std::vector<MetricRow> metrics = store.metrics("t-done");
    ASSERT_EQ(metrics.size(), 2U);
    EXPECT_EQ(metrics[1].step, 10);
    EXPECT_EQ(metrics[1].json, "{\"step\":10}");
    EXPECT_EQ(store.results("t-done"), (std::map<std::string, double>{{"steps", 10.0}, {"validation_error", 4.25}}));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(version), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(version, 0), TrialStore::kSchemaVersion);
  sqlite3_finalize(version);
  sqlite3_close(db);

  // The new columns work on the migrated rows.
  TrialStore store(db_path());
  store.set_process("t-running", TrialProcess{"node1", "boot", 4321, 987654, ""});
  EXPECT_EQ(store.trial("t-running")->heartbeat, "");
  store.set_heartbeat("t-running");
  EXPECT_FALSE(store.scheduler().has_value());
  const TrialRecord running = *store.trial("t-running");
  EXPECT_THAT(running.heartbeat, HasSubstr("Z"));
  ASSERT_TRUE(running.process.has_value());
  EXPECT_EQ(running.process->host, "node1");
  EXPECT_EQ(running.process->boot_id, "boot");
  EXPECT_EQ(running.process->pid, 4321);
  EXPECT_EQ(running.process->start_ticks, 987654);
  EXPECT_EQ(running.state, TrialState::kRunning);
  // Version 4's halving columns: every old trial is at rung 0, none stopped early, and a done one can go on.
  EXPECT_EQ(running.rung, 0);
  EXPECT_FALSE(running.stopped_early);
  EXPECT_EQ(running.earlier_seconds, 0.0);
  store.promote("t-done", 1);
  EXPECT_EQ(store.trial("t-done")->rung, 1);
  EXPECT_EQ(store.trial("t-done")->state, TrialState::kPending);
  EXPECT_EQ(store.trial("t-done")->earlier_seconds, 12.5);  // version 5: its rung-0 time
  EXPECT_FALSE(store.rung_schedule().has_value());  // version 6: none recorded until a halving run
}

// A halving study's rung schedule is recorded once, by the first run, and kept: a later one gets the recorded one
// back to compare with its own.
TEST_F(TrialStoreTest, TheRungScheduleIsRecordedOnceAndKept) {
  const RungSchedule first{{5, 15, 45}, "steps"};
  {
    TrialStore store(db_path());
    EXPECT_FALSE(store.rung_schedule().has_value());
    EXPECT_EQ(store.adopt_rung_schedule(first), first);
    EXPECT_EQ(store.adopt_rung_schedule(RungSchedule{{5, 10, 45}, "steps"}), first);
    EXPECT_EQ(store.adopt_rung_schedule(RungSchedule{{5, 15, 45}, "epochs"}), first);
  }
  const TrialStore store(db_path());
  ASSERT_TRUE(store.rung_schedule().has_value());
  EXPECT_EQ(*store.rung_schedule(), first);
  EXPECT_EQ(TrialStore(db_path()).adopt_rung_schedule(RungSchedule{{}, "steps"}), first);  // never emptied
}

// A study without halving records an empty schedule; one that takes [halving] on before any trial ran (the runner
// checks that first) replaces it.
TEST_F(TrialStoreTest, AnEmptyRungScheduleIsReplacedByAHalvingOne) {
  TrialStore store(db_path());
  const RungSchedule none{{}, "steps"};
  EXPECT_EQ(store.adopt_rung_schedule(none), none);
  EXPECT_EQ(store.adopt_rung_schedule(none), none);
  const RungSchedule halving{{1, 3, 9}, "epochs"};
  EXPECT_EQ(store.adopt_rung_schedule(halving), halving);
  EXPECT_EQ(TrialStore(db_path()).rung_schedule(), halving);
}

// A version-5 database is the current schema without the halving_schedule table: migrated, every row kept, and
// no schedule recorded (the next halving run adopts its own).
TEST_F(TrialStoreTest, VersionFiveDatabaseIsMigratedKeepingEveryRow) {
  const std::vector<Trial> trials = sample_trials();
  const std::vector<std::pair<std::string, double>> figures = {{"validation_error", 12.5}};
  const std::vector<MetricRow> rows = {{5, 0.5, R"({"validation_error":12.5})"}, {10, 1.0, R"({"step":10})"}};
  {
    TrialStore store(db_path());
    store.upsert_trials(trials);
    store.finish_trial(trials[0].id, TrialState::kDone, {0, "ok", 2.5}, figures, rows);
    store.promote(trials[0].id, 1);
    store.finish_trial(trials[1].id, TrialState::kFailed, {3, "diverged", 1.5}, figures, rows);
  }
  const std::vector<TrialRecord> before = TrialStore(db_path()).trials();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE halving_schedule; PRAGMA user_version = 5", nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  TrialStore store(db_path());
  const std::vector<TrialRecord> after = store.trials();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].state, before[i].state);
    EXPECT_EQ(after[i].rung, before[i].rung);
    EXPECT_EQ(after[i].earlier_seconds, before[i].earlier_seconds);
    EXPECT_EQ(after[i].exit_code, before[i].exit_code);
    EXPECT_EQ(after[i].log_tail, before[i].log_tail);
    EXPECT_EQ(after[i].config_toml, before[i].config_toml);
  }
  EXPECT_EQ(after[0].rung, 1);
  EXPECT_EQ(after[1].state, TrialState::kFailed);
  EXPECT_EQ(store.metrics(trials[0].id).size(), 2U);
  EXPECT_EQ(store.metrics(trials[1].id).size(), 2U);
  EXPECT_EQ(store.results(trials[1].id), (std::map<std::string, double>(figures.begin(), figures.end())));
  EXPECT_FALSE(store.rung_schedule().has_value());
  const RungSchedule schedule{{1, 3, 9}, "epochs"};
  EXPECT_EQ(store.adopt_rung_schedule(schedule), schedule);
  EXPECT_EQ(TrialStore(db_path()).rung_schedule(), schedule);
}

// A promotion sets the trial pending at its next rung in one step and keeps what its last rung recorded until
// its next end; only a done trial can be promoted or stopped early, and a promotion forgets an earlier stop.
TEST_F(TrialStoreTest, PromotionAndStoppingEarlyOfDoneTrials) {
  const std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(trials);
  EXPECT_EQ(store.trial(trials[0].id)->rung, 0);
  EXPECT_THROW(store.promote(trials[0].id, 1), Error);     // pending: nothing finished to promote
  EXPECT_THROW(store.stop_early(trials[0].id), Error);
  const std::vector<std::pair<std::string, double>> figures = {{"validation_error", 12.5}};
  const std::vector<MetricRow> rows = {{10, 1.0, R"({"step":10,"validation_error":12.5})"}};
  store.finish_trial(trials[0].id, TrialState::kDone, {0, "", 1.0}, figures, rows);
  store.finish_trial(trials[1].id, TrialState::kDone, {0, "", 1.0}, figures, rows);
  store.stop_early(trials[1].id);
  EXPECT_TRUE(store.trial(trials[1].id)->stopped_early);
  EXPECT_EQ(store.trial(trials[1].id)->state, TrialState::kDone);
  store.promote(trials[0].id, 1);
  const TrialRecord promoted = *store.trial(trials[0].id);
  EXPECT_EQ(promoted.state, TrialState::kPending);
  EXPECT_EQ(promoted.rung, 1);
  EXPECT_FALSE(promoted.exit_code.has_value());
  EXPECT_FALSE(promoted.wall_seconds.has_value());
  EXPECT_EQ(promoted.earlier_seconds, 1.0);  // its rung-0 wall time, kept for its end
  EXPECT_EQ(store.trial(trials[1].id)->earlier_seconds, 0.0);
  EXPECT_EQ(store.metrics(trials[0].id).size(), 1U);  // its rung-0 evaluations, until its rung-1 end
  store.set_state(trials[0].id, TrialState::kRunning);
  store.set_state(trials[0].id, TrialState::kPending);  // a stopped scheduler keeps the rung
  EXPECT_EQ(store.trial(trials[0].id)->rung, 1);
  EXPECT_THROW(store.promote("0000000000000000", 1), Error);
  // Reopened: the same.
  const TrialStore again(db_path());
  EXPECT_EQ(again.trial(trials[0].id)->rung, 1);
  EXPECT_TRUE(again.trial(trials[1].id)->stopped_early);
  EXPECT_FALSE(again.trial(trials[2].id)->stopped_early);
}

TEST_F(TrialStoreTest, ProcessIsRecordedAndForgottenByTheNextStart) {
  TrialStore store(db_path());
  const std::vector<Trial> trials = sample_trials();
  store.upsert_trials(trials);
  store.set_state(trials[0].id, TrialState::kRunning);
  EXPECT_FALSE(store.trial(trials[0].id)->process.has_value());
  store.set_process(trials[0].id, TrialProcess{"", "", 0, 0, "123_4"});
  ASSERT_TRUE(store.trial(trials[0].id)->process.has_value());
  EXPECT_EQ(store.trial(trials[0].id)->process->job, "123_4");
  EXPECT_EQ(store.trial(trials[0].id)->process->pid, 0);
  store.set_state(trials[0].id, TrialState::kRunning);  // started again: the old process is not this one
  EXPECT_FALSE(store.trial(trials[0].id)->process.has_value());
  EXPECT_THROW(store.set_process("no-such-trial", TrialProcess{"h", "b", 1, 1, ""}), Error);
}

TEST_F(TrialStoreTest, ForeignDatabaseIsRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THROW(TrialStore store(db_path()), Error);
}

TEST_F(TrialStoreTest, NotADatabaseNamesTheFile) {
  const std::string text = "this is not an SQLite database, just some text long enough to matter\n";
  std::ofstream(db_path()) << text;
  EXPECT_THAT([&] { TrialStore store(db_path()); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("study.db"), HasSubstr("hint: the file is not a normscale study database, or "
                                                         "it is damaged; it was left as it is"))));
  EXPECT_EQ(testing::read_file(db_path()), text);
  // A folder in its place is said to be one (it was "unable to open database file").
  std::filesystem::remove(db_path());
  std::filesystem::create_directory(db_path());
  EXPECT_THAT([&] { TrialStore store(db_path()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("study.db: a folder, not a study database")));
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

TEST_F(TrialStoreTest, ARunningTrialHasAHeartbeatFromItsStartAndAPendingOneNone) {
  const std::vector<Trial> trials = sample_trials();
  TrialStore store(db_path());
  store.upsert_trials(trials);
  const std::string& id = trials[0].id;
  EXPECT_EQ(store.trial(id)->heartbeat, "");
  EXPECT_FALSE(store.trial(id)->seconds_since_heartbeat.has_value());
  store.set_state(id, TrialState::kRunning);
  TrialRecord record = *store.trial(id);
  EXPECT_EQ(record.heartbeat, record.started);
  ASSERT_TRUE(record.seconds_since_heartbeat.has_value());
  EXPECT_GE(*record.seconds_since_heartbeat, -1.0);
  EXPECT_LT(*record.seconds_since_heartbeat, 60.0);
  store.set_heartbeat(id);
  EXPECT_THAT(store.trial(id)->heartbeat, HasSubstr("Z"));
  store.set_state(id, TrialState::kPending);
  EXPECT_EQ(store.trial(id)->heartbeat, "");
  EXPECT_THROW(store.set_heartbeat("no-such-trial"), Error);
}

// A scheduler on another host is kept off while the holder was seen within its stale_seconds, takes
// over a stale claim, and the one taken over from finds out at its next heartbeat.
TEST_F(TrialStoreTest, TheSchedulerClaimKeepsOthersOffUntilItGoesStale) {
  TrialStore a(db_path());
  TrialStore b(db_path());
  EXPECT_FALSE(a.claim_scheduler("node-a", 11, 300.0).has_value());
  const std::optional<SchedulerRecord> held = b.claim_scheduler("node-b", 22, 300.0);
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->host, "node-a");
  EXPECT_EQ(held->pid, 11);
  EXPECT_DOUBLE_EQ(held->stale_seconds, 300.0);
  EXPECT_LT(held->seconds_since_seen, 60.0);
  EXPECT_EQ(b.scheduler()->host, "node-a");  // refused: nothing changed
  a.refresh_scheduler("node-a", 11);
  EXPECT_THROW(b.refresh_scheduler("node-b", 22), Error);

  // On its own host a scheduler holds the flock, so a row of that host is a dead one's.
  EXPECT_FALSE(b.claim_scheduler("node-a", 33, 300.0).has_value());
  EXPECT_EQ(b.scheduler()->pid, 33);
  EXPECT_THAT([&] { a.refresh_scheduler("node-a", 11); }, ::testing::ThrowsMessage<Error>(HasSubstr("took it over")));

  // Released, or stale (unseen longer than it declared), the study is free.
  b.release_scheduler("node-a", 33);
  EXPECT_FALSE(b.scheduler().has_value());
  EXPECT_FALSE(a.claim_scheduler("node-a", 11, 0.0).has_value());
  EXPECT_FALSE(b.claim_scheduler("node-b", 22, 300.0).has_value());
  EXPECT_EQ(a.scheduler()->host, "node-b");
  a.release_scheduler("node-a", 11);  // not the holder: changes nothing
  EXPECT_EQ(a.scheduler()->host, "node-b");
}

}  // namespace
}  // namespace normscale
