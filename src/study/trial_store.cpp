// The study database over SQLite3: RAII statements, every call checked, writes in transactions.
#include "normscale/study/trial_store.hpp"

#include "normscale/core/error.hpp"
#include "normscale/train/config_io.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <iterator>
#include <utility>

namespace normscale {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE trials (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  study TEXT NOT NULL,
  regime TEXT NOT NULL,
  batch INTEGER NOT NULL CHECK (batch = -1 OR batch >= 1),
  ranks INTEGER NOT NULL CHECK (ranks >= 1),
  seed INTEGER NOT NULL CHECK (seed >= 0),
  grid TEXT NOT NULL,
  config TEXT NOT NULL,
  warmup_epochs REAL NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  exit_code INTEGER,
  log_tail TEXT NOT NULL DEFAULT '',
  wall_seconds REAL,
  started TEXT NOT NULL DEFAULT '',
  finished TEXT NOT NULL DEFAULT '',
  host TEXT NOT NULL DEFAULT '',
  boot_id TEXT NOT NULL DEFAULT '',
  pid INTEGER,
  pid_start INTEGER,
  job TEXT NOT NULL DEFAULT '',
  heartbeat TEXT NOT NULL DEFAULT '',
  rung INTEGER NOT NULL DEFAULT 0,
  stopped_early INTEGER NOT NULL DEFAULT 0,
  earlier_seconds REAL NOT NULL DEFAULT 0
);
CREATE TABLE metrics (
  trial_id TEXT NOT NULL REFERENCES trials(id),
  step INTEGER NOT NULL,
  epoch REAL NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX metrics_by_trial ON metrics (trial_id, step);
CREATE TABLE results (
  trial_id TEXT NOT NULL REFERENCES trials(id),
  key TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, key)
);
)sql";

// The scheduler that holds the study (one row); new in version 3, created with the schema or by that migration.
constexpr std::string_view kSchedulerTable = R"sql(
CREATE TABLE scheduler (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started TEXT NOT NULL,
  heartbeat TEXT NOT NULL,
  stale_seconds REAL NOT NULL
);
)sql";

// The rung schedule a halving study first ran with (one row; none until then); new in version 6, created with the
// schema or by that migration. The rungs as a JSON array, the unit "steps" or "epochs".
constexpr std::string_view kHalvingScheduleTable = R"sql(
CREATE TABLE halving_schedule (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  rungs TEXT NOT NULL,
  unit TEXT NOT NULL CHECK (unit IN ('steps', 'epochs'))
);
)sql";

// Each step takes a database from version N to N + 1 (index N - 1) without losing a row; a new column
// needs a default, so the rows already there stay valid.
constexpr std::string_view kMigrations[] = {
    // 1 -> 2: what a restarted scheduler needs to find a running trial again.
    R"sql(
ALTER TABLE trials ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE trials ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE trials ADD COLUMN pid INTEGER;
ALTER TABLE trials ADD COLUMN pid_start INTEGER;
ALTER TABLE trials ADD COLUMN job TEXT NOT NULL DEFAULT '';
)sql",
    // 2 -> 3: heartbeats, of the running trials and (kSchedulerTable) of the scheduler that holds the study.
    R"sql(
ALTER TABLE trials ADD COLUMN heartbeat TEXT NOT NULL DEFAULT '';
)sql",
    // 3 -> 4: successive halving, the rung a trial was last given and whether it stopped early there.
    R"sql(
ALTER TABLE trials ADD COLUMN rung INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN stopped_early INTEGER NOT NULL DEFAULT 0;
)sql",
    // 4 -> 5: the wall time of a promoted trial's earlier rungs.
    R"sql(
ALTER TABLE trials ADD COLUMN earlier_seconds REAL NOT NULL DEFAULT 0;
)sql",
    // 5 -> 6: the rung schedule a halving study first ran with; none recorded, the next halving run records its own.
    kHalvingScheduleTable,
};
static_assert(std::size(kMigrations) == TrialStore::kSchemaVersion - 1, "one migration per schema version step");

constexpr std::string_view kTrialColumns =
    "id, study, regime, batch, ranks, seed, grid, config, warmup_epochs, state, exit_code, log_tail, "
    "wall_seconds, started, finished, host, boot_id, pid, pid_start, job, heartbeat, "
    "CASE heartbeat WHEN '' THEN NULL ELSE (julianday('now') - julianday(heartbeat)) * 86400 END, "
    "rung, stopped_early, earlier_seconds";

