// The scheduler's pure parts: sh quoting, trial argument vectors, core packing, the SLURM job script
// (checked by sh -n and run under a fake srun), squeue / sacct parsing and the progress line.
#include "normscale/comm/mpi_launcher.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/holder_lock.hpp"
#include "normscale/study/child_process.hpp"
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/slurm_backend.hpp"
#include "normscale/study/slurm_script.hpp"
#include "normscale/study/study_progress.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/study/trial_command.hpp"
#include "normscale/study/trial_lifecycle.hpp"
#include "normscale/study/trial_packing.hpp"
#include "normscale/train/run_directory_lock.hpp"
#include "support/read_file.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> kHostile = {
    "plain",
    "",
    "it's",
    "'; touch MARKER; '",
    "$(touch MARKER)",
    "`touch MARKER`",
    "a\nb; touch MARKER",
    "\"double $HOME\"",
    "back\\slash\\",
    "-n",
    "x'\"'\"'y",
    "*",
};

// `text` with every "MARKER" replaced by `path`.
std::string with_marker(std::string text, const fs::path& path) {
  const std::string to = path.string();
  for (std::size_t at = text.find("MARKER"); at != std::string::npos; at = text.find("MARKER", at + to.size())) {
    text.replace(at, 6, to);
  }
  return text;
}

using testing::read_file;

class StudySchedulingFiles : public testing::TempDirTest {
 protected:
  StudySchedulingFiles() : TempDirTest("normscale_scheduling_") {}
};

// A file system without flock (Lustre without -o flock) fails every lock: the error says so and where to go instead
// (it said only "flock failed: Function not implemented", and a trial's child "the lock is held by another process").
TEST(StudyScheduling, AFileSystemWithoutLocksIsNamedAsSuch) {
  for (const int error : {ENOSYS, EOPNOTSUPP, ENOLCK}) {
    EXPECT_THAT(flock_failure("/lustre/study.runs/scheduler.lock", error),
                AllOf(HasSubstr("lock file /lustre/study.runs/scheduler.lock: flock failed: " +
                                std::string(std::strerror(error))),
                      HasSubstr("its file system does not lock files (Lustre mounted without -o flock"),
                      HasSubstr("hint: put it on a file system that locks")))
        << error;
  }
  EXPECT_THAT(flock_failure("/x/run.lock", EBADF), Not(HasSubstr("does not lock files")));
}

TEST(StudyScheduling, ShellQuoteWrapsInSingleQuotes) {
  EXPECT_EQ(shell_quote("abc"), "'abc'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$(x)"), "'$(x)'");
  const std::vector<std::string> words = {"a b", "c"};
  EXPECT_EQ(shell_join(words), "'a b' 'c'");
}

// sh must read every quoted value back exactly, and run none of it.
TEST_F(StudySchedulingFiles, ShellQuoteRoundTripsThroughSh) {
  const fs::path marker = dir_ / "MARKER";
  for (const std::string& hostile : kHostile) {
    const std::string value = with_marker(hostile, marker);
    const fs::path out = dir_ / "out.txt";
    const CapturedRun run =
        run_captured({"sh", "-c", "printf '%s' " + shell_quote(value) + " > " + shell_quote(out.string())});
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(read_file(out), value);
  }
  EXPECT_FALSE(fs::exists(marker));
}

TEST(StudyScheduling, LocalArgvIsMpirunThenTheTrainer) {
  LocalLauncher launcher{"mpirun", "/opt/normscale", 2, false};
  TrialInvocation trial{2, 1, "/s.runs/ab/config.toml", "/s.runs/ab", false};
  EXPECT_THAT(local_trial_argv(launcher, trial),
              ElementsAre("mpirun", "-np", "2", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS", "-x",
                          "OMP_NUM_THREADS", "/opt/normscale", "train", "--config", "/s.runs/ab/config.toml",
                          "--out", "/s.runs/ab"));
  EXPECT_TRUE(trial_environment_removed(trial).empty());  // mpirun gives its ranks their own
}

