// `normscale train --set device=cuda` end to end against the same run on the CPU: every evaluation
// record (losses, errors, norms, Lagrangian, multiplier and dual statistics, the instruments) agrees, the run directory
// is complete, and a GPU run resumed from its checkpoint continues on the uninterrupted run's trajectory; the same for
// the square-bn-wd preset (batch norm) on a small generated problem, including the running statistics a checkpoint
// carries from a GPU run to a CPU one; and the coordinate rule with its certificate.
#include "gpu_support.hpp"

#include "support/run_command.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace normscale {
namespace {

namespace fs = std::filesystem;

const std::string kProblem =
    "--set data.source=separable-2d --set data.synthetic_examples=512 --set data.validation=0 "
    "--set 'model.hidden=[32, 32]' --set optim.batch=64 --set eval_every=10 --set progress=false "
    "--set virtual_shards=4";
const std::string kMinnorm =
    "--set objective.regime=minnorm --set objective.task=binary --set objective.rho=1 --set objective.s=0.5 "
    "--set optim.lr=0.002";
const std::string kSgd =
    "--set objective.regime=sgd --set optim.lr=0.1 --set optim.momentum=0.9 --set optim.weight_decay=1e-3";

std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

fs::path run(const std::string& name, const std::string& arguments) {
  const fs::path out = fs::temp_directory_path() / ("normscale_gpu_run_" + name);
  fs::remove_all(out);
  const auto result = testing::run_normscale("train " + arguments + " --out " + out.string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  if (arguments.find("device=cuda") != std::string::npos) {
    EXPECT_NE(result.output.find("training on cuda:"), std::string::npos) << result.output;
  }
  return out;
}

// The instruments' figures of one record (margins, output magnitudes, neural collapse), where the CPU run has
// them: the summaries of many examples, to 10x the records' tolerance (relative to the group's rms, as small
// margins are differences of outputs).
void expect_same_instruments(const nlohmann::json& a, const nlohmann::json& b, double rtol) {
  const std::vector<std::pair<const char*, std::vector<const char*>>> groups = {
      {"margins", {"min", "p10", "p50", "p90", "mean"}},
      {"output_magnitude", {"p10", "p50", "p90"}},
      {"neural_collapse", {"nc1", "nc3"}}};
  for (const auto& [group, keys] : groups) {
    if (!b.contains(group)) continue;
    ASSERT_TRUE(a.contains(group)) << group;
    std::vector<double> gpu, cpu;
    for (const char* key : keys) {
      if (!b[group].contains(key) || b[group][key].is_null()) continue;
      ASSERT_TRUE(a[group].contains(key) && a[group][key].is_number()) << group << "." << key << ": " << a[group];
      gpu.push_back(a[group][key].get<double>());
      cpu.push_back(b[group][key].get<double>());
    }
    gpu_testing::expect_close(gpu, cpu, 10 * rtol, group);
  }
}

void expect_same_records(const fs::path& gpu, const fs::path& cpu, double rtol) {
  const auto a = read_metrics(gpu), b = read_metrics(cpu);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), 3u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("evaluation " + std::to_string(i));
    EXPECT_EQ(a[i]["step"], b[i]["step"]);
    EXPECT_EQ(a[i].value("train_examples", -1), b[i].value("train_examples", -1));
    for (const char* key : {"train_loss", "weight_norm", "parameter_norm", "rho", "lagrangian", "test_loss", "primal",
                            "dual", "alpha_max", "alpha_mean"}) {
      if (!b[i].contains(key)) continue;
      gpu_testing::expect_close(a[i][key].get<double>(), b[i][key].get<double>(), rtol, key);
    }
    // A sum over the examples beyond their margin, which may be near 0: to a tolerance of at least 0.01.
    if (b[i].contains("complementary_slackness")) {
      const double cpu_value = b[i]["complementary_slackness"].get<double>();
      EXPECT_NEAR(a[i]["complementary_slackness"].get<double>(), cpu_value, 1e-2 * std::max(1.0, std::abs(cpu_value)));
    }
    // Shares of examples or constraints (errors in percent, as before; the others fractions): examples at a class
    // boundary or a margin of 1 may flip.
    for (const char* key : {"train_error", "test_error", "support_fraction", "constraints_violated"}) {
      if (!b[i].contains(key)) continue;
      const double few = std::string(key).ends_with("error") ? 0.5 : 0.02;
      EXPECT_NEAR(a[i][key].get<double>(), b[i][key].get<double>(), few) << key;
    }
    expect_same_instruments(a[i], b[i], rtol);
  }
}

TEST(GpuRun, MinnormOnCudaMatchesCpuAndWritesTheRunDirectory) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kProblem + " " + kMinnorm + " --set steps=40";
  const fs::path gpu = run("minnorm_cuda", common + " --set device=cuda");
  const fs::path cpu = run("minnorm_cpu", common + " --set device=cpu");
  expect_same_records(gpu, cpu, 1e-4);
  for (const char* file : {"config.toml", "layer1_weight.npy", "layer3_weight.npy", "alpha.npy", "support_vectors.csv"}) {
    EXPECT_TRUE(fs::exists(gpu / file)) << file;
  }
}