// UTC now, as every timestamp of the database is written (SQLite compares and subtracts them).
constexpr std::string_view kNow = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

[[noreturn]] void fail_sqlite(sqlite3* db, const std::filesystem::path& path, std::string_view what) {
  NS_FAIL("study database {}: {} failed: {} (hint: is the file a normscale study database, and "
          "writable?)",
          path.string(), what, db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

void check(int rc, sqlite3* db, const std::filesystem::path& path, std::string_view what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) fail_sqlite(db, path, what);
}

// One prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const std::filesystem::path& path, std::string_view sql)
      : db_(db), path_(path), sql_(sql) {
    check(sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement_, nullptr), db,
          path, sql_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(statement_); }

  Statement& bind(int index, std::string_view text) {
    check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT),
          db_, path_, sql_);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(statement_, index, value), db_, path_, sql_);
    return *this;
  }
  Statement& bind(int index, double value) {
    check(sqlite3_bind_double(statement_, index, value), db_, path_, sql_);
    return *this;
  }
  Statement& bind_null(int index) {
    check(sqlite3_bind_null(statement_, index), db_, path_, sql_);
    return *this;
  }

  // True while a row is available.
  bool step() {
    const int rc = sqlite3_step(statement_);
    check(rc, db_, path_, sql_);
    return rc == SQLITE_ROW;
  }
  void reset() {
    check(sqlite3_reset(statement_), db_, path_, sql_);
    check(sqlite3_clear_bindings(statement_), db_, path_, sql_);
  }

  std::string text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    return data == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(data),
                                         static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  double real(int column) const { return sqlite3_column_double(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  const std::filesystem::path& path_;
  std::string sql_;
  sqlite3_stmt* statement_ = nullptr;
};

TrialState parse_state(const std::string& text, const std::filesystem::path& path) {
  for (const TrialState state :
       {TrialState::kPending, TrialState::kRunning, TrialState::kDone, TrialState::kFailed}) {
    if (trial_state_name(state) == text) return state;
  }
  NS_FAIL("study database {}: unknown trial state '{}'", path.string(), text);
}

TrialRecord read_record(const Statement& row, const std::filesystem::path& path) {
  TrialRecord record;
  record.id = row.text(0);
  record.study = row.text(1);
  record.regime = row.text(2);
  record.batch = row.integer(3);
  record.ranks = row.integer(4);
  record.seed = static_cast<std::uint64_t>(row.integer(5));
  record.grid_json = row.text(6);
  record.config_toml = row.text(7);
  record.warmup_epochs = row.real(8);
  record.state = parse_state(row.text(9), path);
  if (!row.is_null(10)) record.exit_code = static_cast<int>(row.integer(10));
  record.log_tail = row.text(11);
  if (!row.is_null(12)) record.wall_seconds = row.real(12);
  record.started = row.text(13);
  record.finished = row.text(14);
  TrialProcess process;
  process.host = row.text(15);
  process.boot_id = row.text(16);
  if (!row.is_null(17)) process.pid = row.integer(17);
  if (!row.is_null(18)) process.start_ticks = row.integer(18);
  process.job = row.text(19);
  if (process.pid > 0 || !process.job.empty()) record.process = std::move(process);
  record.heartbeat = row.text(20);
  if (!row.is_null(21)) record.seconds_since_heartbeat = row.real(21);
  record.rung = row.integer(22);
  record.stopped_early = row.integer(23) != 0;
  record.earlier_seconds = row.real(24);
  return record;
}

}  // namespace

std::string_view trial_state_name(TrialState state) {
  switch (state) {
    case TrialState::kPending: return "pending";
    case TrialState::kRunning: return "running";
    case TrialState::kDone: return "done";
    case TrialState::kFailed: return "failed";
  }
  return "?";
}

bool short_of_budget(const TrialRecord& record, std::size_t last_rung) {
  return record.state == TrialState::kDone &&
         (record.stopped_early || static_cast<std::size_t>(std::max<std::int64_t>(record.rung, 0)) < last_rung);
}

