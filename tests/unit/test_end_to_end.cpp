// End to end through the binary: a short Minnorm run on a Fashion-MNIST subset lowers the training
// error and leaves every output of a run directory; a diverging run stops with a clear message and
// leaves what it wrote intact.
#include "normscale/data/npy.hpp"
#include "support/run_command.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace normscale {
namespace {

namespace fs = std::filesystem;

const std::string kSubset =
    "--set data.train_limit=2000 --set data.test_limit=500 --set data.validation=1000 --set 'model.hidden=[64]' "
    "--set optim.batch=100 --set progress=false";

std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));  // throws on a torn line
  return lines;
}

bool fashion_mnist_present() { return fs::exists(fs::path(NORMSCALE_FASHION_MNIST_DIR) / "train-images-idx3-ubyte.gz"); }

TEST(EndToEnd, MinnormOnFashionMnistSubsetLearnsAndWritesAllOutputs) {
  if (!fashion_mnist_present()) GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  const fs::path out = fs::temp_directory_path() / "normscale_e2e_minnorm";
  fs::remove_all(out);
  const auto result = testing::run_normscale("train --preset paper-minnorm-sgd-rho " + kSubset +
                                             " --set optim.lr=1e-4 --set objective.rho=1 --set objective.s=1"
                                             " --set epochs=10 --set objective.average_from_epoch=5 --out " +
                                             out.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("test error"), std::string::npos) << result.output;

  const auto metrics = read_metrics(out);
  ASSERT_GE(metrics.size(), 3u);
  const auto& first = metrics.front();
  const auto& last = metrics.back();
  EXPECT_LT(last["train_error"].get<double>(), 0.5 * first["train_error"].get<double>());
  for (const char* key : {"train_error", "train_loss", "validation_error", "test_error", "lagrangian", "weight_norm",
                          "rho", "capacity_bound", "support_fraction", "samples_per_s", "layers",
                          "constraints_violated", "complementary_slackness", "alpha_histogram", "support_churn",
                          "support_fraction_averaged", "support_fraction_stable"}) {
    EXPECT_TRUE(last.contains(key)) << key;
  }
  // Averaged over epochs 6-10: support at any of them (a superset of the stable support, support at most).
  EXPECT_EQ(first["support_fraction_averaged"].get<double>(), 0.0) << "nothing averaged at step 0";
  EXPECT_GT(last["support_fraction_stable"].get<double>(), 0.0);
  EXPECT_GE(last["support_fraction_averaged"].get<double>(), last["support_fraction_stable"].get<double>());
  EXPECT_GE(last["support_fraction_averaged"].get<double>(), last["support_fraction"].get<double>());
  std::printf("support fraction: last %.4f, stable %.4f, at any averaged epoch %.4f\n",
              last["support_fraction"].get<double>(), last["support_fraction_stable"].get<double>(),
              last["support_fraction_averaged"].get<double>());
  // The dual diagnostics: a fraction, a sum of non-negative terms, counts over every counted multiplier.
  EXPECT_GE(last["constraints_violated"].get<double>(), 0.0);
  EXPECT_LE(last["constraints_violated"].get<double>(), 1.0);
  EXPECT_GE(last["complementary_slackness"].get<double>(), 0.0);
  EXPECT_FALSE(first.contains("support_churn")) << "nothing to compare the first evaluation with";
  // The first record names the GEMM kernels that ran the products (issue #16); later ones do not repeat it.
  EXPECT_TRUE(first.contains("gemm")) << first.dump();
  EXPECT_FALSE(last.contains("gemm"));
  EXPECT_FALSE(first.contains("conv")) << "an MLP has no convolutions";
  // And the training set's size, what batch "full" means (data.train_limit = 2000).
  EXPECT_EQ(first["train_examples"], 2000) << first.dump();
  double histogram_total = 0.0;
  for (const auto& n : last["alpha_histogram"]["counts"]) histogram_total += n.get<double>();
  EXPECT_EQ(last["alpha_histogram"]["counts"].size(), last["alpha_histogram"]["edges"].size() + 1);
  EXPECT_GE(histogram_total, last["support_vectors"].get<double>());
  ASSERT_EQ(last["layers"].size(), 2u);
  for (const auto& layer : last["layers"]) {
    EXPECT_GT(layer["spectral"].get<double>(), 0.0);
    EXPECT_GE(layer["stable_rank"].get<double>(), 1.0 - 1e-9);
  }
  for (const char* file : {"config.toml", "layer1_weight.npy", "layer1_bias.npy", "layer2_weight.npy", "alpha.npy",
                           "alpha_average.npy", "support_vectors.csv", "support_vectors.png"}) {
    EXPECT_TRUE(fs::exists(out / file)) << file;
  }
  // The weight norm is the weight matrices'; the parameter norm (the objective's) adds the biases.
  double bias_squares = 0.0;
  for (const char* file : {"layer1_bias.npy", "layer2_bias.npy"}) {
    for (const double b : read_npy((out / file).string()).values) bias_squares += b * b;
  }
  ASSERT_GT(bias_squares, 0.0);
  EXPECT_NEAR(last["parameter_norm"].get<double>(), last["weight_norm"].get<double>() + bias_squares,
              1e-6 * last["parameter_norm"].get<double>());
  // One CSV row per support vector.
  std::ifstream csv(out / "support_vectors.csv");
  std::string line;
  long rows = -1;  // header
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(static_cast<double>(rows), last["support_vectors"].get<double>());
}