TEST(StudyScheduling, AOneRankTrialIsTheTrainerAloneWithoutTheLaunchersVariables) {
  LocalLauncher launcher{"mpirun", "/opt/normscale", 2, true};
  TrialInvocation trial{1, 1, "/s.runs/ab/config.toml", "/s.runs/ab", true};
  EXPECT_THAT(local_trial_argv(launcher, trial), ElementsAre("/opt/normscale", "train", "--config",
                                                             "/s.runs/ab/config.toml", "--out", "/s.runs/ab",
                                                             "--resume"));
  // A scheduler that srun or mpirun started must not pass its own rank on: the trainer would join that job.
  const std::vector<std::string> removed = trial_environment_removed(trial);
  for (const std::string_view name : kMpiLauncherVariables) {
    EXPECT_EQ(std::count(removed.begin(), removed.end(), name), 1) << name;
  }
}

TEST(StudyScheduling, OversubscribeOnlyWhenRanksExceedSlotsAndRootFlagAsRoot) {
  LocalLauncher launcher{"/usr/bin/mpiexec", "/n", 2, true};
  TrialInvocation trial{2, 1, "c.toml", "d", true};
  std::vector<std::string> argv = local_trial_argv(launcher, trial);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--oversubscribe"), 0);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--allow-run-as-root"), 1);
  EXPECT_EQ(argv.back(), "--resume");
  trial.ranks = 4;
  argv = local_trial_argv(launcher, trial);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--oversubscribe"), 1);
  EXPECT_EQ(argv[2], "4");
  launcher.as_root = false;
  argv = local_trial_argv(launcher, trial);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--allow-run-as-root"), 0);
}

TEST(StudyScheduling, EnvironmentGivesEachRankItsThreads) {
  TrialInvocation trial;
  trial.threads_per_rank = 3;
  EXPECT_THAT(trial_environment(trial),
              ElementsAre(std::pair<std::string, std::string>{"OPENBLAS_NUM_THREADS", "3"},
                          std::pair<std::string, std::string>{"OMP_NUM_THREADS", "1"}));
  EXPECT_EQ(threads_per_rank(0), 1);
  EXPECT_EQ(threads_per_rank(4), 4);
  EXPECT_GE(physical_cores(), 1);
}

TEST(StudyScheduling, PackingFillsFreeCoresInOrder) {
  const std::vector<std::int64_t> ones = {1, 1, 1};
  EXPECT_THAT(trials_to_start(2, 2, ones), ElementsAre(0U, 1U));  // two 1-rank trials side by side
  EXPECT_THAT(trials_to_start(1, 2, ones), ElementsAre(0U));
  EXPECT_TRUE(trials_to_start(0, 2, ones).empty());
  const std::vector<std::int64_t> mixed = {2, 1, 1};
  EXPECT_THAT(trials_to_start(2, 2, mixed), ElementsAre(0U));      // a 2-rank trial takes both cores
  EXPECT_THAT(trials_to_start(1, 2, mixed), ElementsAre(1U));      // it waits; a 1-rank one fills the gap
  EXPECT_THAT(trials_to_start(3, 4, mixed), ElementsAre(0U, 1U));
}

TEST(StudyScheduling, TrialWiderThanTheMachineRunsAloneOnAnIdleMachine) {
  const std::vector<std::int64_t> demands = {4, 1};
  EXPECT_THAT(trials_to_start(2, 2, demands), ElementsAre(0U));
  EXPECT_THAT(trials_to_start(1, 2, demands), ElementsAre(1U));
  EXPECT_EQ(cores_held(4, 2), 2);
  EXPECT_EQ(trial_cores(2, 3), 6);
  EXPECT_EQ(trial_cores(2, 0), 2);
  EXPECT_THROW(trials_to_start(3, 2, demands), Error);
}

SlurmArrayJob hostile_job(const fs::path& dir) {
  SlurmArrayJob job;
  job.job_name = slurm_job_name(with_marker("x'; touch MARKER; '\n$(touch MARKER)", dir / "MARKER"));
  job.trainer = (dir / "bin dir" / "normscale").string();
  job.srun_mpi = "pmix";
  job.ranks = 2;
  job.threads_per_rank = 1;
  for (const char* name : {"t0 '; touch MARKER; '", "t1 $(touch MARKER) `touch MARKER`\nnext"}) {
    TrialInvocation trial;
    trial.out = dir / "runs" / with_marker(name, dir / "MARKER");
    trial.config = trial.out / "config.toml";
    trial.ranks = 2;
    trial.resume = job.trials.size() == 1;
    job.trials.push_back(trial);
  }
  return job;
}

