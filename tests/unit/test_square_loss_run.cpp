// The square-loss papers' setting end to end through the binary, on CIFAR-10 files generated in the
// exact binary format: two classes, the ConvNet with batch norm, +-1 targets on one output, the
// instruments (margins, neural collapse) in metrics.jsonl, and a resume that restores batch norm's
// running statistics.
#include "normscale/model/gemm_backend.hpp"
#include "support/data_files.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace normscale {
namespace {

namespace fs = std::filesystem;

// Six classes; class c has a bright stripe at row 4c in channel c % 3, plus noise.
void write_cifar(const fs::path& dir) {
  const auto label = [](Index i) { return i % 6; };
  const auto pixel = [&](Index i, Index k) {
    const Index c = label(i), channel = k / 1024, y = (k % 1024) / 32;
    const Index stripe = channel == c % 3 && y == 4 * c ? 200 : 0;
    return (stripe + (i * 131 + k * 7) % 50) % 256;
  };
  for (int b = 1; b <= 5; ++b) {
    testing::write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                         testing::cifar::records((b - 1) * 24, 24, label, pixel));
  }
  testing::write_bytes(dir / "test_batch.bin", testing::cifar::records(1000, 36, label, pixel));
}

std::vector<nlohmann::json> metrics(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(SquareLossRun, ConvNetOnTwoCifarClassesWithInstrumentsAndResume) {
  const testing::TempDir dir("normscale_square_", "run");
  write_cifar(dir.path());
  const std::string run = dir.path("run");
  const std::string args =
      "train --preset square-bn-wd --set data.source=cifar10 --set data.path=" + dir.path().string() +
      " --set 'data.classes=[3, 5]' --set data.validation=8 --set model.type=convnet "
      "--set 'model.channels=[4, 6, 8]' --set optim.batch=8 --set virtual_shards=4 --set checkpoint_every=5 "
      "--set progress=false --set gallery=0";
  auto result = testing::run_normscale(args + " --set steps=10 --out " + run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // 120 training records, 40 of classes 3 and 5, 8 of them for validation.
  EXPECT_NE(result.output.find("(32 train / 8 validation / 12 test)"), std::string::npos) << result.output;
  const auto lines = metrics(run);
  const auto& last = lines.back();
  ASSERT_TRUE(last.contains("margins")) << last.dump();
  ASSERT_TRUE(last.contains("neural_collapse")) << last.dump();
  EXPECT_TRUE(last["margins"].contains("min"));
  EXPECT_GE(last["neural_collapse"]["nc1"].get<double>(), 0.0);
  EXPECT_EQ(last["layers"].size(), 4u);  // three convolutions and the classifier
  // The first record names what ran the convolutions (the binary's choice: float32, no NORMSCALE_CONV set here).
  EXPECT_EQ(lines.front().value("conv", ""), convolution_kernel_family<float>()) << lines.front().dump();

  // 10 steps, then resumed for one more, equals 11 steps straight: the evaluation (which uses batch
  // norm's running statistics) agrees only if the statistics came back with the checkpoint.
  result = testing::run_normscale(args + " --set steps=11 --resume --out " + run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resuming at step 10"), std::string::npos) << result.output;
  const std::string straight = dir.path("straight");
  result = testing::run_normscale(args + " --set steps=11 --out " + straight);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const double resumed_loss = metrics(run).back()["train_loss"].get<double>();
  const double straight_loss = metrics(straight).back()["train_loss"].get<double>();
  EXPECT_EQ(metrics(run).back()["step"], 11);
  EXPECT_NEAR(resumed_loss, straight_loss, 1e-6 * std::abs(straight_loss));
}

}  // namespace
}  // namespace normscale
