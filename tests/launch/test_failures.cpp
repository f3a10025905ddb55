// Failures under mpiexec end every rank promptly with the failing rank's message, never a hang: a bad
// option on one rank, ranks that disagree, more ranks than virtual shards, a damaged checkpoint file.
#include "normscale/data/npy.hpp"
#include "support/data_files.hpp"
#include "support/read_file.hpp"
#include "support/run_command.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace normscale {
namespace {

namespace fs = std::filesystem;

const std::string kSmallRun = testing::kTinyBinaryTrain + "--set steps=40 --set checkpoint_every=10 ";

std::string mpmd(const std::string& rank0, const std::string& rank1) {
  const std::string binary = NORMSCALE_BINARY;
  return std::string(NORMSCALE_MPIEXEC) + " -n 1 " + binary + " " + rank0 + " : -n 1 " + binary + " " + rank1;
}

// Runs and checks the job failed with exit code 2 within a minute, its output naming `expected`.
void expect_prompt_failure(const std::string& command, const std::string& expected) {
  const auto start = std::chrono::steady_clock::now();
  const auto result = testing::run_shell(command);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_LT(seconds, 60.0) << "the job must end promptly";
  EXPECT_NE(result.output.find("normscale: error:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(expected), std::string::npos) << "expected '" << expected << "' in\n" << result.output;
}

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
  return count;
}

// One failure, one message: an error the ranks agreed on is said once, by rank 0, and every rank ends
// without MPI_Abort.
void expect_said_once(const std::string& output) {
  EXPECT_EQ(occurrences(output, "normscale: error:"), 1u) << output;
  EXPECT_EQ(output.find("MPI_ABORT"), std::string::npos) << output;
}

TEST(Failures, BadOptionOnOneRankEndsEveryRankWithOneMessage) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_option";
  const std::string command =
      mpmd(kSmallRun + "--out " + out.string(), kSmallRun + "--set objective.s=-1 --out " + out.string());
  expect_prompt_failure(command, "objective.s = -1");
  const auto result = testing::run_shell(command);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("reported by rank 1; 1 of 2 ranks failed"), std::string::npos) << result.output;
  expect_said_once(result.output);
}

// A refusal of the options against the data read (a batch larger than the training set) is every rank's: said
// once, by rank 0 (each rank said it, and the job ended in MPI_Abort).
TEST(Failures, ABatchLargerThanTheTrainingSetIsSaidOnceOnSeveralRanks) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_batch";
  fs::remove_all(out);
  const auto result = testing::run_normscale_mpi(2, kSmallRun + "--set optim.batch=5000 --out " + out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("optim.batch = 5000 is larger than the training set"), std::string::npos)
      << result.output;
  expect_said_once(result.output);
}

// Refusals of the options against the data that the objective or the model makes (a task the labels do not fit,
// batch norm over one row of a rank's step) are every rank's too: said once, by rank 0.
TEST(Failures, RefusalsOfTheObjectiveOrBatchNormAgainstTheDataAreSaidOnce) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_task";
  fs::remove_all(out);
  auto result = testing::run_normscale_mpi(
      2,
      "train --set data.source=sinusoid --set data.synthetic_examples=20 --set objective.regime=sgd "
      "--set optim.batch=10 --set progress=false --set steps=2 --out " +
          out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("needs class labels"), std::string::npos) << result.output;
  expect_said_once(result.output);
  result = testing::run_normscale_mpi(
      2,
      "train --set data.source=separable-2d --set data.synthetic_examples=40 --set 'model.hidden=[4]' "
      "--set model.batch_norm=true --set optim.batch=3 --set virtual_shards=2 --set progress=false --set steps=2 "
      "--out " +
          out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("holds 1 example(s) of some steps (optim.batch = 3 of 40 training examples, 2 rank(s)"),
            std::string::npos)
      << result.output;
  expect_said_once(result.output);
  result = testing::run_normscale_mpi(
      2,
      "train --set data.source=separable-2d --set data.synthetic_examples=40 --set 'model.hidden=[4]' "
      "--set model.batch_norm=true --set model.sync_bn=true --set optim.batch=3 --set virtual_shards=2 "
      "--set progress=false --set steps=2 --out " +
          out.string());
  EXPECT_EQ(result.exit_code, 0) << "the whole step's statistics: " << result.output;
  fs::remove_all(out);
}

