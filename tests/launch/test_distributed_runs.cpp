// The binary under mpiexec: a run gives the same weights and multipliers on 1, 2 and 4 ranks; a run
// resumed from a checkpoint on another rank count, after a rank was killed with SIGKILL, or after
// SIGUSR2 asked for a checkpoint (preemption), finishes exactly like an uninterrupted one.
#include "normscale/data/npy.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "support/run_command.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <regex>
#include <filesystem>
#include <fstream>
#include <thread>

namespace normscale {
namespace {

namespace fs = std::filesystem;

// A small Minnorm run in float64 on a Fashion-MNIST subset: checkpoints every 25 steps.
const std::string kRun =
    "train --preset paper-minnorm-sgd-rho --set data.train_limit=1200 --set data.validation=600 "
    "--set data.test_limit=300 --set 'model.hidden=[32]' --set optim.batch=60 --set optim.lr=1e-4 "
    "--set objective.rho=1 --set objective.s=1 --set precision=float64 --set virtual_shards=8 "
    "--set checkpoint_every=25 --set keep_checkpoints=10 --set progress=false --set gallery=0 ";

bool fashion_mnist_present() { return fs::exists(fs::path(NORMSCALE_FASHION_MNIST_DIR) / "train-images-idx3-ubyte.gz"); }

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("normscale_launch_" + name);
  fs::remove_all(dir);
  return dir;
}

// Largest difference of the run's outputs relative to the reference's scale.
void expect_same_outputs(const fs::path& run, const fs::path& reference, double tolerance) {
  for (const char* file : {"layer1_weight.npy", "layer1_bias.npy", "layer2_weight.npy", "alpha.npy"}) {
    const NpyArray a = read_npy((run / file).string());
    const NpyArray b = read_npy((reference / file).string());
    ASSERT_EQ(a.shape, b.shape) << file;
    double scale = 0, diff = 0;
    for (std::size_t i = 0; i < a.values.size(); ++i) {
      scale = std::max(scale, std::abs(b.values[i]));
      diff = std::max(diff, std::abs(a.values[i] - b.values[i]));
    }
    EXPECT_LE(diff, tolerance * scale) << run << "/" << file << " differs by " << diff;
    EXPECT_GT(scale, 0.0) << file;
  }
}

// The last evaluation's gradient noise scale (present on several ranks).
nlohmann::json last_noise_scale(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  nlohmann::json last;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.contains("noise_scale")) last = record["noise_scale"];
  }
  return last;
}

// Every timed record of a run on `ranks` ranks has the slowest rank's compute and the least-waiting rank's
// allreduce beside rank 0's: on one rank the same figures, on several no faster and no slower respectively.
void expect_slowest_rank_timings(const fs::path& run, int ranks) {
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  int timed = 0;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line);
    if (!record.contains("steps")) continue;
    ++timed;
    ASSERT_TRUE(record.contains("step_time_compute_max_s") && record.contains("step_time_comm_min_s")) << line;
    const double compute = record["step_time_compute_s"], slowest = record["step_time_compute_max_s"];
    const double comm = record["step_time_comm_s"], transfer = record["step_time_comm_min_s"];
    if (ranks == 1) {
      EXPECT_EQ(slowest, compute) << line;
      EXPECT_EQ(transfer, comm) << line;
    }
    EXPECT_GE(slowest, compute) << line;
    EXPECT_LE(transfer, comm) << line;
    EXPECT_GT(transfer, 0.0) << line;
  }
  EXPECT_GT(timed, 0) << run;
}

struct Interrupted {
  testing::CommandResult run;     // the interrupted run's own result
  testing::CommandResult signal;  // pkill's
};

// Runs kRun + `arguments` on 2 ranks into `dir` in the background (evaluating every step, to be slow enough
// to catch) and, once its first checkpoint exists, sends SIG`signal` to one rank only.
Interrupted interrupt_two_ranks(const std::string& arguments, const fs::path& dir, const std::string& signal) {
  const std::string launch = std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n 2 " + NORMSCALE_BINARY +
                             " " + kRun + arguments + "--set eval_every=1 --out " + dir.string();
  Interrupted interrupted;
  std::thread runner([&] { interrupted.run = testing::run_shell(launch); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(dir / "checkpoints" / "step_0000000025") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The newest process whose command line starts with the binary: a rank, not mpiexec.
  interrupted.signal = testing::run_shell("pkill -" + signal + " -n -f -- '^" + std::string(NORMSCALE_BINARY) +
                                          " .*--out " + dir.string() + "$'");
  runner.join();
  return interrupted;
}

class DistributedRuns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fashion_mnist_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  }
};