// A trial run again (resumed for a halving rung, or after a scheduler lost it) must not be vouched for by an
// earlier run's finished marker: a scheduler killed before the new run starts would take the old marker for
// the new run's end.
TEST_F(StudySchedulingFiles, PreparingATrialAgainRemovesTheEarlierRunsMarkers) {
  const fs::path file = dir_ / "again.toml";
  std::ofstream(file) << "name = \"again\"\n";
  const std::vector<Trial> trials = expand(read_study_file(file));
  const StudyLayout layout = study_layout(file);
  const fs::path run = layout.trial_dir(trials[0].id);
  fs::create_directories(run / "checkpoints" / "step_0000000010");
  std::ofstream(run / "checkpoints" / "step_0000000010" / "manifest.bin") << "";
  std::ofstream(finished_marker(run)) << "{\"finished\":true}\n";
  std::ofstream(run / "exit_code") << "0\n";
  const PreparedTrial prepared = prepare_trial(layout, trials[0]);
  EXPECT_TRUE(prepared.invocation.resume);
  EXPECT_FALSE(fs::exists(finished_marker(run)));
  EXPECT_FALSE(fs::exists(run / "exit_code"));
  EXPECT_THAT(read_file(run / "log.txt"), HasSubstr("resuming trial"));
}

// A second scheduler started at the same moment as the first may find the lock taken but its holder not yet written:
// holder() reads again for a while (it said "an unknown process").
TEST_F(StudySchedulingFiles, AHolderThatIsStillWritingItsNameIsNamed) {
  const std::filesystem::path file = dir_ / "scheduler.lock";
  const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string holder = "{\"host\": \"node7\", \"pid\": 4242}\n";
    EXPECT_EQ(pwrite(fd, holder.data(), holder.size(), 0), static_cast<ssize_t>(holder.size()));
  });
  const HolderLock second(file);
  EXPECT_FALSE(second.held());
  EXPECT_EQ(second.holder(), "host node7, pid 4242");
  writer.join();
  close(fd);
}

TEST(StudyScheduling, JobNameKeepsSafeCharactersOnly) {
  EXPECT_EQ(slurm_job_name("sgd-batch_1.0"), "normscale-sgd-batch_1.0");
  EXPECT_EQ(slurm_job_name("a'b $(c)\n"), "normscale-a_b___c__");
  EXPECT_LE(slurm_job_name(std::string(200, 'a')).size(), 64U);
}

TEST_F(StudySchedulingFiles, JobScriptParsesAndRunsOnlyTheTrainer) {
  const SlurmArrayJob job = hostile_job(dir_);
  const std::string script = slurm_job_script(job);
  const fs::path script_path = dir_ / "job.sh";
  std::ofstream(script_path) << script;
  CapturedRun check = run_captured({"sh", "-n", script_path.string()});
  ASSERT_EQ(check.exit_code, 0) << check.output << "\n" << script;

  // A fake srun on PATH records its arguments, one per line, runs for 0.5 s and exits 3.
  const fs::path bin = dir_ / "fakebin";
  fs::create_directories(bin);
  std::ofstream(bin / "srun")
      << "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$SRUN_RECORD\"\nsleep 0.5\nexit 3\n";
  fs::permissions(bin / "srun", fs::perms::owner_all);
  for (std::size_t task = 0; task < job.trials.size(); ++task) {
    fs::create_directories(job.trials[task].out);
    const fs::path record = dir_ / ("srun" + std::to_string(task) + ".txt");
    const CapturedRun run = run_captured({"env", "PATH=" + bin.string() + ":/usr/bin:/bin", "SLURM_ARRAY_TASK_ID=" +
                                          std::to_string(task), "SLURM_JOB_ID=7", "SRUN_RECORD=" + record.string(),
                                          "sh", script_path.string()});
    EXPECT_EQ(run.exit_code, 3) << run.output;
    const std::string expected = "--mpi=pmix\n" + job.trainer + "\ntrain\n--config\n" +
                                 job.trials[task].config.string() + "\n--out\n" + job.trials[task].out.string() +
                                 "\n--resume-or-start\n";
    EXPECT_EQ(read_file(record), expected);
    EXPECT_EQ(read_file(job.trials[task].out / "exit_code"), "3\n");
    EXPECT_THAT(read_file(job.trials[task].out / "log.txt"), HasSubstr("SLURM job 7"));
    // The run's own time, what the trial's wall time counts (not its wait in the queue).
    const std::optional<double> seconds = slurm_run_seconds(job.trials[task].out);
    ASSERT_TRUE(seconds.has_value()) << read_file(job.trials[task].out / "log.txt");
    EXPECT_GE(*seconds, 0.45);
    EXPECT_LT(*seconds, 30.0);
  }
  const CapturedRun stray = run_captured({"env", "SLURM_ARRAY_TASK_ID=9", "sh", script_path.string()});
  EXPECT_EQ(stray.exit_code, 2);
  EXPECT_THAT(stray.output, HasSubstr("no trial for array task 9"));
  EXPECT_FALSE(fs::exists(dir_ / "MARKER"));
  EXPECT_FALSE(fs::exists("MARKER"));
}