TEST(GpuRun, SgdWithMomentumOnCudaMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kProblem + " " + kSgd + " --set steps=40";
  expect_same_records(run("sgd_cuda", common + " --set device=cuda"), run("sgd_cpu", common + " --set device=cpu"),
                      1e-4);
}

// objective.dual = "coordinate" (issue #19) on a GPU rank: a linear soft-margin model's rounds run on the host,
// the duality certificate and its tolerance stop as on the CPU (the same records, stopped at the same step, about
// 135 of 400).
TEST(GpuRun, CoordinateRoundsStopAtTheCertificatesToleranceAsOnTheCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kProblem + " --set 'model.hidden=[]' --set objective.regime=minnorm "
                             "--set objective.task=binary --set objective.dual=coordinate --set objective.C=1 "
                             "--set objective.tolerance=0.01 --set steps=400 --set eval_every=5";
  const fs::path gpu = run("coordinate_cuda", common + " --set device=cuda");
  const fs::path cpu = run("coordinate_cpu", common + " --set device=cpu");
  expect_same_records(gpu, cpu, 1e-4);
  const auto records = read_metrics(gpu);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().value("event", ""), "stopped");
  EXPECT_LT(records.back()["step"].get<double>(), 400.0);
}

TEST(GpuRun, ResumedCudaRunFollowsTheUninterruptedOne) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kProblem + " " + kMinnorm + " --set optim.momentum=0.5 --set checkpoint_every=10";
  const fs::path whole = run("resume_whole", common + " --set device=cuda --set steps=40");
  const fs::path part = run("resume_part", common + " --set device=cuda --set steps=20");
  const auto result = testing::run_normscale("train " + common + " --set device=cuda --set steps=40 --resume --out " +
                                             part.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_same_records(part, whole, 1e-5);
  // And a GPU checkpoint resumes on the CPU.
  const fs::path on_cpu = run("resume_cpu_part", common + " --set device=cuda --set steps=20");
  const auto cpu_result = testing::run_normscale("train " + common + " --set device=cpu --set steps=40 --resume --out " +
                                                 on_cpu.string());
  ASSERT_EQ(cpu_result.exit_code, 0) << cpu_result.output;
  expect_same_records(on_cpu, whole, 1e-4);
}

// The square-bn-wd preset (BN without affine, +-1 square loss, weight decay, momentum, the instruments on) on a
// small generated binary problem instead of Fashion-MNIST.
const std::string kSquareBn =
    "--preset square-bn-wd --set data.source=separable-2d --set data.synthetic_examples=512 "
    "--set 'data.classes=[]' --set data.validation=0 --set 'model.hidden=[32, 32, 32]' --set optim.batch=64 "
    "--set eval_every=10 --set progress=false --set virtual_shards=4";

TEST(GpuRun, SquareBnPresetOnCudaMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kSquareBn + " --set steps=20";
  const fs::path gpu = run("square_bn_cuda", common + " --set device=cuda");
  const fs::path cpu = run("square_bn_cpu", common + " --set device=cpu");
  expect_same_records(gpu, cpu, 1e-4);
}

TEST(GpuRun, AffineSyncBnOnCudaMatchesCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kSquareBn + " --set model.bn_affine=true --set model.sync_bn=true --set steps=20";
  expect_same_records(run("sync_bn_cuda", common + " --set device=cuda"),
                      run("sync_bn_cpu", common + " --set device=cpu"), 1e-4);
}

// A checkpoint written by a GPU run with batch norm (weights, running statistics, momentum) resumes
// on the GPU and on the CPU, both on the uninterrupted GPU run's trajectory.
TEST(GpuRun, BatchNormCheckpointResumesOnGpuAndCpu) {
  NS_REQUIRE_CUDA_DEVICE();
  const std::string common = kSquareBn + " --set model.bn_affine=true --set checkpoint_every=10";
  const fs::path whole = run("bn_resume_whole", common + " --set device=cuda --set steps=30");
  const fs::path part = run("bn_resume_part", common + " --set device=cuda --set steps=10");
  const auto result = testing::run_normscale("train " + common + " --set device=cuda --set steps=30 --resume --out " +
                                             part.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_same_records(part, whole, 1e-5);
  const fs::path on_cpu = run("bn_resume_cpu_part", common + " --set device=cuda --set steps=10");
  const auto cpu_result = testing::run_normscale("train " + common + " --set device=cpu --set steps=30 --resume --out " +
                                                 on_cpu.string());
  ASSERT_EQ(cpu_result.exit_code, 0) << cpu_result.output;
  expect_same_records(on_cpu, whole, 1e-4);
}

}  // namespace
}  // namespace normscale