// Minnorm regression on one example over two ranks: the rank holding none of it trains as the other (it refused
// the data as having no regression targets).
TEST(Failures, RegressionOnFewerExamplesThanRanksTrains) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_regression_one";
  fs::remove_all(out);
  const auto result = testing::run_normscale_mpi(
      2,
      "train --set data.source=sinusoid --set data.synthetic_examples=1 --set objective.task=regression "
      "--set 'model.hidden=[]' --set optim.batch=1 --set virtual_shards=2 --set steps=3 --set progress=false "
      "--out " +
          out.string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  fs::remove_all(out);
}

TEST(Failures, RanksWithDifferentConfigurationsNameTheFirstDifferingOption) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_disagree";
  const std::string command =
      mpmd(kSmallRun + "--out " + out.string(), kSmallRun + "--set optim.lr=0.02 --out " + out.string());
  expect_prompt_failure(command, "ranks disagree on the configuration: optim.lr is 0.01 on rank 0 but 0.02 on rank 1");
  expect_said_once(testing::run_shell(command).output);
}

// A failure of one rank alone (rank 0's metrics log on a full disk) is said once, by that rank, with
// where it happened, and takes the job down.
TEST(Failures, AFailureOfOneRankAloneIsSaidOnceWithItsRankAndHost) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_one_rank";
  fs::remove_all(out);
  fs::create_directories(out);
  fs::create_symlink("/dev/full", out / "metrics.jsonl");
  const std::string command = std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n 2 " +
                              NORMSCALE_BINARY + " " + kSmallRun + "--overwrite --out " + out.string();
  expect_prompt_failure(command, "metrics.jsonl");
  const auto result = testing::run_shell(command);
  EXPECT_EQ(occurrences(result.output, "normscale: error:"), 1u) << result.output;
  EXPECT_EQ(occurrences(result.output, "normscale: error: rank 0 of 2 on "), 1u) << result.output;
  fs::remove_all(out);
}

// A diverged run: every rank sees the same allreduced loss, so the ranks stop together and it is said once.
TEST(Failures, ADivergedRunIsSaidOnceAndEndsEveryRank) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_diverged";
  fs::remove_all(out);
  const std::string command = std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n 2 " +
                              NORMSCALE_BINARY + " " + kSmallRun + "--set optim.lr=1e6 --out " + out.string();
  expect_prompt_failure(command, "training diverged at step");
  fs::remove_all(out);
  const auto result = testing::run_shell(command);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  expect_said_once(result.output);
  std::ifstream metrics(out / "metrics.jsonl");
  const std::string log((std::istreambuf_iterator<char>(metrics)), std::istreambuf_iterator<char>());
  EXPECT_EQ(occurrences(log, "\"event\":\"diverged\""), 1u) << log;
  fs::remove_all(out);
}

