// Study files: parsing, grid expansion, per-batch grids, learning-rate scaling and errors naming the key.
#include "normscale/core/error.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/train/config_io.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr const char* kStudy = R"toml(
name = "batch-scaling"
lr_scaling = "linear"
base_batch = 128
warmup_epochs = 2.5
epochs = 4
batch = [128, 1024, "full"]
ranks = [1, 2]
seeds = [1, 2, 3]

[base]
"data.source" = "two-point"
model.hidden = [16]

[regimes]
sgd = { "objective.regime" = "sgd", "optim.lr" = 0.1 }
minnorm-bgd = ["objective.regime=minnorm", "optim.lr=0.01"]

[grid]
"optim.momentum" = [0.0, 0.9]

[grid_per_batch."1024"]
"objective.s" = [1e-4, 2e-4, 4e-4]
)toml";

// The error message of `body`, or "" when it does not throw normscale::Error.
template <class Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return {};
}

TEST(StudyFile, ParsesEveryAxis) {
  const StudySpec spec = parse_study(kStudy, "study.toml");
  EXPECT_EQ(spec.name, "batch-scaling");
  ASSERT_EQ(spec.regimes.size(), 2U);
  EXPECT_EQ(spec.regimes[0].name, "minnorm-bgd");  // TOML tables iterate in key order
  EXPECT_EQ(spec.regimes[1].overrides,
            (std::vector<ConfigOverride>{{"objective.regime", "\"sgd\""}, {"optim.lr", "0.1"}}));
  EXPECT_EQ(spec.batches, (std::vector<std::int64_t>{128, 1024, kFullBatch}));
  EXPECT_EQ(spec.ranks, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(spec.seeds, (std::vector<std::uint64_t>{1, 2, 3}));
  ASSERT_EQ(spec.grid.size(), 1U);
  EXPECT_EQ(spec.grid[0].values.size(), 2U);
  ASSERT_TRUE(spec.grid_per_batch.contains(1024));
  EXPECT_EQ(spec.lr_scaling, LrScaling::kLinear);
  EXPECT_EQ(spec.base_batch, 128);
  EXPECT_DOUBLE_EQ(spec.warmup_epochs, 2.5);
  EXPECT_EQ(spec.epochs, 4);
  EXPECT_EQ(spec.full_batch_size, 50000);
}

TEST(StudyFile, ExpansionIsTheCartesianProduct) {
  const std::vector<Trial> trials = expand(parse_study(kStudy, "study.toml"));
  // 2 regimes x 2 ranks x 3 seeds x (2 momenta at 128 and full, 2 x 3 s values at 1024).
  EXPECT_EQ(trials.size(), 2U * 2U * 3U * (2U + 6U + 2U));
  std::set<std::string> ids;
  for (const Trial& trial : trials) {
    ids.insert(trial.id);
    EXPECT_EQ(trial.id.size(), 16U);
    EXPECT_EQ(trial.study, "batch-scaling");
    EXPECT_EQ(trial.config.optim.batch, trial.batch);
    EXPECT_EQ(trial.config.seed, trial.seed);
    EXPECT_EQ(trial.config.epochs, 4);
    EXPECT_EQ(trial.config.data.source, "two-point");
    EXPECT_DOUBLE_EQ(trial.warmup_epochs, 2.5);
    EXPECT_DOUBLE_EQ(trial.config.optim.warmup_epochs, 2.5);  // applied to the trainer's config
  }
  EXPECT_EQ(ids.size(), trials.size());
}

TEST(StudyFile, IdsAreStableAcrossExpansions) {
  const std::vector<Trial> first = expand(parse_study(kStudy, "study.toml"));
  const std::vector<Trial> second = expand(parse_study(kStudy, "elsewhere/study.toml"));
  ASSERT_EQ(first.size(), second.size());
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].id, second[i].id);
  // The id follows the resolved config: another seed is another trial.
  EXPECT_NE(first[0].id, first[1].id);
}