TrialStore::TrialStore(const std::filesystem::path& path) : path_(path) {
  std::error_code ec;
  NS_CHECK(!std::filesystem::is_directory(path, ec),
           "study database {}: a folder, not a study database; move it aside (the study keeps its trials in this file)",
           path.string());
  const int rc = sqlite3_open_v2(path.string().c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    NS_FAIL("study database {}: cannot be opened: {} (check the folder exists and is writable)",
            path.string(), message);
  }
  try {
    check(sqlite3_extended_result_codes(db_, 1), db_, path_, "enabling extended result codes");
    check(sqlite3_busy_timeout(db_, 10000), db_, path_, "setting the busy timeout");
    execute("PRAGMA foreign_keys = ON");
    in_transaction([&] {
      Statement version(db_, path_, "PRAGMA user_version");
      version.step();
      const std::int64_t found = version.integer(0);
      if (found == kSchemaVersion) return;
      Statement tables(db_, path_, "SELECT count(*) FROM sqlite_master");
      tables.step();
      if (found >= 1 && found < kSchemaVersion) {
        // An older normscale's database: brought up to date in this one transaction, every row kept.
        for (std::int64_t from = found; from < kSchemaVersion; ++from) {
          execute(kMigrations[from - 1]);
          if (from == 2) execute(kSchedulerTable);
        }
        execute(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
        return;
      }
      NS_CHECK(found == 0 && tables.integer(0) == 0,
               "study database {}: schema version {}, but this normscale reads version {} (a "
               "database written by another normscale version, or not a study database); run the "
               "study into a new database or use the matching normscale",
               path_.string(), found, kSchemaVersion);
      execute(kSchema);
      execute(kSchedulerTable);
      execute(kHalvingScheduleTable);
      execute(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
    });
  } catch (const Error& error) {
    const int code = sqlite3_errcode(db_) & 0xff;
    sqlite3_close(db_);
    db_ = nullptr;
    if (code != SQLITE_NOTADB && code != SQLITE_CORRUPT) throw;
    NS_FAIL(
        "{}; hint: the file is not a normscale study database, or it is damaged; it was left as it is: move it "
        "aside to start the study's database afresh (a trial whose run directory holds its finished run is then "
        "recorded from it, not trained again)",
        error.what());
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

TrialStore::TrialStore(TrialStore&& other) noexcept
    : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

TrialStore& TrialStore::operator=(TrialStore&& other) noexcept {
  if (this != &other) {
    sqlite3_close(db_);
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

TrialStore::~TrialStore() { sqlite3_close(db_); }

void TrialStore::execute(std::string_view sql) const {
  NS_CHECK(db_ != nullptr, "study database {}: used after being moved from", path_.string());
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    NS_FAIL("study database {}: '{}' failed: {}", path_.string(), sql.substr(0, 60), text);
  }
}

template <class Body>
void TrialStore::in_transaction(Body&& body) {
  execute("BEGIN IMMEDIATE");
  try {
    body();
    execute("COMMIT");
  } catch (...) {
    // The original error is the one worth reporting; a failed rollback leaves SQLite to undo it.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::size_t TrialStore::upsert_trials(std::span<const Trial> trials) {
  std::size_t inserted = 0;
  in_transaction([&] {
    Statement next(db_, path_, "SELECT coalesce(max(seq), 0) FROM trials");
    next.step();
    std::int64_t seq = next.integer(0);
    Statement upsert(db_, path_,
                     "INSERT INTO trials (id, seq, study, regime, batch, ranks, seed, grid, config, "
                     "warmup_epochs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                     "ON CONFLICT (id) DO UPDATE SET study = excluded.study, regime = excluded.regime, "
                     "grid = excluded.grid");
    for (const Trial& trial : trials) {
      NS_CHECK(!trial.id.empty(), "study database {}: a trial without an id ({}); expand() sets it",
               path_.string(), describe_trial(trial));
      upsert.bind(1, trial.id)
          .bind(2, seq + 1)
          .bind(3, trial.study)
          .bind(4, trial.regime)
          .bind(5, trial.batch)
          .bind(6, trial.ranks)
          .bind(7, static_cast<std::int64_t>(trial.seed))
          .bind(8, grid_point_json(trial))
          .bind(9, to_toml(trial.config))
          .bind(10, trial.warmup_epochs);
      upsert.step();
      upsert.reset();
      // An update of an existing row changes one row too; only a new row moves the sequence on.
      Statement probe(db_, path_, "SELECT seq FROM trials WHERE id = ?1");
      probe.bind(1, trial.id);
      probe.step();
      if (probe.integer(0) == seq + 1) {
        ++seq;
        ++inserted;
      }
    }
  });
  return inserted;
}

void TrialStore::set_state(std::string_view id, TrialState state,
                           const std::optional<TrialOutcome>& outcome) {
  in_transaction([&] {
    std::string sql;
    switch (state) {
      case TrialState::kPending:
        sql = "UPDATE trials SET state = 'pending', started = '', finished = '', exit_code = NULL, "
              "log_tail = '', wall_seconds = NULL, heartbeat = '' WHERE id = ?1";
        break;
      case TrialState::kRunning:
        // The process of an earlier start is not this one's.
        sql = "UPDATE trials SET state = 'running', finished = '', host = '', boot_id = '', pid = NULL, "
              "pid_start = NULL, job = '', started = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), "
              "heartbeat = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1";
        break;
      case TrialState::kDone:
      case TrialState::kFailed:
        sql = fmt::format("UPDATE trials SET state = '{}', finished = strftime('%Y-%m-%dT%H:%M:%SZ', "
                          "'now'){} WHERE id = ?1",
                          trial_state_name(state),
                          outcome ? ", exit_code = ?2, log_tail = ?3, wall_seconds = ?4" : "");
        break;
    }
    Statement update(db_, path_, sql);
    update.bind(1, id);
    if (outcome && (state == TrialState::kDone || state == TrialState::kFailed)) {
      update.bind(2, static_cast<std::int64_t>(outcome->exit_code))
          .bind(3, outcome->log_tail)
          .bind(4, outcome->wall_seconds);
    }
    update.step();
    NS_CHECK(sqlite3_changes(db_) == 1, "study database {}: no trial with id '{}'", path_.string(), id);
  });
}

void TrialStore::set_process(std::string_view id, const TrialProcess& process) {
  in_transaction([&] {
    Statement update(db_, path_,
                     "UPDATE trials SET host = ?2, boot_id = ?3, pid = ?4, pid_start = ?5, job = ?6 WHERE id = ?1");
    update.bind(1, id).bind(2, process.host).bind(3, process.boot_id);
    if (process.pid > 0) {
      update.bind(4, process.pid).bind(5, process.start_ticks);
    } else {
      update.bind_null(4).bind_null(5);
    }
    update.bind(6, process.job);
    update.step();
    NS_CHECK(sqlite3_changes(db_) == 1, "study database {}: no trial with id '{}'", path_.string(), id);
  });
}

void TrialStore::record_result(std::string_view id, std::string_view key, double value) {
  in_transaction([&] {
    Statement insert(db_, path_,
                     "INSERT INTO results (trial_id, key, value) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (trial_id, key) DO UPDATE SET value = excluded.value");
    insert.bind(1, id).bind(2, key).bind(3, value);
    insert.step();
  });
}

void TrialStore::promote(std::string_view id, std::int64_t rung) {
  in_transaction([&] {
    Statement update(db_, path_,
                     "UPDATE trials SET state = 'pending', rung = ?2, stopped_early = 0, started = '', "
                     "finished = '', exit_code = NULL, log_tail = '', earlier_seconds = IFNULL(wall_seconds, 0), "
                     "wall_seconds = NULL, heartbeat = '' "
                     "WHERE id = ?1 AND state = 'done'");
    update.bind(1, id).bind(2, rung);
    update.step();
    NS_CHECK(sqlite3_changes(db_) == 1, "study database {}: no done trial with id '{}' to promote", path_.string(),
             id);
  });
}

void TrialStore::stop_early(std::string_view id) {
  in_transaction([&] {
    Statement update(db_, path_, "UPDATE trials SET stopped_early = 1 WHERE id = ?1 AND state = 'done'");
    update.bind(1, id);
    update.step();
    NS_CHECK(sqlite3_changes(db_) == 1, "study database {}: no done trial with id '{}' to stop early",
             path_.string(), id);
  });
}

void TrialStore::add_metrics(std::string_view id, std::span<const MetricRow> rows) {
  in_transaction([&] {
    Statement insert(db_, path_, "INSERT INTO metrics (trial_id, step, epoch, json) VALUES (?1, ?2, ?3, ?4)");
    for (const MetricRow& row : rows) {
      insert.bind(1, id).bind(2, row.step).bind(3, row.epoch).bind(4, row.json);
      insert.step();
      insert.reset();
    }
  });
}

void TrialStore::finish_trial(std::string_view id, TrialState state, const TrialOutcome& outcome,
                              std::span<const std::pair<std::string, double>> results,
                              std::span<const MetricRow> rows) {
  NS_CHECK(state == TrialState::kDone || state == TrialState::kFailed,
           "study database {}: finish_trial('{}') takes done or failed, not {}", path_.string(), id,
           trial_state_name(state));
  in_transaction([&] {
    Statement update(db_, path_,
                     fmt::format("UPDATE trials SET state = ?2, finished = COALESCE(NULLIF(?6, ''), {}), "
                                 "exit_code = ?3, log_tail = ?4, wall_seconds = ?5 WHERE id = ?1",
                                 kNow));
    update.bind(1, id)
        .bind(2, trial_state_name(state))
        .bind(3, static_cast<std::int64_t>(outcome.exit_code))
        .bind(4, outcome.log_tail)
        .bind(5, outcome.wall_seconds)
        .bind(6, outcome.finished);
    update.step();
    NS_CHECK(sqlite3_changes(db_) == 1, "study database {}: no trial with id '{}'", path_.string(), id);
    Statement clear_results(db_, path_, "DELETE FROM results WHERE trial_id = ?1");
    clear_results.bind(1, id);
    clear_results.step();
    Statement clear_metrics(db_, path_, "DELETE FROM metrics WHERE trial_id = ?1");
    clear_metrics.bind(1, id);
    clear_metrics.step();
    Statement insert_result(db_, path_, "INSERT INTO results (trial_id, key, value) VALUES (?1, ?2, ?3)");
    for (const auto& [key, value] : results) {
      insert_result.bind(1, id).bind(2, key).bind(3, value);
      insert_result.step();
      insert_result.reset();
    }
    Statement insert_metric(db_, path_,
                            "INSERT INTO metrics (trial_id, step, epoch, json) VALUES (?1, ?2, ?3, ?4)");
    for (const MetricRow& row : rows) {
      insert_metric.bind(1, id).bind(2, row.step).bind(3, row.epoch).bind(4, row.json);
      insert_metric.step();
      insert_metric.reset();
    }
  });
}

std::vector<TrialRecord> TrialStore::trials(std::optional<TrialState> state) const {
  Statement select(db_, path_,
                   fmt::format("SELECT {} FROM trials{} ORDER BY seq", kTrialColumns,
                               state ? " WHERE state = ?1" : ""));
  if (state) select.bind(1, trial_state_name(*state));
  std::vector<TrialRecord> records;
  while (select.step()) records.push_back(read_record(select, path_));
  return records;
}

std::optional<TrialRecord> TrialStore::trial(std::string_view id) const {
  Statement select(db_, path_, fmt::format("SELECT {} FROM trials WHERE id = ?1", kTrialColumns));
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  return read_record(select, path_);
}

std::map<std::string, double> TrialStore::results(std::string_view id) const {
  Statement select(db_, path_, "SELECT key, value FROM results WHERE trial_id = ?1");
  select.bind(1, id);
  std::map<std::string, double> values;
  while (select.step()) values.emplace(select.text(0), select.real(1));
  return values;
}

std::vector<MetricRow> TrialStore::metrics(std::string_view id) const {
  Statement select(db_, path_,
                   "SELECT step, epoch, json FROM metrics WHERE trial_id = ?1 ORDER BY step, rowid");
  select.bind(1, id);
  std::vector<MetricRow> rows;
  while (select.step()) rows.push_back({select.integer(0), select.real(1), select.text(2)});
  return rows;
}

void TrialStore::set_heartbeat(std::string_view id) {
  in_transaction([&] {
    Statement update(db_, path_, fmt::format("UPDATE trials SET heartbeat = {} WHERE id = ?1", kNow));
    update.bind(1, id).step();
    NS_CHECK(sqlite3_changes(db_) == 1, "study database {}: no trial with id '{}'", path_.string(), id);
  });
}

namespace {

constexpr std::string_view kSchedulerColumns =
    "host, pid, started, (julianday('now') - julianday(heartbeat)) * 86400, stale_seconds";

SchedulerRecord read_scheduler(const Statement& row) {
  return {row.text(0), row.integer(1), row.text(2), row.real(3), row.real(4)};
}

}  // namespace

std::optional<SchedulerRecord> TrialStore::claim_scheduler(std::string_view host, std::int64_t pid,
                                                           double stale_seconds) {
  std::optional<SchedulerRecord> other;
  in_transaction([&] {
    Statement select(db_, path_, fmt::format("SELECT {} FROM scheduler", kSchedulerColumns));
    if (select.step()) {
      SchedulerRecord found = read_scheduler(select);
      // On this host the caller holds the flock, so a row of this host is a dead scheduler's.
      if (found.host != host && found.seconds_since_seen < found.stale_seconds) {
        other = std::move(found);
        return;
      }
    }
    Statement claim(db_, path_,
                    fmt::format("INSERT OR REPLACE INTO scheduler (id, host, pid, started, heartbeat, stale_seconds) "
                                "VALUES (1, ?1, ?2, {0}, {0}, ?3)",
                                kNow));
    claim.bind(1, host).bind(2, pid).bind(3, stale_seconds).step();
  });
  return other;
}

void TrialStore::refresh_scheduler(std::string_view host, std::int64_t pid) {
  in_transaction([&] {
    Statement update(db_, path_,
                     fmt::format("UPDATE scheduler SET heartbeat = {} WHERE host = ?1 AND pid = ?2", kNow));
    update.bind(1, host).bind(2, pid).step();
    NS_CHECK(sqlite3_changes(db_) == 1,
             "study database {}: this scheduler (host {}, pid {}) no longer holds the study: another took it over "
             "(it had not been seen for too long); stopping so as not to run trials twice",
             path_.string(), host, pid);
  });
}

void TrialStore::release_scheduler(std::string_view host, std::int64_t pid) {
  in_transaction([&] {
    Statement remove(db_, path_, "DELETE FROM scheduler WHERE host = ?1 AND pid = ?2");
    remove.bind(1, host).bind(2, pid).step();
  });
}

std::optional<SchedulerRecord> TrialStore::scheduler() const {
  Statement select(db_, path_, fmt::format("SELECT {} FROM scheduler", kSchedulerColumns));
  if (!select.step()) return std::nullopt;
  return read_scheduler(select);
}

namespace {

RungSchedule read_rung_schedule(const Statement& row, const std::filesystem::path& path) {
  RungSchedule schedule;
  schedule.unit = row.text(1);
  const auto rungs = nlohmann::json::parse(row.text(0), nullptr, false);
  NS_CHECK(rungs.is_array() && std::all_of(rungs.begin(), rungs.end(), [](const auto& r) { return r.is_number_integer(); }),
           "study database {}: halving_schedule.rungs is '{}', expected a JSON array of integers", path.string(),
           row.text(0));
  for (const auto& rung : rungs) schedule.rungs.push_back(rung.get<std::int64_t>());
  return schedule;
}

}  // namespace

std::optional<RungSchedule> TrialStore::rung_schedule() const {
  Statement select(db_, path_, "SELECT rungs, unit FROM halving_schedule WHERE id = 1");
  if (!select.step()) return std::nullopt;
  return read_rung_schedule(select, path_);
}

RungSchedule TrialStore::adopt_rung_schedule(const RungSchedule& schedule) {
  RungSchedule recorded = schedule;
  in_transaction([&] {
    Statement select(db_, path_, "SELECT rungs, unit FROM halving_schedule WHERE id = 1");
    if (select.step()) {
      recorded = read_rung_schedule(select, path_);
      if (!recorded.rungs.empty() || schedule.rungs.empty()) return;
      recorded = schedule;  // a plain study's empty schedule, none of whose trials ran (check_rung_schedule)
    }
    Statement insert(db_, path_, "INSERT OR REPLACE INTO halving_schedule (id, rungs, unit) VALUES (1, ?1, ?2)");
    insert.bind(1, fmt::format("[{}]", fmt::join(schedule.rungs, ","))).bind(2, schedule.unit).step();
  });
  return recorded;
}

}  // namespace normscale
