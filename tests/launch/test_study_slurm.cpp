// `normscale study run --backend slurm` against a real single-node SLURM started on this machine
// (launch/slurm/local_cluster.sh): two trials as one job array, results collected into the database,
// a hostile study name kept out of every shell; a job warned of its end (SIGUSR2, as before a time limit
// or a preemption) checkpoints, is requeued and finishes with the uninterrupted trial's result, also when the
// warning is SLURM's own at a real time limit; a trial
// whose job vanished (scancel) or hangs without progress is failed, never left running; successive halving
// submits each promoted trial again, ends as on the local backend and continues after the scheduler is killed;
// a job whose id a killed scheduler never recorded is found by its script, not submitted a second time, also when
// the scheduler was killed while its sbatch still ran.
// Skipped, visibly, without slurmctld / munged or root.
#include "normscale/study/child_process.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/slurm_backend.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/blobs.hpp"
#include "support/read_file.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kRepository = fs::path(NORMSCALE_TEST_DATA_DIR).parent_path().parent_path();

// The value of `export NAME=value` in the cluster script's output ("" when absent).
std::string exported(const std::string& output, const std::string& name) {
  const std::string key = "export " + name + "=";
  const auto at = output.find(key);
  if (at == std::string::npos) return {};
  const auto begin = at + key.size();
  return output.substr(begin, output.find_first_of(";\n", begin) - begin);
}

class StudySlurm : public testing::TempDirTest {
 protected:
  StudySlurm() : TempDirTest("normscale_study_slurm_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    for (const char* program : {"slurmctld", "slurmd", "munged", "sbatch", "squeue"}) {
      if (testing::run_shell(std::string("PATH=$PATH:/usr/sbin command -v ") + program).exit_code != 0) {
        GTEST_SKIP() << "SLURM test skipped: " << program << " is not installed (launch/setup.sh installs "
                     << "slurm-wlm and munge)";
      }
    }
    if (geteuid() != 0) GTEST_SKIP() << "SLURM test skipped: the local cluster needs root";
    const auto started = testing::run_shell(shell_quote((kRepository / "launch/slurm/local_cluster.sh").string()) + " start");
    ASSERT_EQ(started.exit_code, 0) << started.output;
    cluster_dir_ = exported(started.output, "NORMSCALE_SLURM_DIR");
    const std::string conf = exported(started.output, "SLURM_CONF");
    ASSERT_FALSE(conf.empty()) << started.output;
    setenv("SLURM_CONF", conf.c_str(), 1);
  }

  void TearDown() override {
    if (!cluster_dir_.empty()) {
      testing::run_shell(shell_quote((kRepository / "launch/slurm/local_cluster.sh").string()) + " stop " +
                         shell_quote(cluster_dir_));
      // The cluster's folder holds slurmctld's and slurmd's logs: kept where the test failed, else removed.
      std::error_code ignored;
      if (HasFailure()) std::cerr << "SLURM's logs are kept in " << cluster_dir_ << "\n";
      else fs::remove_all(cluster_dir_, ignored);
    }
    TempDirTest::TearDown();
  }

  std::string cluster_dir_;
};