// The averaged multipliers (objective.average_from_epoch) go on after a resume as in the uninterrupted run: the
// restored multiplier rows kept their layout but lost where the averages start, so the averaged fields vanished from
// the records and alpha_average.npy stayed the interrupted run's. And the support churn: resumed from an evaluation's
// step, the first evaluation compares with that evaluation's support set (it had none to compare with).
TEST(EndToEnd, AveragedMultipliersAndSupportChurnGoOnAfterAResume) {
  if (!fashion_mnist_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const std::string run = "train --preset paper-minnorm-sgd-rho " + kSubset +
                          " --set optim.lr=1e-4 --set objective.rho=1 --set objective.s=1 --set 'model.hidden=[16]'"
                          " --set objective.average_from_epoch=1 --set checkpoint_every=20 --out ";
  const fs::path whole = fs::temp_directory_path() / "normscale_e2e_average_whole";
  const fs::path resumed = fs::temp_directory_path() / "normscale_e2e_average_resumed";
  fs::remove_all(whole);
  fs::remove_all(resumed);
  ASSERT_EQ(testing::run_normscale(run + whole.string() + " --set epochs=4").exit_code, 0);
  ASSERT_EQ(testing::run_normscale(run + resumed.string() + " --set epochs=2").exit_code, 0);
  const auto result = testing::run_normscale(run + resumed.string() + " --set epochs=4 --resume");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto a = read_metrics(whole), b = read_metrics(resumed);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].value("support_churn", -1.0), a[i].value("support_churn", -1.0)) << "step " << a[i]["step"];
  }
  EXPECT_TRUE(b.back().contains("support_churn"));
  for (const char* key : {"support_fraction_averaged", "support_fraction_stable"}) {
    ASSERT_TRUE(b.back().contains(key)) << key << " in " << b.back().dump();
    EXPECT_EQ(b.back()[key], a.back()[key]) << key;
  }
  EXPECT_EQ(read_npy((resumed / "alpha_average.npy").string()).values,
            read_npy((whole / "alpha_average.npy").string()).values);
}

// The instruments say nothing where they have nothing to measure (regression; rho = 0 with zero weights) instead of
// failing the run on an internal error ("cannot use update() with null"), and the run writes all its outputs.
TEST(EndToEnd, InstrumentsOnRegressionOrZeroWeightsLeaveTheRunWhole) {
  for (const std::string& problem :
       {std::string("--set data.source=sinusoid --set 'model.hidden=[16]' --set objective.regime=square "
                    "--set optim.lr=0.01"),
        std::string("--set data.source=separable-2d --set 'model.hidden=[]' --set model.init=zeros")}) {
    const fs::path out = fs::temp_directory_path() / "normscale_e2e_instruments_nothing";
    fs::remove_all(out);
    const auto result = testing::run_normscale("train " + problem +
                                               " --set steps=20 --set eval_every=10 --set instruments=true "
                                               "--set progress=false --out " +
                                               out.string());
    ASSERT_EQ(result.exit_code, 0) << problem << "\n" << result.output;
    const auto records = read_metrics(out);
    ASSERT_EQ(records.size(), 3u) << problem;
    EXPECT_FALSE(records.front().contains("margins")) << records.front().dump();
    EXPECT_TRUE(fs::exists(out / "layer1_weight.npy")) << problem;
  }
}