// An update that overflows the weights (lr 1e300) leaves the step's loss, taken before it, finite. Where an
// evaluation follows the step (the last one), the guard finds the non-finite weights before it; otherwise the next
// step's loss is NaN (Minnorm's hinge terms propagate NaN outputs; they read them as met constraints, loss 0, and the
// run went on for 8 steps on NaN weights). Either way the run ends as a diverged one, said once (it was an error of
// the weight metrics, said by every rank, then MPI_Abort).
TEST(Failures, AnUpdateThatOverflowsTheWeightsIsADivergedRun) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_overflow";
  const auto train = [&](const std::string& steps) {
    fs::remove_all(out);
    return testing::run_shell(std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n 2 " +
                              NORMSCALE_BINARY + " " + kSmallRun + "--set optim.lr=1e300 --set steps=" + steps +
                              " --out " + out.string());
  };
  const auto expect_diverged_once = [&](const testing::CommandResult& result) {
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_NE(result.output.find("first non-finite weights in layer"), std::string::npos) << result.output;
    expect_said_once(result.output);
    std::ifstream metrics(out / "metrics.jsonl");
    const std::string log((std::istreambuf_iterator<char>(metrics)), std::istreambuf_iterator<char>());
    EXPECT_EQ(occurrences(log, "\"event\":\"diverged\""), 1u) << log;
  };
  auto result = train("1");
  EXPECT_NE(result.output.find("training diverged at step 1 (epoch"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("the step's update made the weights non-finite"), std::string::npos) << result.output;
  expect_diverged_once(result);

  result = train("40");
  EXPECT_NE(result.output.find("training diverged at step 2 (epoch"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("mean loss nan over the minibatch"), std::string::npos) << result.output;
  expect_diverged_once(result);
  fs::remove_all(out);
}

// A run killed before its first checkpoint leaves config.toml and metrics.jsonl: --resume-or-start (what a requeued
// job runs) starts it afresh. It was refused as a fresh run over a run's outputs, and --resume found no checkpoint:
// the job failed for good. Another configuration's run, or a run's files without its config.toml, stay refused.
TEST(Failures, ResumeOrStartStartsARunKilledBeforeItsFirstCheckpointAfresh) {
  const fs::path reference = fs::temp_directory_path() / "normscale_fail_ros_reference";
  const fs::path out = fs::temp_directory_path() / "normscale_fail_ros";
  fs::remove_all(reference);
  fs::remove_all(out);
  auto result = testing::run_normscale(kSmallRun + "--out " + reference.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto killed_early = [&] {
    fs::remove_all(out);
    fs::copy(reference, out, fs::copy_options::recursive);
    for (const auto& entry : fs::directory_iterator(out)) {
      const std::string name = entry.path().filename().string();
      if (name != "config.toml" && name != "metrics.jsonl" && name != "checkpoints") fs::remove_all(entry.path());
    }
    fs::remove_all(out / "checkpoints");
    fs::create_directories(out / "checkpoints" / ".tmp_step_0000000010");  // the write the kill interrupted
  };
  killed_early();
  result = testing::run_normscale(kSmallRun + "--set optim.lr=0.02 --resume-or-start --out " + out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("already holds a run's outputs (metrics.jsonl"), std::string::npos) << result.output;
  fs::remove(out / "config.toml");
  result = testing::run_normscale(kSmallRun + "--resume-or-start --out " + out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;

  killed_early();
  result = testing::run_normscale(kSmallRun + "--resume-or-start --out " + out.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("resuming"), std::string::npos) << result.output;
  using testing::read_file;
  EXPECT_EQ(read_file(out / "layer1_weight.npy"), read_file(reference / "layer1_weight.npy"));
  EXPECT_EQ(read_file(out / "alpha.npy"), read_file(reference / "alpha.npy"));
  const auto records = [](const fs::path& metrics) {
    const std::string text = read_file(metrics);
    return std::count(text.begin(), text.end(), '\n');
  };
  // Started afresh, not appended to.
  EXPECT_EQ(records(out / "metrics.jsonl"), records(reference / "metrics.jsonl"));
  EXPECT_TRUE(fs::exists(out / "finished.json"));
  EXPECT_FALSE(fs::exists(out / "checkpoints" / ".tmp_step_0000000010"));
  fs::remove_all(out);
  fs::remove_all(reference);
}

// Every rank sees the same rank count and option: an agreed error, said once, without MPI_Abort.
TEST(Failures, MoreRanksThanVirtualShards) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_shards";
  const std::string command = std::string(NORMSCALE_MPIEXEC) + " -n 4 " + NORMSCALE_BINARY + " " + kSmallRun +
                              "--set virtual_shards=2 --out " + out.string();
  expect_prompt_failure(command, "Valid rank counts: 1, 2");
  const auto result = testing::run_shell(command);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("reported by rank 0; 4 of 4 ranks failed"), std::string::npos) << result.output;
  expect_said_once(result.output);
}

// Flips one byte in the middle of a file.
void corrupt(const fs::path& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(fs::file_size(file) / 2));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
  f.put(static_cast<char>(c ^ 0x5a));
}