TEST_F(StudySlurm, TinyStudyRunsAsAJobArrayAndIsCollected) {
  const fs::path marker = dir_ / "pwned";
  const std::string hostile = "s'; touch " + marker.string() + "; $(touch " + marker.string() + ") `touch " +
                              marker.string() + "`";
  const fs::path file = dir_ / "tiny.toml";
  std::ofstream(file) << "name = \"" << hostile << "\"\nsteps = 20\n[base]\n\"data.source\" = \"separable-2d\"\n"
                      << "\"data.synthetic_examples\" = 100\n\"model.hidden\" = [4]\n\"objective.task\" = \"binary\"\n"
                      << "\"optim.batch\" = 20\n\"objective.s\" = 0.1\n\"objective.rho\" = 1\nvirtual_shards = 4\n"
                      << "eval_every = 5\ngallery = 0\n[grid]\n\"optim.lr\" = [0.01, 0.02]\n";
  const auto run = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("submitted job array"));
  EXPECT_FALSE(fs::exists(marker));

  const TrialStore store(dir_ / "tiny.db");
  const std::vector<TrialRecord> trials = store.trials();
  ASSERT_EQ(trials.size(), 2U);
  for (const TrialRecord& trial : trials) {
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    EXPECT_EQ(trial.exit_code, 0);
    EXPECT_EQ(store.metrics(trial.id).size(), 5U);  // steps 0, 5, 10, 15, 20
    bool has_steps = false;
    for (const auto& [key, value] : store.results(trial.id)) has_steps |= key == "steps" && value == 20.0;
    EXPECT_TRUE(has_steps);
    const fs::path dir = dir_ / "tiny.runs" / trial.id;
    EXPECT_TRUE(fs::exists(dir / "exit_code"));
    std::ifstream log(dir / "log.txt");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_THAT(text, HasSubstr("SLURM job"));
  }
  // The generated script is valid sh.
  for (const auto& entry : fs::directory_iterator(dir_ / "tiny.runs" / "slurm")) {
    EXPECT_EQ(testing::run_shell("sh -n " + shell_quote(entry.path().string())).exit_code, 0) << entry.path();
  }
}

// SLURM holds a requeued job for about two minutes. Once it is pending again its start is moved to now, but not
// within the second of the requeue: slurmd revokes the job's credential then, and a start in that second is killed
// as a "non-startable batch job: Job credential revoked" (the job ends FAILED; seen in a fresh-clone CI run).
testing::CommandResult start_requeued_job(const std::string& quoted_task) {
  return testing::run_shell("for i in $(seq 600); do [ \"$(squeue -h -j " + quoted_task +
                            " -o %T)\" = PENDING ] && break; sleep 0.1; done; sleep 2; scontrol update JobId=" +
                            quoted_task + " StartTime=now");
}

TEST_F(StudySlurm, AJobWarnedOfItsEndCheckpointsIsRequeuedAndFinishesAsIfUninterrupted) {
  const fs::path file = dir_ / "preempted.toml";
  // Evaluating every step keeps the trial slow enough (seconds) to be caught while it trains.
  std::ofstream(file) << "steps = 20000\n[base]\n\"data.source\" = \"separable-2d\"\n\"data.synthetic_examples\" = 400\n"
                      << "\"model.hidden\" = [16]\n\"objective.task\" = \"binary\"\n\"optim.batch\" = 20\n"
                      << "\"objective.s\" = 0.1\n\"objective.rho\" = 1\n\"optim.lr\" = 0.01\nvirtual_shards = 4\n"
                      << "eval_every = 1\ncheckpoint_every = 100\ngallery = 0\n";
  testing::CommandResult study;
  std::thread scheduler(
      [&] { study = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string())); });
  // The one trial's run directory, once it has a checkpoint: then SLURM's warning, as --signal=B:USR2 sends it.
  const fs::path runs = dir_ / "preempted.runs";
  fs::path trial_dir;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(runs, error)) {
      if (!fs::is_empty(entry.path() / "checkpoints", error) && !error) trial_dir = entry.path();
    }
    if (!trial_dir.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(trial_dir.empty()) << "no trial reached its first checkpoint";
  const std::string task = testing::read_file(trial_dir / "slurm_job");
  const std::string task_id = task.substr(0, task.find('\n'));
  const auto warned = testing::run_shell("scancel --batch --signal=USR2 " + shell_quote(task_id));
  const auto released = start_requeued_job(shell_quote(task_id));
  scheduler.join();
  ASSERT_EQ(warned.exit_code, 0) << warned.output;
  EXPECT_EQ(released.exit_code, 0) << released.output;
  const std::string log = testing::read_file(trial_dir / "log.txt");
  ASSERT_EQ(study.exit_code, 0) << study.output << log;

  EXPECT_THAT(log, HasSubstr("stopped by SIGUSR2 after step"));
  EXPECT_THAT(log, HasSubstr("requeueing job"));
  EXPECT_THAT(log, HasSubstr("resuming at step"));
  const TrialStore store(dir_ / "preempted.db");
  ASSERT_EQ(store.trials().size(), 1U);
  EXPECT_EQ(store.trials()[0].state, TrialState::kDone) << store.trials()[0].log_tail;

  // The same trial trained without interruption, here.
  const fs::path reference = dir_ / "uninterrupted";
  const auto plain = testing::run_normscale("train --config " + shell_quote((trial_dir / "config.toml").string()) +
                                            " --set resume=false --out " + shell_quote(reference.string()));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  for (const char* name : {"layer1_weight.npy", "layer2_weight.npy", "alpha.npy"}) {
    EXPECT_EQ(read_npy((trial_dir / name).string()).values, read_npy((reference / name).string()).values) << name;
  }
}

