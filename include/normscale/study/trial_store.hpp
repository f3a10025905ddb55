// The study database (SQLite): trials, their state and outcome, per-epoch metrics and final results.
#pragma once

#include "normscale/study/study_file.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct sqlite3;

namespace normscale {

enum class TrialState { kPending, kRunning, kDone, kFailed };
std::string_view trial_state_name(TrialState state);  // "pending", "running", "done", "failed"

// How a finished trial ended (recorded with set_state(..., kDone / kFailed, outcome)).
struct TrialOutcome {
  int exit_code = 0;
  std::string log_tail;
  double wall_seconds = 0.0;
  std::string finished = {};  // when it ended (UTC, "%Y-%m-%dT%H:%M:%SZ"); empty: now
};

// Where a running trial's process is, so a restarted scheduler can find it again: the local backend's
// mpirun (host, boot, pid and its start time in clock ticks after boot, /proc/<pid>/stat field 22, so a
// reused pid is not mistaken for it), or the SLURM backend's array task ("<job id>_<index>").
struct TrialProcess {
  std::string host;
  std::string boot_id;             // /proc/sys/kernel/random/boot_id: pids and start times are per boot
  std::int64_t pid = 0;            // 0: none (SLURM)
  std::int64_t start_ticks = 0;
  std::string job;                 // "": none (local)
};

// One row of the trials table.
struct TrialRecord {
  std::string id;
  std::string study;
  std::string regime;
  std::int64_t batch = 0;          // kFullBatch for "full"
  std::int64_t ranks = 1;
  std::uint64_t seed = 1;
  std::string grid_json;           // grid_point_json(trial)
  std::string config_toml;         // to_toml(trial.config)
  double warmup_epochs = 0.0;
  TrialState state = TrialState::kPending;
  std::optional<int> exit_code;
  std::string log_tail;
  std::optional<double> wall_seconds;
  std::string started;             // UTC ISO 8601, "" until running
  std::string finished;            // UTC ISO 8601, "" until done / failed
  std::optional<TrialProcess> process;  // recorded by the backend that started it (cleared by running)
  // UTC ISO 8601 of the last progress the scheduler saw (its start, then its run directory growing); "" when
  // not running. seconds_since_heartbeat: how long ago, by the database's clock.
  std::string heartbeat;
  std::optional<double> seconds_since_heartbeat;
  // Successive halving: the rung the trial was last given (0 at first; without halving always 0), and whether
  // it finished there and will not be promoted (it stopped early).
  std::int64_t rung = 0;
  bool stopped_early = false;
  // A promoted trial's wall time at its earlier rungs (0 at rung 0): its end records this plus its last run.
  double earlier_seconds = 0.0;
};

// A done trial whose figures are a lower rung's budget (halving stopped it there, or has not yet run it on), never
// compared with the full budget's: the report and `study status` select among the others. `last_rung`: the index of
// the study's last rung (0 without halving).
bool short_of_budget(const TrialRecord& record, std::size_t last_rung);

// The scheduler that holds a study, as it recorded itself: a scheduler on another host (where the flock
// of the scheduler lock may not reach, e.g. a file system without flock) sees the study is taken.
struct SchedulerRecord {
  std::string host;
  std::int64_t pid = 0;
  std::string started;             // UTC ISO 8601
  double seconds_since_seen = 0.0; // since its last heartbeat
  double stale_seconds = 0.0;      // it declared itself gone when unseen this long
};

struct MetricRow {
  std::int64_t step = 0;
  double epoch = 0.0;
  std::string json;                // one metrics record (a JSON object)
};

// The rung schedule of a halving study as its database records it (the one it first ran with): a trial's rung
// is an index into `rungs`, so the schedule must not change under recorded rungs.
struct RungSchedule {
  std::vector<std::int64_t> rungs;
  std::string unit;                // "steps" or "epochs"
  bool operator==(const RungSchedule&) const = default;
};

// Owns one connection. Opening creates the schema in a new database, migrates one written by an older
// version (every row kept; version 1 lacked the process columns, version 2 the heartbeats, version 3 the
// halving rung, version 4 the earlier rungs' wall time, version 5 the rung schedule) and refuses one written by a newer.
// Every write is one transaction (BEGIN IMMEDIATE ... COMMIT), rolled back when anything in it fails; every failure throws normscale::Error naming the file and SQLite's message.
class TrialStore {
 public:
  static constexpr int kSchemaVersion = 6;