TEST(StudyScheduling, SbatchArgvNamesTheArrayAndTasks) {
  SlurmArrayJob job;
  job.job_name = "normscale-s";
  job.ranks = 2;
  job.threads_per_rank = 3;
  job.trials.resize(5);
  EXPECT_THAT(sbatch_argv(job, "/x/job.sh", "debug"),
              ElementsAre("sbatch", "--parsable", "--job-name=normscale-s", "--array=0-4", "--ntasks=2",
                          "--cpus-per-task=3", "--output=/dev/null", "--requeue", "--signal=B:USR2@120",
                          "--partition=debug", "/x/job.sh"));
  job.time_limit = "1:30:00";
  job.signal_seconds = 300;
  EXPECT_THAT(sbatch_argv(job, "/x/job.sh", ""),
              ElementsAre("sbatch", "--parsable", "--job-name=normscale-s", "--array=0-4", "--ntasks=2",
                          "--cpus-per-task=3", "--output=/dev/null", "--requeue", "--signal=B:USR2@300",
                          "--time=1:30:00", "/x/job.sh"));
}

// SLURM's warning (SIGUSR2 to the job script) reaches srun, and a trainer that stopped at its checkpoint
// (exit code 75) has the job requeued with no exit code written; when the requeue fails, 75 is the trial's.
TEST_F(StudySchedulingFiles, JobScriptPassesTheWarningOnAndRequeuesACheckpointedTrainer) {
  SlurmArrayJob job = hostile_job(dir_);
  job.srun_mpi = "";
  job.trials.resize(1);
  const fs::path script_path = dir_ / "job.sh";
  std::ofstream(script_path) << slurm_job_script(job);
  const fs::path bin = dir_ / "fakebin";
  fs::create_directories(bin);
  // A fake srun: says it is up, then waits for SIGUSR2 and exits 75 (what the trainer does).
  std::ofstream(bin / "srun") << "#!/bin/sh\ntrap 'echo srun got USR2; exit 75' USR2\ntouch \"$UP\"\n"
                              << "while :; do sleep 0.05; done\n";
  // A fake scontrol records its arguments and succeeds unless REQUEUE_FAILS is set.
  std::ofstream(bin / "scontrol") << "#!/bin/sh\necho \"$@\" > \"$SCONTROL_RECORD\"\n[ -z \"$REQUEUE_FAILS\" ]\n";
  fs::permissions(bin / "srun", fs::perms::owner_all);
  fs::permissions(bin / "scontrol", fs::perms::owner_all);
  const fs::path out = job.trials[0].out;
  fs::create_directories(out);
  for (const bool requeue_fails : {false, true}) {
    const fs::path up = dir_ / "up";
    const fs::path record = dir_ / "scontrol.txt";
    fs::remove(up);
    fs::remove(out / "exit_code");
    const std::string env = "PATH=" + shell_quote(bin.string()) + ":/usr/bin:/bin SLURM_ARRAY_TASK_ID=0 SLURM_JOB_ID=42 " +
                            "UP=" + shell_quote(up.string()) + " SCONTROL_RECORD=" + shell_quote(record.string()) +
                            (requeue_fails ? " REQUEUE_FAILS=1" : "");
    // The job script in the background; once srun is up, the shell gets SIGUSR2 as from --signal=B:USR2.
    const std::string command = "env " + env + " sh " + shell_quote(script_path.string()) + " & job=$!; " +
                                "while [ ! -e " + shell_quote(up.string()) + " ]; do sleep 0.05; done; " +
                                "kill -USR2 $job; wait $job; echo \"job exit $?\"";
    const CapturedRun run = run_captured({"sh", "-c", command});
    const std::string log = read_file(out / "log.txt");
    EXPECT_THAT(log, HasSubstr("srun got USR2")) << run.output;
    EXPECT_THAT(log, HasSubstr("requeueing job 42"));
    EXPECT_EQ(read_file(record), "requeue 42\n");
    if (requeue_fails) {
      EXPECT_THAT(run.output, HasSubstr("job exit 75"));
      EXPECT_EQ(read_file(out / "exit_code"), "75\n");
      EXPECT_THAT(log, HasSubstr("scontrol requeue failed"));
    } else {
      EXPECT_THAT(run.output, HasSubstr("job exit 0"));
      EXPECT_FALSE(fs::exists(out / "exit_code")) << "a requeued trial has not ended";
    }
  }
  // Each run appended its own seconds: the requeued one's and the one after.
  std::istringstream runs(read_file(out / kSlurmRunSecondsFile));
  std::vector<double> seconds;
  for (double s = 0.0; runs >> s;) seconds.push_back(s);
  ASSERT_EQ(seconds.size(), 2u) << read_file(out / kSlurmRunSecondsFile);
  EXPECT_DOUBLE_EQ(*slurm_run_seconds(out), seconds[0] + seconds[1]);
}