// The run directory of a trial under `runs` once its SLURM job has started and its task id is recorded (the job
// may start before the scheduler has written slurm_job); empty after 60 s without one.
fs::path started_trial(const fs::path& runs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(runs, error)) {
      if (testing::read_file(entry.path() / "log.txt").find("SLURM job") != std::string::npos &&
          testing::read_file(entry.path() / "slurm_job").find('_') != std::string::npos) {
        return entry.path();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {};
}

// One trial of a study, run on the local SLURM with `arguments`; returns the scheduler's result once it
// has ended, after `meanwhile` ran on the trial's run directory while it was running.
// dir/one.toml: a study of one trial of `steps` steps on 400 separable points (evaluated every `eval_every` steps,
// 0: once per epoch).
fs::path write_one_trial_study(const fs::path& dir, long steps = 100000, int eval_every = 0) {
  const fs::path file = dir / "one.toml";
  std::ofstream(file) << "steps = " << steps << "\n[base]\n\"data.source\" = \"separable-2d\"\n"
                      << "\"data.synthetic_examples\" = 400\n\"model.hidden\" = [16]\n\"objective.task\" = \"binary\"\n"
                      << "\"optim.batch\" = 20\nvirtual_shards = 4\neval_every = " << eval_every << "\ngallery = 0\n";
  return file;
}

template <class Meanwhile>
testing::CommandResult run_one_trial(const fs::path& dir, const std::string& arguments, Meanwhile&& meanwhile,
                                     long steps = 100000) {
  const fs::path file = write_one_trial_study(dir, steps, 1);
  testing::CommandResult study;
  std::thread scheduler([&] {
    study = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + arguments + " " +
                                   shell_quote(file.string()));
  });
  const fs::path trial_dir = started_trial(dir / "one.runs");
  if (!trial_dir.empty()) meanwhile(trial_dir);
  scheduler.join();
  return study;
}