  explicit TrialStore(const std::filesystem::path& path);
  TrialStore(TrialStore&& other) noexcept;
  TrialStore& operator=(TrialStore&& other) noexcept;
  TrialStore(const TrialStore&) = delete;
  TrialStore& operator=(const TrialStore&) = delete;
  ~TrialStore();

  const std::filesystem::path& path() const { return path_; }

  // Inserts new trials as pending; a trial already stored keeps its state and outcome (its study,
  // regime and grid are refreshed), so expanding a study again duplicates nothing and resets nothing.
  // Returns the number of trials that were new.
  std::size_t upsert_trials(std::span<const Trial> trials);
  // running records the start time (and forgets an earlier process); done / failed record the finish
  // time and the outcome (if given); pending clears both. An unknown id is an error.
  void set_state(std::string_view id, TrialState state,
                 const std::optional<TrialOutcome>& outcome = std::nullopt);
  // Records the process a backend started for a running trial.
  void set_process(std::string_view id, const TrialProcess& process);
  // The trial made progress now (its heartbeat).
  void set_heartbeat(std::string_view id);
  // Takes the study for the scheduler (host, pid), which declares itself gone when unseen for
  // `stale_seconds` — unless a scheduler on another host holds it and was seen within its own stale_seconds:
  // then that one is returned and nothing changes.
  std::optional<SchedulerRecord> claim_scheduler(std::string_view host, std::int64_t pid, double stale_seconds);
  // The holder's heartbeat; throws if (host, pid) no longer holds the study (another took it over).
  void refresh_scheduler(std::string_view host, std::int64_t pid);
  // Gives the study up (nothing when (host, pid) does not hold it).
  void release_scheduler(std::string_view host, std::int64_t pid);
  std::optional<SchedulerRecord> scheduler() const;
  // Sets (or replaces) one final figure of a trial.
  void record_result(std::string_view id, std::string_view key, double value);
  void add_metrics(std::string_view id, std::span<const MetricRow> rows);
  // Successive halving: a done trial goes on to `rung`, pending again in the same transaction (its results and
  // metrics stay until its next end replaces them), so a scheduler killed part-way never loses the promotion;
  // its wall time so far becomes earlier_seconds.
  void promote(std::string_view id, std::int64_t rung);
  // Marks a done trial as stopped early at its rung (it stays done).
  void stop_early(std::string_view id);
  // Records how a trial ended in one transaction: its state and outcome, its final figures and its
  // metrics, replacing any it had. A scheduler killed part-way leaves the trial unfinished, never half
  // recorded, and a trial finished twice (a rerun after a crash) never duplicates metric rows.
  void finish_trial(std::string_view id, TrialState state, const TrialOutcome& outcome,
                    std::span<const std::pair<std::string, double>> results,
                    std::span<const MetricRow> rows);

  // The recorded rung schedule (none before the study first ran, or in a database from before version 6; an empty
  // one: the study ran without halving).
  std::optional<RungSchedule> rung_schedule() const;
  // Records `schedule` unless one is recorded already (an empty one is replaced by a non-empty one); returns the
  // recorded one (compare it with yours).
  RungSchedule adopt_rung_schedule(const RungSchedule& schedule);

  // Trials in insertion order, all or those in one state.
  std::vector<TrialRecord> trials(std::optional<TrialState> state = std::nullopt) const;
  std::optional<TrialRecord> trial(std::string_view id) const;
  std::map<std::string, double> results(std::string_view id) const;
  std::vector<MetricRow> metrics(std::string_view id) const;                        // by step

 private:
  void execute(std::string_view sql) const;
  template <class Body>
  void in_transaction(Body&& body);

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

}  // namespace normscale
