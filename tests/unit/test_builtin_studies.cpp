// The built-in studies in launch/studies/ parse and expand into valid trials, with the axes they promise.
#include "normscale/study/study_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace normscale {
namespace {

// NORMSCALE_TEST_DATA_DIR is tests/data of the source tree.
// lexically_normal: tests/data itself may not exist (an empty folder is not in a fresh clone).
const std::filesystem::path kStudies =
    (std::filesystem::path(NORMSCALE_TEST_DATA_DIR) / ".." / ".." / "launch" / "studies").lexically_normal();

std::set<std::string> regimes_of(const std::vector<Trial>& trials) {
  std::set<std::string> names;
  for (const Trial& trial : trials) names.insert(trial.regime);
  return names;
}

TEST(BuiltinStudies, EveryFileParsesAndExpands) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kStudies)) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().string());
    const StudySpec spec = read_study_file(entry.path());
    const std::vector<Trial> trials = expand(spec);  // validates every trial's config
    EXPECT_FALSE(trials.empty());
    EXPECT_NO_THROW(refuse_trials_that_train_alike(spec, trials));
    EXPECT_EQ(spec.name, entry.path().stem().string());  // the report and database names follow the file
    names.insert(entry.path().filename().string());
  }
  for (const char* expected : {"paper-table1.toml", "large-batch.toml", "square-loss-init.toml", "demo.toml",
                               "theory3-degenerate-regression.toml", "theory3-perturb-retrain.toml",
                               "theory3-depth.toml", "theory3-exponential-vs-minnorm.toml"}) {
    EXPECT_TRUE(names.contains(expected)) << expected << " missing from " << kStudies;
  }
}

TEST(BuiltinStudies, PaperTable1HasTheFourAppendixDRegimesOverSeeds) {
  const std::vector<Trial> trials = expand(read_study_file(kStudies / "paper-table1.toml"));
  EXPECT_EQ(regimes_of(trials), (std::set<std::string>{"sgd", "weight-decay", "minnorm-sgd", "minnorm-bgd"}));
  std::map<std::string, const Trial*> at_paper_batch;
  std::set<std::uint64_t> seeds;
  for (const Trial& trial : trials) {
    seeds.insert(trial.seed);
    EXPECT_EQ(trial.config.data.source, "fashion-mnist");
    EXPECT_EQ(trial.config.model.hidden, (std::vector<std::int64_t>{800, 800}));
    const bool paper_batch = trial.regime == "minnorm-bgd" ? trial.batch == kFullBatch : trial.batch == 128;
    if (paper_batch) at_paper_batch[trial.regime] = &trial;
  }
  EXPECT_GE(seeds.size(), 3U);
  ASSERT_EQ(at_paper_batch.size(), 4U);
  // The presets' settings (ALGORITHMS.md, Appendix D).
  EXPECT_EQ(at_paper_batch["sgd"]->config.objective.regime, "sgd");
  EXPECT_DOUBLE_EQ(at_paper_batch["sgd"]->config.optim.lr, 0.1);
  EXPECT_DOUBLE_EQ(at_paper_batch["weight-decay"]->config.optim.weight_decay, 5e-4);
  EXPECT_EQ(at_paper_batch["minnorm-sgd"]->config.objective.regime, "minnorm");
  EXPECT_DOUBLE_EQ(at_paper_batch["minnorm-sgd"]->config.objective.rho, 7.8125);
  EXPECT_DOUBLE_EQ(at_paper_batch["minnorm-sgd"]->config.objective.s, 7.8125);
  EXPECT_DOUBLE_EQ(at_paper_batch["minnorm-sgd"]->config.optim.lr, 1e-5);
  EXPECT_DOUBLE_EQ(at_paper_batch["minnorm-bgd"]->config.objective.s, 2e-4);
  EXPECT_DOUBLE_EQ(at_paper_batch["minnorm-bgd"]->config.optim.lr, 1e-3);
}

TEST(BuiltinStudies, LargeBatchCoversBatchesRegimesAndRanks) {
  const StudySpec spec = read_study_file(kStudies / "large-batch.toml");
  EXPECT_EQ(spec.batches, (std::vector<std::int64_t>{128, 1024, 8192, kFullBatch}));
  EXPECT_EQ(spec.ranks, (std::vector<std::int64_t>{1, 2}));
  const std::vector<Trial> trials = expand(spec);
  EXPECT_EQ(regimes_of(trials), (std::set<std::string>{"sgd", "sgd-wd", "minnorm", "square-bn-wd"}));
  for (const Trial& trial : trials) {
    if (trial.regime == "square-bn-wd") {
      EXPECT_TRUE(trial.config.model.batch_norm);
      EXPECT_TRUE(trial.config.model.sync_bn);  // the same trajectory on 1 and 2 ranks
      EXPECT_GT(trial.config.optim.weight_decay, 0.0);
    }
    // 2 ranks must divide the virtual shards.
    EXPECT_EQ(trial.config.virtual_shards % trial.ranks, 0);
  }
}