// Waits up to `seconds` for `text` in the trial's log; true when it is there.
bool log_shows(const fs::path& trial_dir, const std::string& text, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (testing::read_file(trial_dir / "log.txt").find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// A real time limit: sbatch --time=1 --signal=B:USR2@55, so SLURM itself warns the job 5-35 s into its minute
// (its time-limit check runs every 30 s); the trainer checkpoints, the job requeues and resumes from that step.
// The trial would train for days, so the test cancels it once it has resumed; if SLURM never warned it, the
// time limit kills it (TIMEOUT) and the test fails.
TEST_F(StudySlurm, AJobReachingItsTimeLimitIsWarnedBySlurmCheckpointsAndResumes) {
  bool requeued = false, resumed = false;
  const testing::CommandResult study =
      run_one_trial(dir_, "--time 1 --signal-seconds 55", [&](const fs::path& trial_dir) {
        requeued = log_shows(trial_dir, "requeueing job", 120);
        const std::string task = testing::read_file(trial_dir / "slurm_job");
        const std::string quoted = shell_quote(task.substr(0, task.find('\n')));
        if (requeued) {
          start_requeued_job(quoted);
          resumed = log_shows(trial_dir, "resuming at step", 150);
        }
        testing::run_shell("scancel " + quoted);
      },
      1000000000L);  // never done by itself (100,000 steps once ended before SLURM's first time-limit check)
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "one.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  const std::string log = testing::read_file(dir_ / "one.runs" / trials[0].id / "log.txt");
  EXPECT_TRUE(requeued) << log;
  EXPECT_TRUE(resumed) << log;
  EXPECT_THAT(log, HasSubstr("stopped by SIGUSR2 after step"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("TIME LIMIT"))) << "SLURM killed the job before it checkpointed";
  EXPECT_EQ(study.exit_code, 1) << study.output;  // cancelled by the test after resuming
}

// scancel reaches the job script first (it dies: the scheduler sees the job leave the queue without an exit code
// and says so with SLURM's state) or, now and then on a loaded machine, srun first (srun: "job ... has expired",
// and the script records srun's exit code before its own SIGTERM; seen in a fresh-clone run; srun may also report
// the revoked credential in the first case): the trial fails either way, with one of the two stories in its log.
TEST_F(StudySlurm, ATrialWhoseJobVanishedIsFailedNotLeftRunning) {
  const testing::CommandResult study = run_one_trial(dir_, "", [](const fs::path& trial_dir) {
    const std::string task = testing::read_file(trial_dir / "slurm_job");
    testing::run_shell("scancel " + shell_quote(task.substr(0, task.find('\n'))));
  });
  EXPECT_EQ(study.exit_code, 1) << study.output;
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "one.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kFailed);
  EXPECT_NE(trials[0].exit_code, 0);
  const std::string& tail = trials[0].log_tail;
  if (tail.find("left the queue without writing") != std::string::npos) {
    EXPECT_THAT(tail, HasSubstr("(SLURM: CANCELLED)"));
  } else {
    EXPECT_THAT(tail, HasSubstr("srun: error")) << "neither the scheduler nor srun said why the trial ended";
  }
}

// A task waiting in SLURM's queue is not a running trial: `study status` shows it queued with SLURM's reason, and a
// hold (scontrol hold, as an administrator's) is said by the scheduler; released, it runs and the study ends done.
TEST_F(StudySlurm, ATaskHeldInTheQueueIsShownAsQueuedWithSlurmsReason) {
  // Three trials of 5-6 s (30,000 steps) on the node's two CPUs: the third waits for resources, and is held there.
  const fs::path file = dir_ / "held.toml";
  std::ofstream(file)
      << "name = \"held\"\nsteps = 30000\n[base]\n\"data.source\" = \"separable-2d\"\n"
      << "\"data.synthetic_examples\" = 400\n\"model.hidden\" = [16]\n\"objective.task\" = \"binary\"\n"
      << "\"optim.batch\" = 20\nvirtual_shards = 4\ngallery = 0\n[grid]\n\"optim.lr\" = [0.01, 0.02, 0.03]\n";
  testing::CommandResult study;
  std::thread scheduler([&] {
    study = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  });
  // The trial whose task the scheduler saw waiting for resources while the others run.
  fs::path waiting;
  for (int i = 0; i < 600 && waiting.empty(); ++i) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir_ / "held.runs", error)) {
      if (testing::read_file(entry.path() / kSlurmQueueFile).starts_with("PENDING (Resources)")) {
        waiting = entry.path();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto seen_waiting = std::chrono::steady_clock::now();
  std::string task;
  std::string status;
  if (!waiting.empty()) {
    task = testing::read_file(waiting / "slurm_job");
    task = task.substr(0, task.find('\n'));
    testing::run_shell("scontrol hold " + shell_quote(task));
    for (int i = 0; i < 300 && status.find("JobHeldAdmin") == std::string::npos; ++i) {
      status = testing::run_normscale("study status " + shell_quote(file.string())).output;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    testing::run_shell("scontrol release " + shell_quote(task));
  }
  scheduler.join();
  const double since_seen_waiting =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - seen_waiting).count();
  ASSERT_FALSE(waiting.empty()) << study.output;
  EXPECT_THAT(status, HasSubstr("queued  " + waiting.filename().string() + "  SLURM task " + task +
                                ": PENDING (JobHeldAdmin)"));
  EXPECT_THAT(status, HasSubstr("(1 of them waiting in SLURM's queue)"));
  EXPECT_EQ(study.exit_code, 0) << study.output;
  EXPECT_THAT(study.output, HasSubstr("trial " + waiting.filename().string() + " (SLURM task " + task +
                                      ") waits in the queue: PENDING (JobHeldAdmin)"));
  EXPECT_THAT(study.output, HasSubstr(" running (1 queued in SLURM), "));
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "held.db").trials();
  ASSERT_EQ(trials.size(), 3U);
  for (const TrialRecord& trial : trials) {
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    EXPECT_FALSE(fs::exists(dir_ / "held.runs" / trial.id / kSlurmQueueFile)) << "a wait left behind";
    // A trial's wall time is its job's own run, as the job script measured it, not its wait in the queue.
    const std::optional<double> run = slurm_run_seconds(dir_ / "held.runs" / trial.id);
    ASSERT_TRUE(run.has_value() && trial.wall_seconds.has_value()) << trial.id;
    EXPECT_DOUBLE_EQ(*trial.wall_seconds, *run) << trial.id;
    if (trial.id == waiting.filename().string()) {
      EXPECT_LT(*trial.wall_seconds + 0.3, since_seen_waiting) << "the held trial's wait was counted";
    }
  }
}

// A scheduler killed after sbatch but before it recorded the job id (imitated: killed once the job runs, its
// record of the task then erased) leaves the trial running with the job script it wrote ahead of sbatch; the
// next scheduler finds the job by that script and follows it instead of submitting the trial a second time.
TEST_F(StudySlurm, AJobWhoseIdWasNeverRecordedIsFoundByItsScriptNotSubmittedAgain) {
  // 30,000 steps: 5-6 s of training on this machine, long past the next scheduler's first look at the queue (the
  // default 100,000 made this the suite's longest test: 31 s alone, 74-100 s in CI).
  const fs::path file = write_one_trial_study(dir_, 30000);
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--backend", "slurm", "--poll-seconds", "0.5", file.string()};
  scheduler.output = dir_ / "scheduler1.txt";
  const pid_t pid = spawn_child(scheduler);
  const fs::path trial_dir = started_trial(dir_ / "one.runs");
  kill(pid, SIGKILL);
  wait_child(pid);
  ASSERT_FALSE(trial_dir.empty()) << testing::read_file(scheduler.output);
  const std::string task = testing::read_file(trial_dir / "slurm_job");
  {
    TrialStore store(dir_ / "one.db");
    store.set_process(trial_dir.filename().string(), TrialProcess{});
  }
  fs::remove(trial_dir / "slurm_job");
  const auto rerun = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  EXPECT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_THAT(rerun.output, HasSubstr("is SLURM task " + task.substr(0, task.find('\n')) + ", found by its job script"));
  EXPECT_THAT(rerun.output, ::testing::Not(HasSubstr("submitted job array")));
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "one.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kDone) << trials[0].log_tail;
  const std::string log = testing::read_file(trial_dir / "log.txt");
  EXPECT_EQ(log.find("SLURM job"), log.rfind("SLURM job")) << "the trial ran twice:\n" << log;
}

// A scheduler killed while its sbatch is still running (here an sbatch that takes 3 s, as with a slow slurmctld)
// leaves that sbatch to submit the job after it died; the next scheduler waits for it and follows its job instead
// of submitting the trial a second time (the duplicate would fail on the run directory's lock as the trial's result).
// Starts the study of `file` on SLURM with an sbatch that takes 3 s, and kills that scheduler while its sbatch
// runs (the sbatch goes on and submits the job).
void kill_scheduler_during_sbatch(const fs::path& dir, const fs::path& file) {
  const fs::path slow = dir / "slow-sbatch";
  fs::create_directories(slow);
  const std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin";
  std::ofstream(slow / "sbatch") << "#!/bin/sh\ntouch " << shell_quote((dir / "sbatch-started").string())
                                 << "\nsleep 3\nPATH=" << shell_quote(path) << " exec sbatch \"$@\"\n";
  fs::permissions(slow / "sbatch", fs::perms::owner_all);
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--backend", "slurm", "--poll-seconds", "0.5", file.string()};
  scheduler.environment = {{"PATH", slow.string() + ":" + path}};
  scheduler.output = dir / "scheduler1.txt";
  const pid_t pid = spawn_child(scheduler);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir / "sbatch-started") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  wait_child(pid);
  ASSERT_TRUE(fs::exists(dir / "sbatch-started")) << testing::read_file(scheduler.output);
}

