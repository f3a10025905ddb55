// Trajectory pins: each case of tests/data/trajectory/cases.txt (Minnorm exact / lagged+unbiased /
// full batch, SGD with weight decay, momentum, NMGD and warmup, square loss with batch norm) trains 50
// float64 steps through the binary and must land on the weights and multipliers that the code before
// the single-step refactoring wrote (generate.sh beside the cases), to 1e-6 relative.
#include "normscale/data/npy.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace normscale {
namespace {

namespace fs = std::filesystem;

const fs::path kCases = fs::path(NORMSCALE_TEST_DATA_DIR) / "trajectory";

struct Case {
  std::string name;
  std::string arguments;
};

// The cases and the arguments common to all of them ("common: ..."), as generate.sh reads them.
std::vector<Case> read_cases(std::string& common) {
  std::ifstream in(kCases / "cases.txt");
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    Case c{line.substr(0, colon), line.substr(colon + 2)};
    if (c.name == "common") {
      common = c.arguments;
    } else {
      cases.push_back(c);
    }
  }
  return cases;
}

// Largest |a - b| / max(1, |b|) over the elements: relative for large values, absolute near zero.
double largest_difference(const NpyArray& a, const NpyArray& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    worst = std::max(worst, std::abs(a.values[i] - b.values[i]) / std::max(1.0, std::abs(b.values[i])));
  }
  return worst;
}

TEST(TrajectoryReference, EveryCaseLandsOnTheReferenceWeights) {
  if (!fs::exists(fs::path(NORMSCALE_FASHION_MNIST_DIR) / "train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  }
  std::string common;
  const std::vector<Case> cases = read_cases(common);
  ASSERT_EQ(cases.size(), 5u) << "cases.txt lists the five trajectory cases";
  ASSERT_FALSE(common.empty());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const testing::TempDir work("normscale_trajectory_", c.name);
    const fs::path out = work.path() / "run";
    const auto result = testing::run_normscale("train " + c.arguments + " " + common + " --out " + out.string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
    Index files = 0;
    for (const auto& entry : fs::directory_iterator(kCases / c.name)) {
      const std::string file = entry.path().filename().string();
      ASSERT_TRUE(fs::exists(out / file)) << file;
      const NpyArray reference = read_npy(entry.path().string());
      const NpyArray now = read_npy((out / file).string());
      ASSERT_EQ(now.shape, reference.shape) << file;
      EXPECT_LT(largest_difference(now, reference), 1e-6) << file;
      ++files;
    }
    EXPECT_GE(files, 3) << "reference files of " << c.name;
  }
}

}  // namespace
}  // namespace normscale