// Theory III's experiments (issue #14): each perturbed regime has its control, the degenerate regression is the
// paper's linear model from zero, and the depth study starts every depth at rho = 1.
TEST(BuiltinStudies, TheoryIIIStudiesPairPerturbedRunsWithControls) {
  std::map<std::string, std::set<std::string>> regimes;
  for (const char* file : {"theory3-degenerate-regression.toml", "theory3-perturb-retrain.toml", "theory3-depth.toml",
                           "theory3-exponential-vs-minnorm.toml"}) {
    for (const Trial& trial : expand(read_study_file(kStudies / file))) {
      const TrainConfig& c = trial.config;
      regimes[file].insert(trial.regime);
      EXPECT_EQ(c.perturb.enabled(), trial.regime.ends_with("perturbed")) << file << " " << trial.regime;
      if (std::string(file) == "theory3-degenerate-regression.toml") {
        EXPECT_EQ(c.data.source, "polynomial-sine");
        EXPECT_TRUE(c.model.hidden.empty());
        EXPECT_EQ(c.model.init, "zeros");
        EXPECT_EQ(c.optim.batch, kFullBatch);
        EXPECT_DOUBLE_EQ(c.optim.lr, 0.2);
      }
      if (std::string(file) == "theory3-depth.toml") {
        EXPECT_EQ(c.model.init, "frobenius");
        EXPECT_DOUBLE_EQ(c.model.init_scale, 1.0);
        EXPECT_EQ(c.objective.regime, "exponential");
      }
    }
  }
  EXPECT_EQ(regimes["theory3-degenerate-regression.toml"],
            (std::set<std::string>{"degree4", "degree4-perturbed", "degree30", "degree30-perturbed", "degree39",
                                   "degree39-perturbed"}));
  EXPECT_EQ(regimes["theory3-perturb-retrain.toml"], (std::set<std::string>{"control", "perturbed"}));
  EXPECT_EQ(regimes["theory3-depth.toml"].size(), 4U);
  EXPECT_EQ(regimes["theory3-exponential-vs-minnorm.toml"],
            (std::set<std::string>{"exponential", "exponential-lagrange", "exponential-tangent", "minnorm"}));
}

TEST(BuiltinStudies, SquareLossInitCrossesNormsWithNormalization) {
  const std::vector<Trial> trials = expand(read_study_file(kStudies / "square-loss-init.toml"));
  std::set<std::pair<std::string, double>> cells;  // (normalization, init norm)
  for (const Trial& trial : trials) {
    const TrainConfig& c = trial.config;
    EXPECT_EQ(c.objective.regime, "square");
    EXPECT_EQ(c.data.classes, (std::vector<std::int64_t>{0, 6}));
    EXPECT_EQ(c.model.init, "frobenius");
    const std::string kind = !c.model.batch_norm ? "none" : c.optim.weight_decay > 0 ? "bn-wd" : "bn";
    if (kind == "none") {
      EXPECT_DOUBLE_EQ(c.optim.weight_decay, 0.0);
    }
    cells.insert({kind, c.model.init_scale});
  }
  EXPECT_EQ(cells.size(), 9U);
  for (const char* kind : {"bn-wd", "bn", "none"}) {
    for (const double norm : {0.1, 1.0, 5.0}) EXPECT_TRUE(cells.contains({kind, norm})) << kind << " " << norm;
  }
}

TEST(BuiltinStudies, DemoIsSmallAndAsksTheLargeBatchQuestion) {
  const StudySpec spec = read_study_file(kStudies / "demo.toml");
  const std::vector<Trial> trials = expand(spec);
  EXPECT_LE(trials.size(), 16U);
  EXPECT_GE(spec.batches.size(), 2U);
  EXPECT_GE(spec.seeds.size(), 2U);
  EXPECT_GE(spec.ranks.size(), 2U);  // for the scaling plot
  EXPECT_TRUE(spec.target.has_value());                  // for the steps / time to target plots
  EXPECT_TRUE(regimes_of(trials).contains("minnorm"));    // for the support-vector plot
  for (const Trial& trial : trials) {
    EXPECT_EQ(trial.config.data.source, "fashion-mnist");
    EXPECT_LE(trial.config.epochs, 10);
    EXPECT_GT(trial.config.data.train_limit, 0);
    EXPECT_LE(trial.config.data.train_limit, 20000);
  }
}

}  // namespace
}  // namespace normscale