// A scheduler killed between sbatch and recording the job id: the next finds the trial's task by the script.
TEST(StudyScheduling, FindsTheTaskOfASubmittedScriptInSqueue) {
  const std::string squeue = "41_0|/other/study/normscale-a-r1t1-100.sh\n"
                             "42_1|/home/u/s.runs/slurm/normscale-s-r1t1-200-1.sh\n"
                             "42_2|/home/u/s.runs/slurm/normscale-s-r1t1-200-1.sh\n";
  EXPECT_EQ(task_running_script(squeue, "/home/u/s.runs/slurm/normscale-s-r1t1-200-1.sh", "0"), "42_0");
  EXPECT_EQ(task_running_script(squeue, "s.runs/slurm/normscale-s-r1t1-200-1.sh", "3"), "42_3");
  EXPECT_EQ(task_running_script(squeue, "/home/u/s.runs/slurm/normscale-s-r1t1-200.sh", "0"), "");
  EXPECT_EQ(task_running_script("", "/x/normscale-s-r1t1-200-1.sh", "0"), "");
}

// An sbatch left running by a killed scheduler is found by its script, the last argument, and only while it runs.
TEST_F(StudySchedulingFiles, FindsALiveProcessByItsLastArgument) {
  const std::string script = (dir_ / "normscale-s-r1t1-200.sh").string();
  ChildSpec spec;
  spec.argv = {"sh", "-c", "sleep 30; true", script};  // `; true`: sh waits for sleep instead of becoming it
  const pid_t pid = spawn_child(spec);
  std::vector<pid_t> found;
  // Until the child has exec'd, and until sh's fork for sleep has exec'd too: between fork and exec that copy of
  // sh has the same arguments (seen once on a loaded machine).
  for (int tries = 0; tries < 200 && found != std::vector<pid_t>{pid}; ++tries) {
    found = processes_with_last_argument(script);
    if (found != std::vector<pid_t>{pid}) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(found, std::vector<pid_t>{pid});
  EXPECT_TRUE(processes_with_last_argument(script.substr(1)).empty()) << "a suffix of the argument is not it";
  EXPECT_TRUE(processes_with_last_argument("sleep 30").empty()) << "nor an earlier argument";
  kill(-pid, SIGKILL);  // its process group: sh and its sleep
  wait_child(pid);
  EXPECT_TRUE(processes_with_last_argument(script).empty());
}

// The scan races with processes ending: one listed in /proc may be gone when its cmdline is opened (no file) or
// while it is read (the read fails with ESRCH, which libstdc++ throws). A folder laid out like /proc gives both
// cases every time: a cmdline that is a folder fails on read (EISDIR) just as an ended process's does.
TEST_F(StudySchedulingFiles, SkipsProcessesThatEndWhileTheScanReadsThem) {
  const std::string script = "/home/u/s.runs/slurm/normscale-s-r1t1-200.sh";
  const auto process = [&](const std::string& pid) {
    std::filesystem::create_directories(dir_ / pid);
    return dir_ / pid / "cmdline";
  };
  const auto write = [](const std::filesystem::path& path, const std::vector<std::string>& arguments) {
    std::string bytes;  // as the kernel writes it: each argument NUL-terminated
    for (const std::string& argument : arguments) bytes += argument + '\0';
    std::ofstream(path, std::ios::binary) << bytes;
  };
  write(process("101"), {"sbatch", "--parsable", script});
  std::filesystem::create_directory(process("202"));  // ended while its cmdline was read
  process("303");                                      // ended before its cmdline was opened
  write(process("404"), {});                           // a zombie or a kernel thread: no arguments
  write(process("505"), {"sbatch", script + "x"});
  write(process("707"), {"sbatch", "x" + script});     // ends with it but is longer
  write(process("self"), {"sbatch", script});          // not a pid
  write(process("606"), {"sh", script});
  std::vector<pid_t> found;
  ASSERT_NO_THROW(found = processes_with_last_argument(script, dir_));
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<pid_t>{101, 606}));
  EXPECT_TRUE(processes_with_last_argument(script, dir_ / "absent").empty()) << "no process table: no process";
}