TEST_F(DistributedRuns, SameResultOnOneTwoAndFourRanks) {
  const fs::path one = fresh_dir("ranks1");
  ASSERT_EQ(testing::run_normscale_mpi(1, kRun + "--set steps=60 --out " + one.string()).exit_code, 0);
  expect_slowest_rank_timings(one, 1);
  for (int ranks : {2, 4}) {
    const fs::path dir = fresh_dir("ranks" + std::to_string(ranks));
    const auto result = testing::run_normscale_mpi(ranks, kRun + "--set steps=60 --out " + dir.string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("across " + std::to_string(ranks) + " rank(s)"), std::string::npos) << result.output;
    expect_same_outputs(dir, one, 1e-5);
    expect_slowest_rank_timings(dir, ranks);
  }
}

// The last evaluation record of a run.
nlohmann::json last_evaluation(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  nlohmann::json last;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.contains("validation_error")) last = record;
  }
  return last;
}

// A validation set of 3 examples in 8 virtual shards leaves ranks of a 4-rank run without any of its rows; every
// rank still takes part in its evaluation (a rank that skipped it paired its test sums with the others' validation
// sums), so the records are those of one rank.
TEST_F(DistributedRuns, ASplitSomeRanksHoldNoneOfIsEvaluatedAsOnOneRank) {
  const std::string run = kRun + "--set data.validation=3 --set steps=10 --set eval_every=5 --out ";
  const fs::path one = fresh_dir("small_split1");
  auto result = testing::run_normscale_mpi(1, run + one.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const fs::path four = fresh_dir("small_split4");
  result = testing::run_normscale_mpi(4, run + four.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json a = last_evaluation(one), b = last_evaluation(four);
  ASSERT_EQ(b.value("step", -1), 10) << b.dump();
  for (const char* key : {"validation_error", "validation_loss", "test_error", "test_loss", "train_error"}) {
    ASSERT_TRUE(a.contains(key) && b.contains(key)) << key;
    EXPECT_NEAR(b[key].get<double>(), a[key].get<double>(), 1e-6 * std::max(1.0, std::abs(a[key].get<double>())))
        << key;
  }
}

// A batch of 1 on two ranks is one rank's rows alone: one batch size, so no noise-scale sample (it read
// b_simple = -1/3 whatever the data, from a small batch of 1/2 example); at batch 4 both sizes exist.
TEST(NoiseScaleOnRanks, ABatchOnOneRankAloneIsNoSample) {
  const std::string run =
      "train --set data.source=separable-2d --set data.synthetic_examples=64 "
      "--set objective.regime=sgd --set 'model.hidden=[8]' --set virtual_shards=8 --set steps=60 "
      "--set eval_every=20 --set progress=false --overwrite --out ";
  const fs::path single = fresh_dir("noise_batch1");
  auto result = testing::run_normscale_mpi(2, run + single.string() + " --set optim.batch=1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(last_noise_scale(single).is_null()) << last_noise_scale(single).dump();
  const fs::path four = fresh_dir("noise_batch4");
  result = testing::run_normscale_mpi(2, run + four.string() + " --set optim.batch=4");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_GT(last_noise_scale(four).value("samples", 0), 0) << last_noise_scale(four).dump();
}

// The first record's "comm": the host communicator the run trained on.
std::string communicator_of(const fs::path& run) {
  std::ifstream metrics(run / "metrics.jsonl");
  std::string first_record;
  std::getline(metrics, first_record);
  return nlohmann::json::parse(first_record).value("comm", std::string("(none)"));
}

// A training started alone does without MPI (no launcher's variables: the local communicator) and ends bit for bit
// as one rank under mpiexec; resumed under mpiexec, a run started alone ends as the uninterrupted one too.
TEST_F(DistributedRuns, ATrainingStartedAloneRunsWithoutMpiAndAsOneMpiRank) {
  const fs::path alone = fresh_dir("alone");
  auto result = testing::run_normscale(kRun + "--set steps=50 --out " + alone.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const fs::path one = fresh_dir("alone_reference");
  ASSERT_EQ(testing::run_normscale_mpi(1, kRun + "--set steps=50 --out " + one.string()).exit_code, 0);
  EXPECT_EQ(communicator_of(alone), "local");
  EXPECT_EQ(communicator_of(one), "mpi");
  expect_same_outputs(alone, one, 0.0);
  const fs::path resumed = fresh_dir("alone_resumed");
  result = testing::run_normscale(kRun + "--set steps=25 --out " + resumed.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = testing::run_normscale_mpi(2, kRun + "--set steps=50 --resume --out " + resumed.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resuming at step 25"), std::string::npos) << result.output;
  expect_same_outputs(resumed, one, 1e-5);
}

// Perturb-and-retrain (issue #14): every rank adds the same noise, so 2 ranks agree with 1.
TEST_F(DistributedRuns, PerturbedRunIsTheSameOnOneAndTwoRanks) {
  const std::string perturbed =
      kRun + "--set steps=40 --set perturb.start=1 --set perturb.every=1 --set perturb.until=3 ";
  const fs::path one = fresh_dir("perturbed1");
  ASSERT_EQ(testing::run_normscale_mpi(1, perturbed + "--out " + one.string()).exit_code, 0);
  const fs::path two = fresh_dir("perturbed2");
  const auto result = testing::run_normscale_mpi(2, perturbed + "--out " + two.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_same_outputs(two, one, 1e-5);
  const fs::path plain = fresh_dir("unperturbed1");
  ASSERT_EQ(testing::run_normscale_mpi(1, kRun + "--set steps=40 --out " + plain.string()).exit_code, 0);
  const NpyArray a = read_npy((one / "layer1_weight.npy").string());
  const NpyArray b = read_npy((plain / "layer1_weight.npy").string());
  EXPECT_NE(a.values, b.values) << "the perturbations changed the weights";
}

// precision = "bf16" on CPU ranks: 2 ranks agree with 1 (up to the sum order of the gradients), and a run resumed
// from its checkpoint ends bit for bit as the uninterrupted one: the weights' rounding that the update keeps is not
// checkpointed, the resumed forward rounds the loaded weights itself.
TEST_F(DistributedRuns, Bf16RunIsTheSameOnOneAndTwoRanksAndAfterAResume) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const std::string bf16 = kRun + "--set precision=bf16 ";
  const fs::path one = fresh_dir("bf16_ranks1");
  ASSERT_EQ(testing::run_normscale_mpi(1, bf16 + "--set steps=50 --out " + one.string()).exit_code, 0);
  const fs::path two = fresh_dir("bf16_ranks2");
  auto result = testing::run_normscale_mpi(2, bf16 + "--set steps=50 --out " + two.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream metrics(two / "metrics.jsonl");
  std::string first_record;
  std::getline(metrics, first_record);
  EXPECT_NE(first_record.find("matmul bf16"), std::string::npos) << first_record;  // the products that ran
  expect_same_outputs(two, one, 1e-5);
  const fs::path resumed = fresh_dir("bf16_resumed");
  result = testing::run_normscale_mpi(2, bf16 + "--set steps=25 --out " + resumed.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = testing::run_normscale_mpi(2, bf16 + "--set steps=50 --resume --out " + resumed.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resuming at step 25"), std::string::npos) << result.output;
  expect_same_outputs(resumed, two, 0.0);
}

TEST_F(DistributedRuns, ResumeOnAnyRankCountEqualsUninterruptedRun) {
  const fs::path reference = fresh_dir("uninterrupted");
  auto result = testing::run_normscale_mpi(2, kRun + "--set steps=100 --out " + reference.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const fs::path half = fresh_dir("half");
  result = testing::run_normscale_mpi(2, kRun + "--set steps=50 --out " + half.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (int ranks : {1, 2, 4}) {
    const fs::path dir = fresh_dir("resumed" + std::to_string(ranks));
    fs::copy(half, dir, fs::copy_options::recursive);
    result = testing::run_normscale_mpi(ranks, kRun + "--set steps=100 --resume --out " + dir.string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("resuming at step 50"), std::string::npos) << result.output;
    expect_same_outputs(dir, reference, 1e-5);
  }
  // On the rank count that wrote the checkpoint, the noise scale's averages go on as if never stopped (they
  // started afresh: 2 samples against 7 at the next evaluation, B_simple 25x off).
  const nlohmann::json resumed = last_noise_scale(fs::temp_directory_path() / "normscale_launch_resumed2");
  const nlohmann::json uninterrupted = last_noise_scale(reference);
  ASSERT_TRUE(uninterrupted.contains("samples")) << uninterrupted;
  EXPECT_GT(uninterrupted["samples"].get<int>(), 0);
  EXPECT_EQ(resumed["samples"], uninterrupted["samples"]);
  EXPECT_NEAR(resumed["b_simple"].get<double>(), uninterrupted["b_simple"].get<double>(),
              1e-9 * std::abs(uninterrupted["b_simple"].get<double>()));
  // One rank measures no noise scale: resumed there, the run does not report the 2-rank averages, frozen, again.
  const nlohmann::json on_one = last_evaluation(fs::temp_directory_path() / "normscale_launch_resumed1");
  EXPECT_EQ(on_one.value("step", -1), 100) << on_one.dump();
  EXPECT_FALSE(on_one.contains("noise_scale")) << on_one.dump();
}

TEST_F(DistributedRuns, RunWithARankKilledResumesToTheSameResult) {
  const fs::path reference = fresh_dir("kill_reference");
  ASSERT_EQ(testing::run_normscale_mpi(2, kRun + "--set steps=200 --out " + reference.string()).exit_code, 0);

  const fs::path dir = fresh_dir("killed");
  const Interrupted killed = interrupt_two_ranks("--set steps=200 ", dir, "KILL");
  ASSERT_EQ(killed.signal.exit_code, 0) << "no rank to kill: " << killed.signal.output;
  ASSERT_FALSE(fs::exists(dir / "alpha.npy")) << "the run finished before it was killed; the test proves nothing";

  const auto result = testing::run_normscale_mpi(2, kRun + "--set steps=200 --resume --out " + dir.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resuming at step"), std::string::npos) << "it must continue, not start over";
  expect_same_outputs(dir, reference, 1e-5);
}

// What a SLURM job script forwards before a time limit or a preemption: SIGUSR2 reaches one rank only
// (as it may), every rank agrees to checkpoint at the same step and stops with exit code 75; the run
// continued with --resume-or-start (as a requeued job does) ends as the uninterrupted one.
TEST_F(DistributedRuns, CheckpointSignalToOneRankStopsEveryRankAndTheRunResumesToTheSameResult) {
  const fs::path reference = fresh_dir("signal_reference");
  ASSERT_EQ(testing::run_normscale_mpi(2, kRun + "--set steps=200 --out " + reference.string()).exit_code, 0);

  const fs::path dir = fresh_dir("signalled");
  // --resume-or-start in an empty directory starts afresh.
  const Interrupted signalled = interrupt_two_ranks("--set steps=200 --resume-or-start ", dir, "USR2");
  const testing::CommandResult& stopped = signalled.run;
  ASSERT_EQ(signalled.signal.exit_code, 0) << "no rank to signal: " << signalled.signal.output;
  ASSERT_EQ(stopped.exit_code, 75) << stopped.output;
  std::smatch at;
  const std::regex said("stopped by SIGUSR2 after step ([0-9]+) with its checkpoint written");
  ASSERT_TRUE(std::regex_search(stopped.output, at, said)) << stopped.output;
  const std::string step = at[1];
  ASSERT_LT(std::stoi(step), 200) << "the run finished before the signal; the test proves nothing";
  EXPECT_TRUE(fs::exists(dir / "checkpoints" / ("step_" + std::string(10 - step.size(), '0') + step))) << step;
  EXPECT_EQ(stopped.output.find("error"), std::string::npos) << stopped.output;

  const auto result =
      testing::run_normscale_mpi(2, kRun + "--set steps=200 --resume-or-start --out " + dir.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resuming at step " + step), std::string::npos) << result.output;
  expect_same_outputs(dir, reference, 1e-5);
}

}  // namespace
}  // namespace normscale
