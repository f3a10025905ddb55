// `normscale inspect`: the last evaluation of a run directory as a table; torn lines and events skipped.
#include "normscale/cli/inspect.hpp"
#include "normscale/core/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace normscale {
namespace {

TEST(Inspect, ShowsTheLatestEvaluation) {
  const auto dir = std::filesystem::temp_directory_path() / "normscale_inspect";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "metrics.jsonl")
      << R"({"step":0,"epoch":0.0,"train_error":90.0})" << "\n"
      << R"({"step":10,"epoch":1.5,"train_error":12.5,"rho":3.25,"support_per_output":[1,2],)"
      << R"("layers":[{"name":"layer1","frobenius":2.0,"spectral":1.5,"stable_rank":1.7777}]})" << "\n"
      << R"({"event":"diverged","step":11})" << "\n"
      << R"({"step":12,"train_err)";  // torn by a kill
  const std::string table = inspect_run(dir.string());
  EXPECT_NE(table.find("step 10, epoch 1.50"), std::string::npos) << table;
  EXPECT_NE(table.find("train_error"), std::string::npos);
  EXPECT_NE(table.find("12.5"), std::string::npos);
  EXPECT_NE(table.find("3.25"), std::string::npos);
  EXPECT_NE(table.find("[1,2]"), std::string::npos);
  EXPECT_NE(table.find("layer1"), std::string::npos);
  EXPECT_NE(table.find("1.7777"), std::string::npos);
  EXPECT_EQ(table.find("90"), std::string::npos) << "only the latest evaluation";
}

TEST(Inspect, MissingRunIsAClearError) {
  try {
    inspect_run("/nonexistent/run");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/run/metrics.jsonl"), std::string::npos) << e.what();
  }
}

// A record with a field of another type than normscale writes ("step" a string) is an error naming the file.
TEST(Inspect, AFieldOfAnotherTypeIsAnErrorNamingTheFile) {
  const auto dir = std::filesystem::temp_directory_path() / "normscale_inspect_types";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "metrics.jsonl") << R"({"step":"x","epoch":0.5})" << "\n";
  try {
    inspect_run(dir.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find((dir / "metrics.jsonl").string() + ": its last evaluation record is not as normscale "
                                                               "writes it"),
              std::string::npos)
        << message;
  }
  // A step of 1e300 is no integer step either (it was shown as -9223372036854775808).
  std::ofstream(dir / "metrics.jsonl") << R"({"step":1e300,"epoch":0.5})"
                                       << "\n";
  EXPECT_THROW(inspect_run(dir.string()), Error);
  // A folder named metrics.jsonl is said to be one (it "held no evaluation yet").
  std::filesystem::remove(dir / "metrics.jsonl");
  std::filesystem::create_directory(dir / "metrics.jsonl");
  try {
    inspect_run(dir.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl is a folder"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace normscale
