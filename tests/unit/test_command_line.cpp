// The command line rejects bad options before training, naming the option and what was expected.
#include "normscale/train/run_directory_lock.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <utility>

namespace normscale {
namespace {

// Each test its own run directory: ctest runs these processes in parallel, and a rejection that comes after
// the run directory is locked (a missing data file, a batch larger than the data) must not meet another
// test's lock on a shared default directory.
void expect_rejected(const std::string& arguments, const std::string& must_mention) {
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  const auto result =
      testing::run_normscale("train --set progress=false --out " + out.path("run") + " " + arguments);
  EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output;
  EXPECT_NE(result.output.find("normscale: error:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(must_mention), std::string::npos) << "expected '" << must_mention << "' in:\n"
                                                                  << result.output;
  EXPECT_EQ(result.output.find("normscale: done"), std::string::npos) << "it must not train";
}

// precision = "bf16" on a CPU without bf16 dot products (imitated: oneDNN held to AVX2) is an error naming the
// option, before any training.
TEST(CommandLine, Bf16WithoutBf16InstructionsIsRefused) {
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  const auto result = testing::run_shell("ONEDNN_MAX_CPU_ISA=AVX2 " + std::string(NORMSCALE_BINARY) +
                                         " train --set progress=false --set data.source=separable-2d "
                                         "--set precision=bf16 --out " + out.path("run"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("precision = \"bf16\""), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("normscale: done"), std::string::npos) << "it must not train";
}

TEST(CommandLine, RejectsNegativeS) { expect_rejected("--set objective.s=-1", "objective.s"); }
TEST(CommandLine, RejectsZeroBatch) { expect_rejected("--set optim.batch=0", "optim.batch"); }
TEST(CommandLine, RejectsUnknownKeyWithSuggestion) { expect_rejected("--set optim.momentom=0.9", "optim.momentum"); }
TEST(CommandLine, RejectsUnknownPreset) { expect_rejected("--preset paper-adam", "paper-minnorm-sgd"); }
TEST(CommandLine, RejectsBatchLargerThanData) {
  expect_rejected("--set data.source=two-point --set 'model.hidden=[]' --set optim.batch=3", "optim.batch");
}
TEST(CommandLine, RejectsMissingConfigFile) { expect_rejected("--config /nonexistent/run.toml", "/nonexistent/run.toml"); }
TEST(CommandLine, RejectsMissingDataFiles) {
  expect_rejected("--set data.source=idx --set data.path=/nonexistent/mnist", "/nonexistent/mnist");
}

// An empty --out or --config is a value like any other, checked as such (an empty --out trained into runs/latest).
TEST(CommandLine, AnEmptyOutOrConfigIsRefusedNotIgnored) {
  auto result = testing::run_normscale("train --set progress=false --out ''");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("out = \"\" is not valid"), std::string::npos) << result.output;
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  result = testing::run_normscale("train --set progress=false --config '' --out " + out.path("run"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("no such file (check the path given to --config)"), std::string::npos)
      << result.output;
}

TEST(CommandLine, ConfigFileWithBadTypeNamesFileAndKey) {
  const auto path = std::filesystem::temp_directory_path() / "normscale_bad_type.toml";
  std::ofstream(path) << "[optim]\nlr = \"fast\"\n";
  expect_rejected("--config " + path.string(), "optim.lr");
}

// The scheduler's and the report's numbers say what was expected (CLI11's ranges printed 1.79e308 in full, let NaN and
// an overflowing integer through), and an unknown command is named (it was "A subcommand is required").
TEST(CommandLine, CommandNumbersAndUnknownCommandsAreRefusedSayingWhatWasExpected) {
  const std::pair<const char*, const char*> cases[] = {
      {"study run s.toml --cores 0", "--cores: got 0; expected an integer in [1, 1048576]"},
      {"study run s.toml --cores 2x", "--cores: got 2x; expected an integer"},
      {"report s.toml --cores 99999999999999999999", "--cores: got 99999999999999999999; expected an integer"},
      {"report s.toml --bandwidth nan", "--bandwidth: got nan; expected a number of GB/s in [1e-06, 1e+06]"},
      {"report s.toml --latency inf", "--latency: got inf; expected a number of microseconds"},
      {"study status s.toml --interval nan", "--interval: got nan; expected a number of seconds in [0.1, 3600]"},
      {"bogus s.toml", "unknown command 'bogus'; expected train, inspect, study or report"},
  };
  for (const auto& [arguments, said] : cases) {
    const auto result = testing::run_normscale(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << "\n" << result.output;
    EXPECT_NE(result.output.find(said), std::string::npos) << arguments << "\n" << result.output;
  }
}

TEST(CommandLine, HelpDocumentsEveryOption) {
  const auto result = testing::run_normscale("train --help");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* key : {"objective.rho", "objective.s", "objective.alpha_update", "optim.batch", "model.hidden",
                          "data.preprocess", "precision", "virtual_shards"}) {
    EXPECT_NE(result.output.find(key), std::string::npos) << key;
  }
}

TEST(CommandLine, TrainsASyntheticProblemToCompletion) {
  const auto out = std::filesystem::temp_directory_path() / "normscale_cli_two_point";
  std::filesystem::remove_all(out);
  const auto result = testing::run_normscale(
      "train --set data.source=two-point --set 'model.hidden=[]' --set model.bias=false --set objective.task=binary "
      "--set optim.batch=full --set optim.lr=0.05 --set objective.s=0.0125 --set objective.rho=0 --set steps=1000 "
      "--set precision=float64 --set progress=false --out " + out.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("train error 0.00%"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("support vectors 100.00%"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("constraints are not met"), std::string::npos) << result.output;
}

// "done" means the budget was trained: a hard-margin Minnorm run that ends misclassifying training examples says
// that its constraints are not met (its multipliers keep growing); with slack, misclassified examples are allowed.
TEST(CommandLine, AHardMarginRunThatDoesNotFitTheTrainingSetSaysSo) {
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  const std::string two_point =
      "train --set data.source=two-point --set 'model.hidden=[]' --set model.bias=false --set objective.task=binary "
      "--set optim.batch=full --set optim.lr=0.05 --set objective.s=0.0125 --set objective.rho=0 --set steps=3 "
      "--set precision=float64 --set progress=false ";
  const auto hard = testing::run_normscale(two_point + "--out " + out.path("hard"));
  ASSERT_EQ(hard.exit_code, 0) << hard.output;
  EXPECT_NE(hard.output.find("train error 100.00%"), std::string::npos) << hard.output;
  EXPECT_NE(hard.output.find("100.00% of the training set is misclassified, so the hard-margin constraints are not "
                             "met and this is not a minimum-norm fit; hint: train longer, or allow slack with "
                             "objective.C"),
            std::string::npos)
      << hard.output;
  const auto slack = testing::run_normscale(two_point + "--set objective.C=1 --out " + out.path("slack"));
  ASSERT_EQ(slack.exit_code, 0) << slack.output;
  EXPECT_NE(slack.output.find("train error 100.00%"), std::string::npos) << slack.output;
  EXPECT_EQ(slack.output.find("constraints are not met"), std::string::npos) << slack.output;
}

// A regression run has no classification errors: its records and its summary give the losses (an error of 0%
// would read as a perfect fit, and a study would find every trial at its target at step 0).
TEST(CommandLine, ARegressionRunReportsLossesNotErrors) {
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  const auto result = testing::run_normscale(
      "train --set data.source=sinusoid --set objective.regime=square --set objective.task=regression "
      "--set steps=20 --set 'model.hidden=[16]' --set progress=false --out " + out.path("run"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("train loss "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("validation n/a, test loss "), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("error"), std::string::npos) << result.output;
  const std::vector<nlohmann::json> records = evaluation_records(out.path("run"));
  ASSERT_FALSE(records.empty());
  for (const nlohmann::json& record : records) {
    EXPECT_TRUE(record.contains("train_loss") && record.contains("test_loss")) << record.dump();
    EXPECT_FALSE(record.contains("train_error") || record.contains("test_error")) << record.dump();
  }
}

// The divergence message's "last good evaluation" is one whose training loss was within divergence_limit: the
// evaluation after step 3 already read 1.4e6 (the step that crossed the limit came after it).
TEST(CommandLine, TheLastGoodEvaluationOfADivergedRunIsWithinTheLimit) {
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  const auto result = testing::run_normscale(
      "train --set data.source=two-point --set 'model.hidden=[]' --set objective.regime=square --set optim.batch=full "
      "--set optim.lr=5 --set steps=50 --set eval_every=1 --set divergence_limit=1e6 --set precision=float64 "
      "--set progress=false --out " + out.path("run"));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("training diverged at step 4"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Last good evaluation: step 2 ("), std::string::npos) << result.output;
  const std::vector<nlohmann::json> records = evaluation_records(out.path("run"));
  ASSERT_GE(records.size(), 4U);
  EXPECT_GT(records[3].at("train_loss").get<double>(), 1e6);
}

// The evaluation after a last step between eval_every's is marked off the cadence (a study times a run stopped and
// resumed there as one that was not); those of the cadence are not.
TEST(CommandLine, AnEvaluationOffTheCadenceIsMarked) {
  const testing::TempDir out("normscale_cli_", testing::current_test_name());
  const auto result = testing::run_normscale(
      "train --set data.source=two-point --set 'model.hidden=[]' --set objective.task=binary --set optim.batch=full "
      "--set steps=7 --set eval_every=5 --set progress=false --out " +
      out.path("run"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::vector<nlohmann::json> records = evaluation_records(out.path("run"));
  ASSERT_EQ(records.size(), 3U);
  for (const nlohmann::json& record : records) {
    EXPECT_EQ(record.value("off_cadence", false), record.at("step").get<int>() == 7) << record.dump();
  }
}

}  // namespace
}  // namespace normscale