TEST(StudyScheduling, ParsesScontrolShowJob) {
  const auto job = parse_scontrol_job("JobId=12 ArrayJobId=12 ArrayTaskId=0 JobName=x JobState=CANCELLED "
                                      "Reason=None Dependency=(null) Requeue=1 ExitCode=0:15\n");
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->first, "CANCELLED");
  EXPECT_EQ(job->second, "0:15");
  EXPECT_FALSE(parse_scontrol_job("slurm_load_jobs error: Invalid job id specified").has_value());
  EXPECT_TRUE(slurm_state_active("PENDING"));
  EXPECT_TRUE(slurm_state_active("REQUEUED"));
  EXPECT_FALSE(slurm_state_active("CANCELLED"));
  EXPECT_FALSE(slurm_state_active("NODE_FAIL"));
  EXPECT_EQ(parse_sacct_exit_code(job->first + "|" + job->second), 128 + 15);
}

TEST(StudyScheduling, ATaskWaitingInTheQueueIsNotedAndAnUnusualWaitNeedsAttention) {
  EXPECT_EQ(slurm_queue_note("RUNNING", "None"), "");
  EXPECT_EQ(slurm_queue_note("COMPLETING", "None"), "");
  EXPECT_EQ(slurm_queue_note("PENDING", "Resources"), "PENDING (Resources)");
  EXPECT_EQ(slurm_queue_note("PENDING", "None"), "PENDING");
  EXPECT_EQ(slurm_queue_note("SUSPENDED", ""), "SUSPENDED");
  EXPECT_FALSE(slurm_wait_needs_attention("RUNNING", "None"));
  EXPECT_FALSE(slurm_wait_needs_attention("PENDING", "Resources"));
  EXPECT_FALSE(slurm_wait_needs_attention("PENDING", "Priority"));
  EXPECT_FALSE(slurm_wait_needs_attention("PENDING", "BeginTime"));  // a requeued job, held back for a while
  EXPECT_TRUE(slurm_wait_needs_attention("PENDING", "JobHeldAdmin"));
  EXPECT_TRUE(slurm_wait_needs_attention("PENDING", "launch failed requeued held"));
  EXPECT_TRUE(slurm_wait_needs_attention("PENDING", "Nodes required for job are DOWN, DRAINED or reserved"));
  EXPECT_TRUE(slurm_wait_needs_attention("SUSPENDED", "None"));
  EXPECT_TRUE(slurm_wait_needs_attention("REQUEUE_HOLD", "None"));
  EXPECT_FALSE(slurm_wait_needs_attention("REQUEUED", "None"));  // on its way back to PENDING
}

TEST(StudyScheduling, ATrialsLogSaysWhetherItsJobScriptStartedSinceItWasPrepared) {
  const testing::TempDir dir("normscale_job_started_", testing::current_test_name());
  const std::filesystem::path log = dir.path() / "log.txt";
  EXPECT_FALSE(job_script_started(log)) << "no log";
  std::ofstream(log) << "=== normscale study: starting trial a (x)\n";
  EXPECT_FALSE(job_script_started(log));
  std::ofstream(log, std::ios::app) << "=== normscale study: SLURM job 12 (array task 0) on vm\ntraining...\n";
  EXPECT_TRUE(job_script_started(log));
  std::ofstream(log, std::ios::app) << "=== normscale study: resuming trial a (x) from its newest checkpoint\n";
  EXPECT_FALSE(job_script_started(log)) << "submitted again, not started again";
}