// The study run after kill_scheduler_during_sbatch found the job the orphaned sbatch submitted, submitted
// nothing, and the trial ran once.
void expect_trial_found_and_run_once(const fs::path& dir, const testing::CommandResult& rerun) {
  EXPECT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_THAT(rerun.output, HasSubstr("found by its job script"));
  EXPECT_THAT(rerun.output, ::testing::Not(HasSubstr("submitted job array")));
  const std::vector<TrialRecord> trials = TrialStore(dir / "one.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kDone) << trials[0].log_tail;
  const std::string log = testing::read_file(dir / "one.runs" / trials[0].id / "log.txt");
  EXPECT_EQ(log.find("SLURM job"), log.rfind("SLURM job")) << "the trial ran twice:\n" << log;
}

TEST_F(StudySlurm, ASchedulerKilledDuringSbatchIsFollowedByOneThatWaitsForItsJob) {
  const fs::path file = write_one_trial_study(dir_, 1000);
  kill_scheduler_during_sbatch(dir_, file);
  const auto rerun = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  EXPECT_THAT(rerun.output, HasSubstr("waiting for sbatch"));
  expect_trial_found_and_run_once(dir_, rerun);
}

// As above, with the killed scheduler on another host (its submission says so): its sbatch cannot be seen from
// here, so the next scheduler looks for the job in squeue until an sbatch could no longer be running.
TEST_F(StudySlurm, ASchedulerKilledDuringSbatchOnAnotherHostIsFollowedByOneThatFindsItsJob) {
  const fs::path file = write_one_trial_study(dir_, 1000);
  kill_scheduler_during_sbatch(dir_, file);
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "one.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  const fs::path submission = dir_ / "one.runs" / trials[0].id / "slurm_submission";
  const std::string text = testing::read_file(submission);
  const auto host_line = text.rfind('\n', text.size() - 2);
  ASSERT_NE(host_line, std::string::npos) << text;
  std::ofstream(submission) << text.substr(0, host_line + 1) << "elsewhere.invalid\n";
  const auto rerun = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  EXPECT_THAT(rerun.output, HasSubstr("was submitted from elsewhere.invalid"));
  expect_trial_found_and_run_once(dir_, rerun);
}

// A trainer that hangs (here: one that never trains) leaves its run directory unchanged while SLURM lists
// the job as running: after --stall-seconds the scheduler cancels it and fails the trial.
TEST_F(StudySlurm, ATrialWithoutProgressIsCancelledAndFailed) {
  const fs::path hung = dir_ / "hung-trainer";
  std::ofstream(hung) << "#!/bin/sh\necho 'hung trainer started'\nexec sleep 600\n";
  fs::permissions(hung, fs::perms::owner_all);
  const testing::CommandResult study = run_one_trial(
      dir_, "--srun-mpi '' --stall-seconds 3 --trainer " + shell_quote(hung.string()), [](const fs::path&) {});
  EXPECT_EQ(study.exit_code, 1) << study.output;
  const std::vector<TrialRecord> trials = TrialStore(dir_ / "one.db").trials();
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].state, TrialState::kFailed);
  EXPECT_EQ(trials[0].exit_code, kStalledExitCode);
  EXPECT_THAT(trials[0].log_tail, HasSubstr("made no progress for"));
  EXPECT_EQ(testing::run_shell("squeue -h --me -t RUNNING,PENDING").output, "") << "the hung job was cancelled";
}