TEST(StudyFile, PerBatchGridOnlyAtItsBatch) {
  for (const Trial& trial : expand(parse_study(kStudy, "study.toml"))) {
    const bool has_s = std::any_of(trial.grid_point.begin(), trial.grid_point.end(),
                                   [](const ConfigOverride& o) { return o.key == "objective.s"; });
    EXPECT_EQ(has_s, trial.batch == 1024) << describe_trial(trial);
    if (!has_s) {
      EXPECT_DOUBLE_EQ(trial.config.objective.s, TrainConfig{}.objective.s);
    }
  }
}

TEST(StudyFile, RegimeGridReplacesTheStudyGridAxisForThatRegimeOnly) {
  const StudySpec spec = parse_study(R"toml(
batch = [128]
[base]
"data.source" = "two-point"
[regimes]
sgd = { "objective.regime" = "sgd" }
minnorm = { "objective.regime" = "minnorm", grid = { "optim.lr" = [1e-6, 1e-5, 1e-4] } }
[grid]
"optim.lr" = [0.01, 0.1]
"optim.momentum" = [0.0, 0.9]
)toml",
                                     "study.toml");
  ASSERT_EQ(spec.regimes.size(), 2u);
  for (const Regime& regime : spec.regimes) EXPECT_EQ(regime.grid.size(), regime.name == "minnorm" ? 1u : 0u);
  std::map<std::string, std::set<double>> lrs;
  std::map<std::string, std::size_t> counts;
  for (const Trial& trial : expand(spec)) {
    lrs[trial.regime].insert(trial.config.optim.lr);
    ++counts[trial.regime];
  }
  EXPECT_EQ(lrs["sgd"], (std::set<double>{0.01, 0.1}));
  EXPECT_EQ(lrs["minnorm"], (std::set<double>{1e-6, 1e-5, 1e-4}));
  EXPECT_EQ(counts["sgd"], 4u);      // 2 lr x 2 momentum
  EXPECT_EQ(counts["minnorm"], 6u);  // 3 lr x 2 momentum: the momentum axis still applies
  // An invalid regime-grid value is reported against the regime's grid key.
  const StudySpec bad = parse_study(
      "[regimes]\nsgd = { \"objective.regime\" = \"sgd\", grid = { \"optim.lr\" = [-1.0] } }\n", "bad.toml");
  EXPECT_THAT(error_of([&] { expand(bad); }), HasSubstr("regimes.\"sgd\".grid.\"optim.lr\""));
  EXPECT_THAT(error_of([&] { parse_study("[regimes]\nsgd = { grid = 3 }\n", "bad.toml"); }),
              HasSubstr("bad.toml:2: regimes.\"sgd\".grid: expected a table"));
}

TEST(StudyFile, LinearScalingOfTheLearningRate) {
  for (const Trial& trial : expand(parse_study(kStudy, "study.toml"))) {
    const double base_lr = trial.regime == "sgd" ? 0.1 : 0.01;
    const double q = trial.batch == kFullBatch ? 50000.0 : static_cast<double>(trial.batch);
    EXPECT_DOUBLE_EQ(trial.lr_scale, q / 128.0);
    EXPECT_DOUBLE_EQ(trial.config.optim.lr, base_lr * q / 128.0) << describe_trial(trial);
  }
}

TEST(StudyFile, ScaleFactors) {
  EXPECT_DOUBLE_EQ(lr_scale_factor(LrScaling::kNone, 4096, 128, 50000), 1.0);
  EXPECT_DOUBLE_EQ(lr_scale_factor(LrScaling::kLinear, 512, 128, 50000), 4.0);
  EXPECT_DOUBLE_EQ(lr_scale_factor(LrScaling::kSqrt, 512, 128, 50000), 2.0);
  EXPECT_DOUBLE_EQ(lr_scale_factor(LrScaling::kSqrt, kFullBatch, 100, 40000), 20.0);
  EXPECT_DOUBLE_EQ(lr_scale_factor(LrScaling::kLinear, kFullBatch, 100, 40000), 400.0);
}