// Multipliers that overflow (s = 1e30) show in the evaluation (an infinite training loss) before the minibatch loss:
// the run stops there as diverged, and neither that record nor a checkpoint of that state is written as a good one.
TEST(EndToEnd, AnEvaluationWithNonFiniteFiguresIsADivergence) {
  const fs::path out = fs::temp_directory_path() / "normscale_e2e_evaluation_diverged";
  fs::remove_all(out);
  const auto result = testing::run_normscale(
      "train --set data.source=separable-2d --set 'model.hidden=[16]' --set steps=20 --set objective.s=1e30 "
      "--set eval_every=1 --set checkpoint_every=1 --set progress=false --out " +
      out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("the evaluation's train_loss is inf"), std::string::npos) << result.output;
  Index diverged = -1, last_evaluated = -1;
  for (const auto& record : read_metrics(out)) {
    if (record.value("event", "") == "diverged") diverged = record["step"].get<Index>();
    if (!record.contains("train_loss")) continue;
    EXPECT_TRUE(record["train_loss"].is_number()) << record.dump();
    last_evaluated = record["step"].get<Index>();
  }
  ASSERT_GT(diverged, 0);
  EXPECT_EQ(last_evaluated, diverged - 1);
  EXPECT_FALSE(fs::exists(out / "checkpoints" / fmt::format("step_{:010d}", diverged)));
  EXPECT_TRUE(fs::exists(out / "checkpoints" / fmt::format("step_{:010d}", diverged - 1)));
}

// Test features far beyond the training data's scale (1e38 with preprocess = none) make the test outputs overflow
// while training is sound: said at the first evaluation, naming the split (it reported null test losses and a test
// error counting the overflowed rows, with exit 0).
TEST(EndToEnd, TestFeaturesBeyondTheFloatRangeOfTheOutputsAreNamed) {
  const fs::path data = fs::temp_directory_path() / "normscale_e2e_huge_test_data";
  const fs::path out = fs::temp_directory_path() / "normscale_e2e_huge_test";
  fs::remove_all(data);
  fs::remove_all(out);
  fs::create_directories(data);
  std::vector<float> x_train, x_test;
  std::vector<std::int64_t> y_train, y_test;
  for (int i = 0; i < 40; ++i) {
    const float sign = i % 2 == 0 ? 1.0f : -1.0f;
    x_train.insert(x_train.end(), {sign * (1.0f + 0.01f * static_cast<float>(i)), 0.5f});
    y_train.push_back(i % 2);
    x_test.insert(x_test.end(), {sign * 1e38f, 1e38f});
    y_test.push_back(i % 2);
  }
  write_npy((data / "X_train.npy").string(), {40, 2}, x_train.data());
  write_npy((data / "y_train.npy").string(), {40}, y_train.data());
  write_npy((data / "X_test.npy").string(), {40, 2}, x_test.data());
  write_npy((data / "y_test.npy").string(), {40}, y_test.data());
  const auto result = testing::run_normscale(
      "train --set data.source=npy --set data.path=" + data.string() +
      " --set data.preprocess=none --set data.validation=0 --set 'model.hidden=[16]' --set objective.regime=sgd "
      "--set optim.batch=10 --set steps=10 --set progress=false --out " +
      out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("the test loss is"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("data.preprocess"), std::string::npos) << result.output;
}

TEST(EndToEnd, DivergenceStopsWithStepLayerAndLastGoodEvaluation) {
  if (!fashion_mnist_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const fs::path out = fs::temp_directory_path() / "normscale_e2e_diverge";
  fs::remove_all(out);
  const auto result = testing::run_normscale("train --preset paper-sgd " + kSubset +
                                             " --set optim.lr=1e6 --set epochs=5 --out " + out.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("diverged at step"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Last good evaluation: step 0"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("layer"), std::string::npos) << result.output;
  // What was written stays readable: the config and complete metrics lines, the last one saying why.
  EXPECT_TRUE(fs::exists(out / "config.toml"));
  const auto metrics = read_metrics(out);
  ASSERT_GE(metrics.size(), 2u);
  EXPECT_EQ(metrics.back()["event"], "diverged");
  EXPECT_FALSE(fs::exists(out / "layer1_weight.npy")) << "no non-finite weights are exported";
}

}  // namespace
}  // namespace normscale