// A halving study of learning rates 1e-5, 0.1 and 1e6 on two blobs (test_study_halving.cpp's fixture).
fs::path write_halving_study(const fs::path& dir, const std::string& name) {
  testing::write_blobs(dir / "data");
  const fs::path file = dir / (name + ".toml");
  std::ofstream(file) << "steps = 45\n[base]\n\"data.source\" = \"npy\"\n\"data.path\" = '" << (dir / "data").string()
                      << "'\n\"data.validation\" = 100\n\"data.preprocess\" = \"none\"\n\"model.hidden\" = [8]\n"
                      << "\"objective.regime\" = \"sgd\"\n\"optim.batch\" = 20\nvirtual_shards = 4\neval_every = 5\n"
                      << "checkpoint_every = 10\ngallery = 0\n[grid]\n\"optim.lr\" = [1e-5, 0.1, 1e6]\n"
                      << "[halving]\nrungs = [5, 15, 45]\n";
  return file;
}

// 0.1 trained the full budget, bit-equal to an uninterrupted run; 1e-5 stopped early; 1e6 diverged at rung 0.
void expect_halving_result(const fs::path& dir, const fs::path& file, const std::string& name) {
  const std::vector<Trial> trials = expand(read_study_file(file));
  ASSERT_EQ(trials.size(), 3U);
  const TrialStore store(dir / (name + ".db"));
  const TrialRecord slow = *store.trial(trials[0].id);
  const TrialRecord best = *store.trial(trials[1].id);
  const TrialRecord diverged = *store.trial(trials[2].id);
  EXPECT_EQ(best.state, TrialState::kDone) << best.log_tail;
  EXPECT_EQ(best.rung, 2);
  EXPECT_EQ(slow.state, TrialState::kDone) << slow.log_tail;
  EXPECT_EQ(slow.rung, 0);
  EXPECT_TRUE(slow.stopped_early);
  EXPECT_EQ(diverged.state, TrialState::kFailed);
  EXPECT_EQ(diverged.rung, 0);
  for (const auto& [key, value] : store.results(best.id)) {
    if (key == "steps") {
      EXPECT_EQ(value, 45.0);
    }
  }
  const fs::path best_dir = dir / (name + ".runs") / best.id;
  const fs::path reference = dir / (name + "-uninterrupted");
  const auto plain = testing::run_normscale("train --config " + shell_quote((best_dir / "config.toml").string()) +
                                            " --set resume=false --out " + shell_quote(reference.string()));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  for (const char* file_name : {"layer1_weight.npy", "layer2_weight.npy"}) {
    EXPECT_EQ(read_npy((best_dir / file_name).string()).values, read_npy((reference / file_name).string()).values)
        << file_name;
  }
}