TEST(Failures, DamagedCheckpointOfOneRankIsNamedAndTheRunFallsBack) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_checkpoint";
  fs::remove_all(out);
  auto result = testing::run_normscale_mpi(2, kSmallRun + "--set steps=20 --out " + out.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Shard 7 belongs to rank 1 of 2. Damage it in the newest checkpoint: the run falls back to step 10.
  corrupt(out / "checkpoints" / "step_0000000020" / "shard_000007.bin");
  result = testing::run_normscale_mpi(2, kSmallRun + "--resume --out " + out.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("shard_000007.bin"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("resuming at step 10"), std::string::npos) << result.output;

  // Damaged in every checkpoint: every rank stops with the file named.
  for (const auto& dir : fs::directory_iterator(out / "checkpoints")) corrupt(dir.path() / "shard_000007.bin");
  expect_prompt_failure(std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n 2 " + NORMSCALE_BINARY + " " +
                            kSmallRun + "--resume --out " + out.string(),
                        "shard_000007.bin");
}

std::vector<std::string> entries_of(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) names.push_back(entry.path().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh run in a used run directory is refused: it would wipe the run there. With --overwrite it
// replaces it, and must not leave the old run's checkpoints for --resume to pick.
TEST(Failures, AFreshRunIntoARunDirectoryIsRefusedAndWithOverwriteReplacesIt) {
  const fs::path out = fs::temp_directory_path() / "normscale_fresh_over_old";
  fs::remove_all(out);
  ASSERT_EQ(testing::run_normscale(kSmallRun + "--set steps=40 --out " + out.string()).exit_code, 0);
  ASSERT_TRUE(fs::exists(out / "checkpoints" / "step_0000000040"));
  const std::vector<std::string> before = entries_of(out);
  const std::string again = kSmallRun + "--set steps=10 --set optim.lr=0.02 --out " + out.string();
  auto result = testing::run_normscale(again);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("already holds a run"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("--resume"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("--overwrite"), std::string::npos) << result.output;
  EXPECT_EQ(entries_of(out), before) << "nothing was deleted or written";

  // What a user put in checkpoints/ beside the run's own is not the run's to delete.
  fs::create_directories(out / "checkpoints" / "mine");
  std::ofstream(out / "checkpoints" / "mine" / "precious.bin") << "keep";
  // The old run's exports go (a deeper old model's layer files stayed beside the new run's, as if they were its own).
  ASSERT_TRUE(fs::exists(out / "layer1_weight.npy"));
  fs::copy_file(out / "layer1_weight.npy", out / "layer7_weight.npy");
  result = testing::run_normscale(again + " --overwrite");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_FALSE(fs::exists(out / "layer7_weight.npy"));
  EXPECT_TRUE(fs::exists(out / "layer1_weight.npy"));
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(out / "checkpoints")) left.push_back(entry.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"mine", "step_0000000010"}));
  EXPECT_TRUE(fs::exists(out / "checkpoints" / "mine" / "precious.bin"));
}

// Every file under `dir` with its bytes, but run.lock (which names the last process that held the directory).
std::map<std::string, std::string> contents_of(const fs::path& dir) {
  std::map<std::string, std::string> contents;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == "run.lock") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    contents[entry.path().string()] = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return contents;
}