TEST(StudyFile, SqrtScalingWithFullBatchSize) {
  const std::vector<Trial> trials = expand(parse_study(R"toml(
lr_scaling = "sqrt"
base_batch = 100
full_batch_size = 10000
batch = [400, "full"]
[base]
"optim.lr" = 0.5
)toml", "s.toml"));
  ASSERT_EQ(trials.size(), 2U);
  EXPECT_EQ(trials[0].regime, "base");
  EXPECT_DOUBLE_EQ(trials[0].config.optim.lr, 0.5 * 2.0);
  EXPECT_EQ(trials[1].config.optim.batch, kFullBatch);
  EXPECT_DOUBLE_EQ(trials[1].config.optim.lr, 0.5 * 10.0);
}

TEST(StudyFile, PerBatchLearningRateIsNotScaled) {
  const std::vector<Trial> trials = expand(parse_study(R"toml(
lr_scaling = "linear"
base_batch = 100
batch = [200, 400]
[base]
"optim.lr" = 0.5
[grid_per_batch."400"]
"optim.lr" = [0.03]
)toml", "s.toml"));
  ASSERT_EQ(trials.size(), 2U);
  EXPECT_DOUBLE_EQ(trials[0].config.optim.lr, 1.0);
  EXPECT_DOUBLE_EQ(trials[1].config.optim.lr, 0.03);
}

TEST(StudyFile, StepsBudgetAndDefaults) {
  const std::vector<Trial> trials = expand(parse_study("steps = 500\npreset = \"paper-minnorm-bgd\"\n", "s.toml"));
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].config.steps, 500);
  EXPECT_EQ(trials[0].ranks, 1);
  EXPECT_EQ(trials[0].config.preset, "paper-minnorm-bgd");
}

TEST(StudyFile, UnknownOptionInRegimeNamesIt) {
  const std::string message = error_of([] {
    parse_study("[regimes]\nsgd = { \"objective.regim\" = \"sgd\" }\n", "bad.toml");
  });
  EXPECT_THAT(message, AllOf(HasSubstr("bad.toml:2"), HasSubstr("regimes.\"sgd\".\"objective.regim\""),
                             HasSubstr("did you mean 'objective.regime'")));
}

TEST(StudyFile, UnknownOptionInGridNamesIt) {
  const std::string message = error_of([] { parse_study("[grid]\n\"optim.lrr\" = [0.1]\n", "bad.toml"); });
  EXPECT_THAT(message, AllOf(HasSubstr("grid.\"optim.lrr\""), HasSubstr("optim.lr")));
  EXPECT_THAT(error_of([] { parse_study("[regimes]\nx = [\"optim.lrr=1\"]\n", "bad.toml"); }),
              HasSubstr("regimes.\"x\".\"optim.lrr\""));
}

TEST(StudyFile, WrongValueTypeNamesTheKey) {
  EXPECT_THAT(error_of([] { parse_study("[grid]\n\"optim.lr\" = [0.1, \"fast\"]\n", "bad.toml"); }),
              AllOf(HasSubstr("bad.toml:2"), HasSubstr("grid.\"optim.lr\"")));
}

TEST(StudyFile, EmptyAxesAreErrors) {
  EXPECT_THAT(error_of([] { parse_study("batch = []\n", "bad.toml"); }),
              AllOf(HasSubstr("batch"), HasSubstr("empty axis")));
  EXPECT_THAT(error_of([] { parse_study("seeds = []\n", "bad.toml"); }), HasSubstr("seeds"));
  EXPECT_THAT(error_of([] { parse_study("[grid]\n\"optim.lr\" = []\n", "bad.toml"); }),
              AllOf(HasSubstr("grid.\"optim.lr\""), HasSubstr("empty axis")));
  EXPECT_THAT(error_of([] { parse_study("[regimes]\n", "bad.toml"); }), HasSubstr("regimes"));
}