// Halving as on the local backend: each promotion a job array of its own.
TEST_F(StudySlurm, HalvingSubmitsThePromotedTrialsAgainAndStopsTheRest) {
  const fs::path file = write_halving_study(dir_, "halving");
  const auto run = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;  // the diverged trial failed
  EXPECT_THAT(run.output, HasSubstr("promoted to rung 2"));
  expect_halving_result(dir_, file, "halving");
}

// The scheduler killed once a trial was promoted and before it finished the last rung (its job may run on, be
// done, or not be submitted yet): run again, it continues the same halving.
TEST_F(StudySlurm, HalvingContinuesAfterTheSchedulerWasKilled) {
  const fs::path file = write_halving_study(dir_, "killed");
  ChildSpec scheduler;
  scheduler.argv = {NORMSCALE_BINARY, "study", "run", "--backend", "slurm", "--poll-seconds", "0.5", file.string()};
  scheduler.output = dir_ / "scheduler1.txt";
  const pid_t pid = spawn_child(scheduler);
  bool promoted = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!promoted && std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(dir_ / "killed.db")) {
      const TrialStore store(dir_ / "killed.db");
      for (const TrialRecord& trial : store.trials()) promoted |= trial.rung >= 1 && trial.state != TrialState::kDone;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  wait_child(pid);
  ASSERT_TRUE(promoted) << testing::read_file(scheduler.output);
  const auto rerun = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " +
                                            shell_quote(file.string()));
  EXPECT_EQ(rerun.exit_code, 1) << rerun.output << testing::read_file(scheduler.output);
  expect_halving_result(dir_, file, "killed");
}

}  // namespace
}  // namespace normscale