TEST(StudyScheduling, ParsesSqueueAndSacct) {
  const auto tasks = parse_squeue("12_0|RUNNING\n12_1|PENDING\nnoise\n");
  ASSERT_EQ(tasks.size(), 2U);
  EXPECT_EQ(tasks.at("12_1"), "PENDING");
  EXPECT_EQ(parse_sacct_exit_code("COMPLETED|0:0\n"), 0);
  EXPECT_EQ(parse_sacct_exit_code("FAILED|2:0\n"), 2);
  EXPECT_EQ(parse_sacct_exit_code("CANCELLED by 0|0:15\n"), 128 + 15);
  EXPECT_EQ(parse_sacct_exit_code("CANCELLED|0:0\n"), 128 + 15);
  EXPECT_EQ(parse_sacct_exit_code(""), std::nullopt);
  EXPECT_EQ(parse_sacct_exit_code("Slurm accounting storage is disabled\n"), std::nullopt);
}

TEST(StudyScheduling, ProgressLineAndEta) {
  StudyCounts counts{8, 3, 1, 2, 2, 0};
  EXPECT_EQ(progress_line("s", counts, std::nullopt), "study s: 3/8 done, 2 running, 1 failed, 2 pending");
  EXPECT_EQ(progress_line("s", counts, 80.0), "study s: 3/8 done, 2 running, 1 failed, 2 pending, ETA 1m20s");
  counts.queued = 1;
  EXPECT_EQ(progress_line("s", counts, std::nullopt),
            "study s: 3/8 done, 2 running (1 queued in SLURM), 1 failed, 2 pending");
  EXPECT_EQ(estimate_eta(10.0, 0, 4), std::nullopt);
  EXPECT_DOUBLE_EQ(*estimate_eta(10.0, 2, 4), 20.0);
}

TEST_F(StudySchedulingFiles, ProgressPrintsOneLinePerChangeWhenNotATerminal) {
  const fs::path log = dir_ / "progress.txt";
  std::FILE* file = std::fopen(log.c_str(), "w");
  ASSERT_NE(file, nullptr);
  StudyProgress progress("s", file, false);
  progress.update({2, 0, 0, 1, 1}, 0);
  progress.update({2, 0, 0, 1, 1}, 0);
  progress.update({2, 1, 0, 1, 0}, 1);
  progress.finish();
  std::fclose(file);
  const std::string text = read_file(log);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST_F(StudySchedulingFiles, ChildGetsArgvVerbatimAndItsOutputGoesToTheLog) {
  const fs::path log = dir_ / "log.txt";
  ChildSpec spec;
  spec.argv = {"sh", "-c", "printf '%s|' \"$@\"; printf '%s' \"$STUDY_TEST_VALUE\"", "sh", "$(touch MARKER)", "a b"};
  spec.environment = {{"STUDY_TEST_VALUE", "`touch MARKER`"}};
  spec.output = log;
  spec.lock_file = dir_ / "trial.lock";
  const pid_t pid = spawn_child(spec);
  EXPECT_EQ(wait_child(pid), 0);
  EXPECT_EQ(read_file(log), "$(touch MARKER)|a b|`touch MARKER`");
  EXPECT_TRUE(wait_for_lock(spec.lock_file, 0.0));  // released when the child ended

  // Variables removed from what the child inherits; the rest of this process's environment it keeps.
  ASSERT_EQ(setenv("STUDY_TEST_REMOVED", "inherited", 1), 0);
  ASSERT_EQ(setenv("STUDY_TEST_KEPT", "kept", 1), 0);
  spec.argv = {"sh", "-c", "printf '|%s|%s|' \"${STUDY_TEST_REMOVED-unset}\" \"$STUDY_TEST_KEPT\""};
  spec.removed = {"STUDY_TEST_REMOVED"};
  EXPECT_EQ(wait_child(spawn_child(spec)), 0);
  unsetenv("STUDY_TEST_REMOVED");
  unsetenv("STUDY_TEST_KEPT");
  EXPECT_THAT(read_file(log), HasSubstr("|unset|kept|"));

  spec.argv = {"/nonexistent/program"};
  EXPECT_EQ(wait_child(spawn_child(spec)), 127);
  EXPECT_THAT(read_file(log), HasSubstr("cannot start /nonexistent/program"));
  EXPECT_FALSE(fs::exists("MARKER"));
}

}  // namespace
}  // namespace normscale