// A run that --overwrite would let replace a finished one, but that a check refuses (the duality-gap stop on a model
// with a hidden layer), leaves that run as it was: checks come before anything in the directory changes.
TEST(Failures, ARunRefusedByItsChecksLeavesTheRunItWouldReplaceIntact) {
  const fs::path out = fs::temp_directory_path() / "normscale_refused_overwrite";
  fs::remove_all(out);
  ASSERT_EQ(testing::run_normscale(kSmallRun + "--out " + out.string()).exit_code, 0);
  const std::map<std::string, std::string> before = contents_of(out);
  ASSERT_TRUE(before.contains((out / "finished.json").string()));
  const auto result =
      testing::run_normscale(kSmallRun + "--set objective.tolerance=0.1 --overwrite --out " + out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("stops at the duality gap of a linear Minnorm model"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("2 weight layer(s)"), std::string::npos) << result.output;
  EXPECT_EQ(contents_of(out), before) << "a refused run must not touch the run it would have replaced";
  fs::remove_all(out);
}

// A fresh run refuses a directory holding files of its outputs' names that are not a run's (a user's CSV, a
// hand-written config.toml given as --config), and leaves them as they were; --overwrite replaces them.
TEST(Failures, AFreshRunRefusesToReplaceFilesNamedAsItsOutputs) {
  const fs::path out = fs::temp_directory_path() / "normscale_users_files";
  fs::remove_all(out);
  fs::create_directories(out);
  std::ofstream(out / "support_vectors.csv") << "my,own,table\n";
  std::ofstream(out / "config.toml") << "# my settings\nsteps = 5\n";
  const std::map<std::string, std::string> before = contents_of(out);
  const std::string run = kSmallRun + "--config " + (out / "config.toml").string() + " --out " + out.string();
  auto result = testing::run_normscale(run);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("support_vectors.csv, config.toml (other settings than this run's)"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(contents_of(out), before);
  result = testing::run_normscale(run + " --overwrite");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(contents_of(out).at((out / "support_vectors.csv").string()), "my,own,table\n");
  fs::remove_all(out);
}

// Resuming onto a full disk: the log cannot be rewritten. That is said as what it is (the metrics log,
// no space), never charged to a checkpoint, and every checkpoint is left for the resume that follows.
TEST(Failures, AFullDiskAtResumeIsNamedAndNoCheckpointIsBlamedOrLost) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_full_disk_resume";
  fs::remove_all(out);
  ASSERT_EQ(testing::run_normscale(kSmallRun + "--set steps=30 --out " + out.string()).exit_code, 0);
  const std::vector<std::string> checkpoints = entries_of(out / "checkpoints");
  ASSERT_FALSE(checkpoints.empty());
  fs::create_symlink("/dev/full", out / "metrics.jsonl.tmp");  // the log's rewrite meets a full disk

  auto result = testing::run_normscale(kSmallRun + "--set steps=40 --resume --out " + out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("metrics.jsonl"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(std::strerror(ENOSPC)), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("unusable"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("no usable checkpoint"), std::string::npos) << result.output;
  EXPECT_EQ(entries_of(out / "checkpoints"), checkpoints) << "no checkpoint skipped, changed or deleted";

  fs::remove(out / "metrics.jsonl.tmp");  // space again: the same checkpoint resumes
  // What a checkpoint write that met the full disk left behind is cleared when the run starts again.
  fs::create_directories(out / "checkpoints" / ".tmp_step_0000000040");
  std::ofstream(out / "checkpoints" / ".tmp_step_0000000040" / "model.bin") << "partial";
  result = testing::run_normscale(kSmallRun + "--set steps=40 --resume --out " + out.string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resuming at step 30"), std::string::npos) << result.output;
  for (const std::string& entry : entries_of(out / "checkpoints")) EXPECT_EQ(entry.find(".tmp_"), std::string::npos);
}

// Tiny MNIST-format files: `count` 4x4 images whose pixels depend on `shift`, labels alternating 0, 1.
void write_idx_set(const fs::path& dir, const char* prefix, std::uint32_t count, int shift) {
  testing::Bytes pixels, labels;
  for (std::uint32_t i = 0; i < count; ++i) {
    for (int k = 0; k < 16; ++k) pixels.push_back(static_cast<std::uint8_t>((i % 2) * 100 + 7 * k + shift));
    labels.push_back(static_cast<std::uint8_t>(i % 2));
  }
  testing::write_bytes(dir / fmt::format("{}-images-idx3-ubyte", prefix),
                       testing::idx::images_file(count, 4, 4, pixels));
  testing::write_bytes(dir / fmt::format("{}-labels-idx1-ubyte", prefix), testing::idx::labels_file(labels));
}

// The checkpoints record a fingerprint of the training data: resuming on data files that changed since
// is refused with the fingerprints named, instead of continuing on other examples.
TEST(Failures, ResumeOnChangedTrainingDataIsRefused) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_changed_data";
  const fs::path data = fs::temp_directory_path() / "normscale_fail_changed_data_files";
  fs::remove_all(out);
  fs::remove_all(data);
  fs::create_directories(data);
  write_idx_set(data, "train", 60, 0);
  write_idx_set(data, "t10k", 20, 3);
  const std::string run = "train --set data.source=idx --set data.path=" + data.string() +
                          " --set data.validation=0 --set 'model.hidden=[8]' --set optim.batch=10 --set virtual_shards=4 "
                          "--set progress=false --set checkpoint_every=5 --out " + out.string();
  ASSERT_EQ(testing::run_normscale(run + " --set steps=10").exit_code, 0);
  ASSERT_EQ(testing::run_normscale(run + " --set steps=15 --resume").exit_code, 0) << "the same data resumes";

  write_idx_set(data, "train", 60, 1);  // every pixel one brighter
  const auto result = testing::run_normscale(run + " --set steps=20 --resume");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("data files changed"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("fingerprint"), std::string::npos) << result.output;
  fs::remove_all(data);
}

// The same image twice with different labels: hard-margin Minnorm has no solution on it (its multipliers
// grew without bound while the run said done). Refused before training, once on two ranks (the two copies
// on different ranks), naming the examples; a soft margin trains on it.
TEST(Failures, IdenticalExamplesWithDifferentLabelsAreRefusedUnderAHardMargin) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_conflicting";
  const fs::path data = fs::temp_directory_path() / "normscale_fail_conflicting_files";
  fs::remove_all(out);
  fs::remove_all(data);
  fs::create_directories(data);
  write_idx_set(data, "train", 40, 0);  // one image per class, labels agreeing: no conflict
  write_idx_set(data, "t10k", 10, 3);
  const std::string run =
      "train --set data.source=idx --set data.path=" + data.string() +
      " --set data.validation=0 --set 'model.hidden=[8]' --set optim.batch=10 --set virtual_shards=4 "
      "--set progress=false --set steps=4 --out " +
      out.string();
  ASSERT_EQ(testing::run_normscale_mpi(2, run).exit_code, 0);

  testing::Bytes pixels, labels;  // example 39 is example 0's image (class 0) labelled 1
  for (std::uint32_t i = 0; i < 40; ++i) {
    for (int k = 0; k < 16; ++k) pixels.push_back(static_cast<std::uint8_t>((i == 39 ? 0 : i) + 7 * k + 1));
    labels.push_back(static_cast<std::uint8_t>(i % 2));
  }
  testing::write_bytes(data / "train-images-idx3-ubyte", testing::idx::images_file(40, 4, 4, pixels));
  testing::write_bytes(data / "train-labels-idx1-ubyte", testing::idx::labels_file(labels));
  auto result = testing::run_normscale_mpi(2, run + " --overwrite");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  for (const char* part :
       {"1 example(s) with the same features as another (after data.preprocess) and a different label",
        "#0 and #39; 0-based rows of the file", "hint: set objective.C"}) {
    EXPECT_NE(result.output.find(part), std::string::npos) << part << " in:\n" << result.output;
  }
  expect_said_once(result.output);

  result = testing::run_normscale_mpi(2, run + " --overwrite --set objective.C=1");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  fs::remove_all(data);
}

// The check is of the inputs the model sees: (1, 1) and (2, 2) differ in the file but are one input after
// data.preprocess = "unit-norm".
TEST(Failures, ExamplesIdenticalAfterPreprocessingWithDifferentLabelsAreRefused) {
  const fs::path data = fs::temp_directory_path() / "normscale_fail_conflicting_preprocessed";
  fs::remove_all(data);
  fs::create_directories(data);
  const std::vector<float> x{1, 1, 2, 2, 1, 0, 0, 1};
  const std::vector<std::int64_t> y{0, 1, 0, 1};
  write_npy((data / "X_train.npy").string(), {4, 2}, x.data());
  write_npy((data / "y_train.npy").string(), {4}, y.data());
  const std::string run = std::string(NORMSCALE_BINARY) +
                          " train --set data.source=npy --set data.path=" + data.string() +
                          " --set data.validation=0 --set 'model.hidden=[]' --set optim.batch=full "
                          "--set objective.task=binary --set steps=2 --set progress=false --overwrite --out " +
                          (data / "out").string();
  auto result = testing::run_shell(run + " --set data.preprocess=unit-norm");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("#0 and #1; 0-based rows of the file"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(data / "out")) << "a run refused before it wrote anything leaves no directory it created";
  result = testing::run_shell(run + " --set data.preprocess=none");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  fs::remove_all(data);
}

// Each node may read its own copy of the data (node-local scratch): ranks whose files differ (here: the same
// relative data.path from two working directories, as on two nodes) are refused before training, naming the
// files, instead of training on a mix.
TEST(Failures, RanksReadingDifferentCopiesOfTheDataFilesAreRefused) {
  const fs::path nodes = fs::temp_directory_path() / "normscale_fail_node_copies";
  const fs::path out = nodes / "out";
  fs::remove_all(nodes);
  for (const auto& [node, shift] : {std::pair{"a", 0}, std::pair{"b", 1}}) {
    fs::create_directories(nodes / node / "data");
    write_idx_set(nodes / node / "data", "train", 40, shift);
    write_idx_set(nodes / node / "data", "t10k", 10, 0);
  }
  const std::string run =
      "train --set data.source=idx --set data.path=data --set data.validation=0 "
      "--set 'model.hidden=[8]' --set optim.batch=10 --set virtual_shards=4 --set progress=false "
      "--set steps=4 --overwrite --out " +
      out.string();
  const std::string binary = NORMSCALE_BINARY;
  const auto on_nodes = [&](const char* first, const char* second) {
    return testing::run_shell(fmt::format("{} -n 1 -wdir {} {} {} : -n 1 -wdir {} {} {}", NORMSCALE_MPIEXEC,
                                          (nodes / first).string(), binary, run, (nodes / second).string(), binary,
                                          run));
  };
  auto result = on_nodes("a", "b");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  for (const char* part : {"ranks disagree on the data files", "data/train-images-idx3-ubyte", "stale or partial"}) {
    EXPECT_NE(result.output.find(part), std::string::npos) << part << " in:\n" << result.output;
  }
  result = on_nodes("a", "a");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  fs::remove_all(nodes);
}

// In a directory that does not exist (which the refused run does not create), or one without checkpoints.
TEST(Failures, ResumeWithoutCheckpointIsAClearError) {
  const fs::path out = fs::temp_directory_path() / "normscale_fail_nocheckpoint";
  fs::remove_all(out);
  expect_prompt_failure(std::string(NORMSCALE_BINARY) + " " + kSmallRun + "--resume --out " + out.string(),
                        "does not exist, so there is no checkpoint to resume");
  EXPECT_FALSE(fs::exists(out));
  fs::create_directories(out);
  expect_prompt_failure(std::string(NORMSCALE_BINARY) + " " + kSmallRun + "--resume --out " + out.string(),
                        "no checkpoint");
  fs::remove_all(out);
}

}  // namespace
}  // namespace normscale
