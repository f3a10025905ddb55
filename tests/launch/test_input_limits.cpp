// Inputs too large for the machine end `normscale train` with exit code 2 and a one-line error naming the file
// or option and the bytes (#12, #18): a corrupt IDX header, a model that cannot fit, memory that runs out.
#include "support/data_files.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;

const std::string kSeparable =
    "train --set data.source=separable-2d --set objective.task=binary --set progress=false --set epochs=1 ";

void expect_error(const testing::CommandResult& result, const std::string& expected) {
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("normscale: error: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(expected), std::string::npos) << "expected '" << expected << "' in\n"
                                                             << result.output;
}

TEST(InputLimits, HundredMillionHiddenUnitsAreRefusedNamingTheOptionAndBytes) {
  const testing::TempDir out("normscale_limits_", "hidden");
  const auto result = testing::run_normscale(kSeparable + "--set 'model.hidden=[100000000]' --out " +
                                             out.path().string());
  expect_error(result, "model.hidden = [100000000]");
  EXPECT_NE(result.output.find("bytes of physical memory"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("bad_alloc"), std::string::npos) << result.output;
}

TEST(InputLimits, IdxHeaderClaiming2To28ImagesIsNamedPromptly) {
  const testing::TempDir dir("normscale_limits_", "idx");
  Bytes labels(300);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  testing::write_bytes(dir.path() / "train-images-idx3-ubyte",
                       testing::idx::images_file(std::uint32_t{1} << 28, 28, 28, Bytes(300000)));
  testing::write_bytes(dir.path() / "train-labels-idx1-ubyte", testing::idx::labels_file(labels));
  testing::write_bytes(dir.path() / "t10k-images-idx3-ubyte", testing::idx::images_file(10, 28, 28, Bytes(7840)));
  testing::write_bytes(dir.path() / "t10k-labels-idx1-ubyte", testing::idx::labels_file(Bytes(10)));
  const auto result = testing::run_normscale("train --set data.source=idx --set data.path=" + dir.path().string() +
                                             " --set data.validation=10 --set progress=false --out " +
                                             dir.path("out"));
  expect_error(result, (dir.path() / "train-images-idx3-ubyte").string());
  EXPECT_NE(result.output.find("claims 268435456 images of 28 x 28 pixels"), std::string::npos) << result.output;
}

TEST(InputLimits, RunningOutOfMemoryIsAOneLineErrorNotACrash) {
  // 4,000,000 hidden units pass the physical-memory check, but not a 3 GB address-space limit: the
  // std::bad_alloc must come out as an error saying what was being done.
  const testing::TempDir out("normscale_limits_", "bad_alloc");
  const auto result = testing::run_shell("ulimit -v 3000000 && " + std::string(NORMSCALE_BINARY) + " " + kSeparable +
                                         "--set 'model.hidden=[4000000]' --out " + out.path().string());
  if (result.output.find("Sanitizer") != std::string::npos) GTEST_SKIP() << "a sanitizer needs the address space";
  expect_error(result, "out of memory while building or training the model");
}

}  // namespace
}  // namespace normscale