TEST(StudyFile, BadScalingRuleAndKeys) {
  EXPECT_THAT(error_of([] { parse_study("lr_scaling = \"cubic\"\nbase_batch = 1\n", "bad.toml"); }),
              AllOf(HasSubstr("lr_scaling"), HasSubstr("cubic"), HasSubstr("none, linear, sqrt")));
  EXPECT_THAT(error_of([] { parse_study("lr_scaling = \"linear\"\n", "bad.toml"); }),
              HasSubstr("base_batch"));
  EXPECT_THAT(error_of([] { parse_study("epoch = 3\n", "bad.toml"); }),
              AllOf(HasSubstr("unknown study key 'epoch'"), HasSubstr("[base]")));
  EXPECT_THAT(error_of([] { parse_study("epochs = 3\nsteps = 3\n", "bad.toml"); }), HasSubstr("budget"));
  EXPECT_THAT(error_of([] { parse_study("batch = [64]\n[grid_per_batch.\"128\"]\n\"objective.s\" = [1.0]\n", "bad.toml"); }),
              AllOf(HasSubstr("grid_per_batch.\"128\""), HasSubstr("not on the batch axis")));
}

TEST(StudyFile, InvalidTrialNamesTheTrialAndTheKey) {
  const StudySpec spec = parse_study("seeds = [7]\n[grid]\n\"optim.lr\" = [0.1, -1.0]\n", "bad.toml");
  const std::string message = error_of([&] { expand(spec); });
  EXPECT_THAT(message, AllOf(HasSubstr("seed=7"), HasSubstr("optim.lr=-1"), HasSubstr("grid.\"optim.lr\"")));
}

TEST(StudyFile, DuplicateTrialsAreAnError) {
  const StudySpec spec = parse_study("[regimes]\na = {}\nb = {}\n", "dup.toml");
  EXPECT_THAT(error_of([&] { expand(spec); }), HasSubstr("same config"));
}

TEST(StudyFile, SyntaxErrorNamesTheFile) {
  testing::TempDir dir("normscale_study_", "syntax");
  const std::string path = dir.path("broken.toml");
  std::ofstream(path) << "name = \"x\"\nbatch = [1, \n";
  EXPECT_THAT(error_of([&] { read_study_file(path); }),
              AllOf(HasSubstr("broken.toml"), HasSubstr("TOML syntax error")));
  EXPECT_THAT(error_of([&] { read_study_file(dir.path("missing.toml")); }), HasSubstr("missing.toml"));
}

TEST(StudyFile, NameDefaultsToTheFileStem) {
  testing::TempDir dir("normscale_study_", "stem");
  const std::string path = dir.path("sweep-a.toml");
  std::ofstream(path) << "seeds = [1, 2]\n";
  const StudySpec spec = read_study_file(path);
  EXPECT_EQ(spec.name, "sweep-a");
  EXPECT_EQ(expand(spec).size(), 2U);
}

TEST(StudyFile, GridPointAsJson) {
  const std::vector<Trial> trials = expand(parse_study(kStudy, "study.toml"));
  const auto at_1024 = std::find_if(trials.begin(), trials.end(), [](const Trial& t) { return t.batch == 1024; });
  ASSERT_NE(at_1024, trials.end());
  EXPECT_THAT(grid_point_json(*at_1024), AllOf(HasSubstr("\"optim.momentum\":"), HasSubstr("\"objective.s\":")));
}


TEST(StudyFile, TargetValidationError) {
  EXPECT_FALSE(parse_study("", "s.toml").target_validation_error.has_value());
  EXPECT_DOUBLE_EQ(*parse_study("target_validation_error = 12.5", "s.toml").target_validation_error, 12.5);
  EXPECT_THAT(error_of([] { parse_study("target_validation_error = \"low\"", "s.toml"); }),
              HasSubstr("target_validation_error"));
  EXPECT_THAT(error_of([] { parse_study("target_validation_error = 120", "s.toml"); }),
              HasSubstr("[0, 100]"));
}

}  // namespace
}  // namespace normscale
