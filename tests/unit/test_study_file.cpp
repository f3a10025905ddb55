// Study files: parsing, grid expansion, per-batch grids, quasi-random search, learning-rate scaling and errors
// naming the key.
#include "normscale/core/error.hpp"
#include "normscale/study/quasi_random.hpp"
#include "normscale/study/study_file.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/train/config_io.hpp"
#include "support/temp_dir.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

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
full_batch_size = 50000
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
"model.init_scale" = [0.5, 1.0, 2.0]
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
  // 2 regimes x 2 ranks x 3 seeds x (2 momenta at 128 and full, 2 x 3 init scales at 1024).
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
    const bool has_scale = std::any_of(trial.grid_point.begin(), trial.grid_point.end(),
                                       [](const ConfigOverride& o) { return o.key == "model.init_scale"; });
    EXPECT_EQ(has_scale, trial.batch == 1024) << describe_trial(trial);
    if (!has_scale) {
      EXPECT_DOUBLE_EQ(trial.config.model.init_scale, TrainConfig{}.model.init_scale);
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

// The scaling rule took batch "full" as 50000 examples, whatever the data (a study of 40 examples ran lr x 6250).
TEST(StudyFile, ScalingToTheFullBatchNeedsItsSize) {
  const std::string study = R"toml(
lr_scaling = "linear"
base_batch = 8
batch = [8, "full"]
[base]
"optim.lr" = 0.001
)toml";
  EXPECT_THAT(error_of([&] { expand(parse_study(study, "s.toml")); }),
              AllOf(HasSubstr("study s.toml: batch \"full\" with lr_scaling"), HasSubstr("expected full_batch_size")));
  const std::vector<Trial> trials = expand(parse_study("full_batch_size = 40\n" + study, "s.toml"));
  ASSERT_EQ(trials.size(), 2U);
  EXPECT_DOUBLE_EQ(trials[1].config.optim.lr, 0.001 * 40 / 8);
  // Its own learning rate at "full" needs no size.
  EXPECT_EQ(expand(parse_study(study + "[grid_per_batch.full]\n\"optim.lr\" = [0.002]\n", "s.toml")).size(), 2U);
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

// A regime's own grid_per_batch has the last word at its batch (e.g. a rule whose s has its own scale), for that
// regime only, is named as the values' origin, and its batch must be on the batch axis.
TEST(StudyFile, ARegimesPerBatchGridOverridesTheStudysAtThatBatch) {
  const std::vector<Trial> trials = expand(parse_study(R"toml(
batch = [128, 1024]
[regimes]
plain = { "objective.regime" = "minnorm" }
scaled = { "objective.regime" = "minnorm", "objective.curvature_step" = true, grid_per_batch = { "128" = { "objective.s" = [234.4, 468.8] } } }
[grid_per_batch."128"]
"objective.s" = [7.8125]
[grid_per_batch."1024"]
"objective.s" = [0.9765625]
)toml", "s.toml"));
  std::map<std::string, std::vector<double>> s_by;
  for (const Trial& t : trials) s_by[t.regime + "/" + std::to_string(t.batch)].push_back(t.config.objective.s);
  EXPECT_EQ(s_by["plain/128"], (std::vector<double>{7.8125}));
  EXPECT_EQ(s_by["plain/1024"], (std::vector<double>{0.9765625}));
  EXPECT_EQ(s_by["scaled/128"], (std::vector<double>{234.4, 468.8}));
  EXPECT_EQ(s_by["scaled/1024"], (std::vector<double>{0.9765625}));
  EXPECT_THAT(error_of([] {
                parse_study("batch = [64]\n[regimes]\nx = { grid_per_batch = { \"128\" = { \"objective.s\" = [1.0] } } }\n",
                            "bad.toml");
              }),
              AllOf(HasSubstr("regimes.\"x\".grid_per_batch.\"128\""), HasSubstr("not on the batch axis")));
}

// A regime's grid key that the study's grid_per_batch also sets is refused (the per-batch values would replace
// the regime's at that batch, silently), unless the regime's own grid_per_batch says what it runs there.
TEST(StudyFile, ARegimesGridKeyAlsoInTheStudysPerBatchGridIsRefused) {
  const std::string clash = R"toml(
batch = [128, 1024]
[regimes]
fast = { "objective.regime" = "sgd", grid = { "optim.lr" = [0.5, 1.0] } }
[grid_per_batch."1024"]
"optim.lr" = [0.01]
)toml";
  EXPECT_THAT(error_of([&] { parse_study(clash, "clash.toml"); }),
              AllOf(HasSubstr("clash.toml"), HasSubstr("regimes.\"fast\".grid sets \"optim.lr\""),
                    HasSubstr("grid_per_batch.\"1024\""), HasSubstr("regimes.\"fast\".grid_per_batch.\"1024\".\"optim.lr\"")));
  const std::vector<Trial> trials = expand(parse_study(R"toml(
batch = [128, 1024]
[regimes]
fast = { "objective.regime" = "sgd", grid = { "optim.lr" = [0.5, 1.0] }, grid_per_batch = { "1024" = { "optim.lr" = [2.0] } } }
[grid_per_batch."1024"]
"optim.lr" = [0.01]
)toml", "said.toml"));
  std::map<std::int64_t, std::vector<double>> lr_by;
  for (const Trial& t : trials) lr_by[t.batch].push_back(t.config.optim.lr);
  EXPECT_EQ(lr_by[128], (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(lr_by[1024], (std::vector<double>{2.0}));
}

// A regime's own setting that the study's grid, the regime's grid or a search range also sets would never run (the
// axis replaces it in every trial): refused, naming both. A per-batch grid replaces it at its batch only: allowed.
TEST(StudyFile, ARegimesSettingThatAnAxisReplacesEverywhereIsRefused) {
  const std::string study_grid = R"toml(
[regimes]
sgd = { "objective.regime" = "sgd", "optim.lr" = 0.5 }
[grid]
"optim.lr" = [0.01, 0.02]
)toml";
  EXPECT_THAT(error_of([&] { parse_study(study_grid, "grid.toml"); }),
              AllOf(HasSubstr("grid.toml: regimes.\"sgd\" sets \"optim.lr\" = 0.5, but the study's grid also sets "
                              "\"optim.lr\""),
                    HasSubstr("regimes.\"sgd\".grid")));
  const std::string own_grid = "[regimes]\nsgd = { \"optim.lr\" = 0.5, grid = { \"optim.lr\" = [0.1, 0.2] } }\n";
  EXPECT_THAT(error_of([&] { parse_study(own_grid, "own.toml"); }), HasSubstr("but its own grid also sets"));
  const std::string searched = R"toml(
[regimes]
sgd = { "optim.lr" = 0.5 }
[search]
kind = "quasi-random"
trials = 2
[search.ranges]
"optim.lr" = { low = 0.01, high = 1.0, scale = "log" }
)toml";
  EXPECT_THAT(error_of([&] { parse_study(searched, "search.toml"); }),
              AllOf(HasSubstr("the study's [search.ranges]"),
                    HasSubstr("hint: remove the regime's setting or the range of \"optim.lr\"")));
  const std::string every_batch = R"toml(
batch = [128, 1024]
[regimes]
sgd = { "optim.lr" = 0.5, grid_per_batch = { "128" = { "optim.lr" = [0.1] } } }
[grid_per_batch."1024"]
"optim.lr" = [0.01]
)toml";
  EXPECT_THAT(error_of([&] { parse_study(every_batch, "every.toml"); }), HasSubstr("a grid_per_batch at every batch"));
  const std::vector<Trial> trials = expand(parse_study(R"toml(
batch = [128, 1024]
[regimes]
sgd = { "optim.lr" = 0.5 }
[grid_per_batch."1024"]
"optim.lr" = [0.01]
)toml",
                                                       "per_batch.toml"));
  std::map<std::int64_t, std::vector<double>> lr_by;
  for (const Trial& t : trials) lr_by[t.batch].push_back(t.config.optim.lr);
  EXPECT_EQ(lr_by[128], (std::vector<double>{0.5}));
  EXPECT_EQ(lr_by[1024], (std::vector<double>{0.01}));
}

// A grid over an option that a regime's objective does not read (Minnorm's objective.s beside an sgd regime) would
// run that regime's training once per value: refused before a run, naming the option and the regime (expand()
// keeps them, so that a study that ran such trials can be reported). The regime's own grid, an option the objective
// reads (the exponential loss reads Minnorm's objective.task) and a single value are allowed.
TEST(StudyFile, AGridOverAnOptionARegimesObjectiveDoesNotReadIsRefused) {
  const auto refusal = [](const std::string& text, const std::string& source) {
    const StudySpec spec = parse_study(text, source);
    const std::vector<Trial> trials = expand(spec);
    return error_of([&] { refuse_trials_that_train_alike(spec, trials); });
  };
  const std::string shared = R"toml(
[regimes]
sgd = { "objective.regime" = "sgd" }
minnorm = { "objective.regime" = "minnorm" }
[grid]
"objective.s" = [1.0, 2.0]
)toml";
  EXPECT_EQ(expand(parse_study(shared, "shared.toml")).size(), 4U);
  EXPECT_THAT(refusal(shared, "shared.toml"),
              AllOf(HasSubstr("shared.toml: trials"), HasSubstr("objective.s=1"), HasSubstr("objective.s=2"),
                    HasSubstr("differ only in objective.s, which objective.regime = \"sgd\" does not read"),
                    HasSubstr("regimes.NAME.grid")));
  const std::string square = R"toml(
[regimes]
square = { "objective.regime" = "square", grid = { "objective.task" = ["multiclass", "binary"] } }
)toml";
  EXPECT_THAT(refusal(square, "square.toml"),
              HasSubstr("differ only in objective.task, which objective.regime = \"square\" does not read"));

  const std::string own = R"toml(
[regimes]
sgd = { "objective.regime" = "sgd" }
minnorm = { "objective.regime" = "minnorm", grid = { "objective.s" = [1.0, 2.0] } }
exponential = { "objective.regime" = "exponential", grid = { "objective.task" = ["multiclass", "binary"] } }
square = { "objective.regime" = "square", grid = { "objective.square_k" = [1.0, 2.0] } }
)toml";
  EXPECT_EQ(refusal(own, "own.toml"), "");
  EXPECT_EQ(expand(parse_study(own, "own.toml")).size(), 7U);
  // One value of another objective's option beside the regime: one trial each.
  EXPECT_EQ(refusal("[regimes]\nsgd = { \"objective.regime\" = \"sgd\" }\nminnorm = { \"objective.regime\" = "
                    "\"minnorm\" }\n[grid]\n\"objective.s\" = [3.0]\n",
                    "one.toml"),
            "");
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

// TOML allows "optim.lr" beside a section's lr: the grid labelled trials with both values and ran one, [base] and a
// regime's list kept one without a word.
TEST(StudyFile, AnOptionGivenTwiceInOneTableIsRefused) {
  EXPECT_THAT(
      error_of([] { parse_study("[grid]\n\"optim.lr\" = [0.1, 0.2]\n[grid.optim]\nlr = [0.3]\n", "bad.toml"); }),
      AllOf(HasSubstr("bad.toml:"), HasSubstr("grid.\"optim.lr\": given twice")));
  EXPECT_THAT(error_of([] { parse_study("[base]\n\"optim.lr\" = 0.1\n[base.optim]\nlr = 0.3\n", "bad.toml"); }),
              AllOf(HasSubstr("base.\"optim.lr\""), HasSubstr("given twice")));
  EXPECT_THAT(error_of([] { parse_study("[regimes]\na = [\"optim.lr=0.1\", \"optim.lr = 0.2\"]\n", "bad.toml"); }),
              AllOf(HasSubstr("regimes.\"a\""), HasSubstr("optim.lr is set a second time in this list")));
  // Different options in both spellings stay fine.
  EXPECT_NO_THROW(parse_study("[grid]\n\"optim.lr\" = [0.1]\n[grid.optim]\nmomentum = [0.9]\n", "ok.toml"));
}

// A study file named t.db would be its own database ("file is not a database" once opened as one).
TEST(StudyFile, AStudyFileNamedAsItsDatabaseIsRefused) {
  EXPECT_THAT(error_of([] { study_layout("/studies/t.db"); }),
              HasSubstr("study file /studies/t.db ends in .db, the name of its own database"));
  EXPECT_EQ(study_layout("/studies/t.toml").database, std::filesystem::path("/studies/t.db"));
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
  EXPECT_THAT(grid_point_json(*at_1024), AllOf(HasSubstr("\"optim.momentum\":"), HasSubstr("\"model.init_scale\":")));
}


// A trial's batch size and seed are its axes' values: a grid, regime or search that set them too would train trials
// at other values than they are labelled with. [base] gives the axes' defaults.
TEST(StudyFile, BatchAndSeedComeOnlyFromTheirAxes) {
  EXPECT_THAT(error_of([] { parse_study("batch = [16]\n[grid]\n\"optim.batch\" = [8]\n", "s.toml"); }),
              AllOf(HasSubstr("s.toml:3: grid.\"optim.batch\""), HasSubstr("the study's batch axis")));
  EXPECT_THAT(error_of([] { parse_study("[regimes]\nmn = { \"optim.batch\" = 8 }\n", "s.toml"); }),
              HasSubstr("regimes.\"mn\".\"optim.batch\""));
  EXPECT_THAT(error_of([] { parse_study("[regimes]\nmn = [\"seed=3\"]\n", "s.toml"); }),
              AllOf(HasSubstr("regimes.\"mn\".\"seed\""), HasSubstr("the study's seeds axis")));
  EXPECT_THAT(error_of([] { parse_study("batch = [64]\n[grid_per_batch.\"64\"]\nseed = [1, 2]\n", "s.toml"); }),
              HasSubstr("seeds axis"));
  const StudySpec defaults = parse_study("[base]\n\"optim.batch\" = 32\nseed = 5\n", "s.toml");
  const std::vector<Trial> trials = expand(defaults);
  ASSERT_EQ(trials.size(), 1U);
  EXPECT_EQ(trials[0].batch, 32);
  EXPECT_EQ(trials[0].config.optim.batch, 32);
  EXPECT_EQ(trials[0].seed, 5U);
}

// A grid of millions of trials is refused before any is built (expanding 10^7 took minutes and gigabytes), naming
// the count; a grid of thousands expands.
TEST(StudyFile, AGridOfMoreThanTheMostTrialsIsRefusedBeforeItIsBuilt) {
  std::string values;
  for (int i = 1; i <= 1000; ++i) values += fmt::format("{}{}e-4", i == 1 ? "" : ", ", i);
  const std::string huge = fmt::format("seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n[grid]\n\"optim.lr\" = [{}]\n"
                                       "\"optim.momentum\" = [{}]\n\"optim.weight_decay\" = [{}]\n",
                                       values, values, values);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(error_of([&] { expand(parse_study(huge, "huge.toml")); }),
              AllOf(HasSubstr("huge.toml: 1e+10 trials or more"), HasSubstr("at most 100000")));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  const std::string large = fmt::format("seeds = [1, 2]\n[grid]\n\"optim.lr\" = [{}]\n", values);
  EXPECT_EQ(expand(parse_study(large, "large.toml")).size(), 2000U);
}

TEST(StudyFile, TargetValidationError) {
  EXPECT_FALSE(parse_study("", "s.toml").target.has_value());
  EXPECT_EQ(parse_study("", "s.toml").metric, StudyMetric::kValidationError);
  const StudySpec spec = parse_study("target_validation_error = 12.5", "s.toml");
  ASSERT_TRUE(spec.target.has_value());
  EXPECT_EQ(spec.target->metric, StudyMetric::kValidationError);
  EXPECT_DOUBLE_EQ(spec.target->value, 12.5);
  EXPECT_THAT(error_of([] { parse_study("target_validation_error = \"low\"", "s.toml"); }),
              HasSubstr("target_validation_error"));
  EXPECT_THAT(error_of([] { parse_study("target_validation_error = 120", "s.toml"); }),
              HasSubstr("[0, 100]"));
}

// A regression study ranks and times its trials by the validation loss (its runs record no error).
TEST(StudyFile, SelectByValidationLossWithItsTarget) {
  EXPECT_EQ(parse_study("select_by = \"validation_loss\"", "s.toml").metric, StudyMetric::kValidationLoss);
  EXPECT_EQ(parse_study("select_by = \"validation_error\"", "s.toml").metric, StudyMetric::kValidationError);
  // The loss target alone says the metric.
  const StudySpec spec = parse_study("target_validation_loss = 0.05", "s.toml");
  EXPECT_EQ(spec.metric, StudyMetric::kValidationLoss);
  ASSERT_TRUE(spec.target.has_value());
  EXPECT_EQ(spec.target->metric, StudyMetric::kValidationLoss);
  EXPECT_DOUBLE_EQ(spec.target->value, 0.05);
  EXPECT_EQ(target_text(*spec.target), "validation loss 0.05");
  EXPECT_DOUBLE_EQ(parse_study("select_by = \"validation_loss\"\ntarget_validation_loss = 250", "s.toml").target->value,
                   250.0);  // a loss has no upper bound

  EXPECT_THAT(error_of([] { parse_study("select_by = \"test_error\"", "s.toml"); }),
              AllOf(HasSubstr("s.toml:1: select_by"), HasSubstr("\"validation_loss\"")));
  EXPECT_THAT(error_of([] { parse_study("target_validation_loss = -1", "s.toml"); }),
              AllOf(HasSubstr("target_validation_loss"), HasSubstr(">= 0")));
  EXPECT_THAT(error_of([] { parse_study("target_validation_loss = 0.1\ntarget_validation_error = 5", "s.toml"); }),
              AllOf(HasSubstr("s.toml:1: target_validation_loss"), HasSubstr("one target")));
  // A target of the other metric than the one trials are ranked by is refused, naming the right key.
  EXPECT_THAT(error_of([] { parse_study("select_by = \"validation_loss\"\ntarget_validation_error = 5", "s.toml"); }),
              AllOf(HasSubstr("s.toml:2: target_validation_error"), HasSubstr("expected target_validation_loss")));
  EXPECT_THAT(error_of([] { parse_study("select_by = \"validation_error\"\ntarget_validation_loss = 5", "s.toml"); }),
              AllOf(HasSubstr("target_validation_loss"), HasSubstr("expected target_validation_error")));
}


constexpr const char* kSearchStudy = R"toml(
batch = [128, 256]
seeds = [1, 2]
lr_scaling = "linear"
base_batch = 128
[base]
"data.source" = "two-point"
[grid]
"optim.momentum" = [0.0, 0.9]
[search]
kind = "quasi-random"
trials = 16
seed = 7
[search.ranges]
"optim.lr" = { low = 1e-4, high = 1.0, scale = "log" }
"objective.s" = { low = 1e-6, high = 1e-3, scale = "log" }
)toml";

// The value of `key` in the trial's grid point (parsed back from its literal).
double grid_value(const Trial& trial, const std::string& key) {
  for (const ConfigOverride& item : trial.grid_point) {
    if (item.key == key) return std::stod(item.value);
  }
  ADD_FAILURE() << key << " is not in " << describe_trial(trial);
  return 0.0;
}

// `study` with `[search] seed = 7` replaced by `seed`.
std::string with_search_seed(std::string study, int seed) {
  const std::string from = "seed = 7";
  study.replace(study.find(from), from.size(), fmt::format("seed = {}", seed));
  return study;
}

TEST(StudyFileSearch, ParsesKindTrialsSeedAndRanges) {
  const StudySpec spec = parse_study(kSearchStudy, "search.toml");
  ASSERT_TRUE(spec.search.has_value());
  EXPECT_EQ(spec.search->trials, 16);
  EXPECT_EQ(spec.search->seed, 7U);
  ASSERT_EQ(spec.search->ranges.size(), 2U);
  EXPECT_EQ(spec.search->ranges[0].key, "objective.s");  // TOML tables iterate in key order
  EXPECT_EQ(spec.search->ranges[1].key, "optim.lr");
  EXPECT_DOUBLE_EQ(spec.search->ranges[1].low, 1e-4);
  EXPECT_DOUBLE_EQ(spec.search->ranges[1].high, 1.0);
  EXPECT_EQ(spec.search->ranges[1].scale, RangeScale::kLog);
  EXPECT_FALSE(parse_study(kStudy, "study.toml").search.has_value());
  // Nested sections work as in [grid]; seed defaults to 0 and scale to linear; integer bounds are numbers.
  const StudySpec nested = parse_study(
      "[search]\nkind = \"quasi-random\"\ntrials = 4\n[search.ranges.optim]\nmomentum = { low = 0, high = 0.5 }\n",
      "nested.toml");
  ASSERT_TRUE(nested.search.has_value());
  EXPECT_EQ(nested.search->seed, 0U);
  ASSERT_EQ(nested.search->ranges.size(), 1U);
  EXPECT_EQ(nested.search->ranges[0].key, "optim.momentum");
  EXPECT_EQ(nested.search->ranges[0].scale, RangeScale::kLinear);
  EXPECT_EQ(expand(nested).size(), 4U);
}

TEST(StudyFileSearch, TrialsAreTheGridTimesThePoints) {
  const std::vector<Trial> trials = expand(parse_study(kSearchStudy, "search.toml"));
  // 2 batches x 2 seeds x 2 momenta x 16 points.
  ASSERT_EQ(trials.size(), 2U * 2U * 2U * 16U);
  std::set<std::string> ids;
  std::map<std::tuple<std::int64_t, std::uint64_t, double>, std::set<std::pair<double, double>>> points;
  for (const Trial& trial : trials) {
    ids.insert(trial.id);
    // A searched key sits among the [grid] keys in key order, as it would in [grid].
    std::vector<std::string> keys;
    for (const ConfigOverride& item : trial.grid_point) keys.push_back(item.key);
    EXPECT_EQ(keys, (std::vector<std::string>{"objective.s", "optim.lr", "optim.momentum"}));
    const double lr = grid_value(trial, "optim.lr");
    const double s = grid_value(trial, "objective.s");
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1.0);
    EXPECT_GE(s, 1e-6);
    EXPECT_LE(s, 1e-3);
    EXPECT_EQ(round_to_significant(lr, 4), lr) << describe_trial(trial);  // 4 significant digits
    EXPECT_EQ(round_to_significant(s, 4), s) << describe_trial(trial);
    EXPECT_DOUBLE_EQ(trial.config.objective.s, s);
    // The searched learning rate is the base batch's, scaled like a [grid] one.
    EXPECT_DOUBLE_EQ(trial.config.optim.lr, lr * static_cast<double>(trial.batch) / 128.0);
    points[{trial.batch, trial.seed, trial.config.optim.momentum}].insert({lr, s});
  }
  EXPECT_EQ(ids.size(), trials.size());
  // Every (batch, seed, momentum) gets the same 16 points.
  ASSERT_EQ(points.size(), 8U);
  for (const auto& [cell, values] : points) {
    EXPECT_EQ(values.size(), 16U);
    EXPECT_EQ(values, points.begin()->second);
  }
}

TEST(StudyFileSearch, PointsAreStratifiedOnTheLogScale) {
  // optim.lr is dimension 1 (base 3) after objective.s: 9 = 3^2 points put 3 in each third of the logarithms,
  // [1e-4, 1e-2.67), [1e-2.67, 1e-1.33), [1e-1.33, 1] (boundaries away from any 4-digit rounding here);
  // objective.s, dimension 0 (base 2), over 16 points: 8 below the geometric mean and 8 above.
  std::string study = kSearchStudy;
  study.replace(study.find("trials = 16"), 11, "trials = 9");
  std::map<int, int> per_third;
  const std::vector<Trial> nine = expand(parse_study(study, "search.toml"));
  for (std::size_t i = 0; i < 9; ++i) {
    const double position = std::log(grid_value(nine[i], "optim.lr") / 1e-4) / std::log(1e4);
    ++per_third[static_cast<int>(position * 3)];
  }
  EXPECT_EQ(per_third, (std::map<int, int>{{0, 3}, {1, 3}, {2, 3}}));
  int below_geometric_mean = 0;
  const std::vector<Trial> sixteen = expand(parse_study(kSearchStudy, "search.toml"));
  for (std::size_t i = 0; i < 16; ++i) below_geometric_mean += grid_value(sixteen[i], "objective.s") < std::sqrt(1e-9);
  EXPECT_EQ(below_geometric_mean, 8);
}

TEST(StudyFileSearch, ReproducibleFromTheSeed) {
  const std::vector<Trial> first = expand(parse_study(kSearchStudy, "search.toml"));
  const std::vector<Trial> again = expand(parse_study(kSearchStudy, "elsewhere/search.toml"));
  const std::vector<Trial> other = expand(parse_study(with_search_seed(kSearchStudy, 8), "search.toml"));
  ASSERT_EQ(first.size(), again.size());
  ASSERT_EQ(first.size(), other.size());
  std::size_t same_lr = 0;
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].id, again[i].id);
    EXPECT_EQ(first[i].grid_point, again[i].grid_point);
    EXPECT_NE(first[i].id, other[i].id);
    same_lr += first[i].config.optim.lr == other[i].config.optim.lr;
  }
  EXPECT_EQ(same_lr, 0U);
}

TEST(StudyFileSearch, MoreTrialsKeepTheEarlierOnes) {
  std::string more = kSearchStudy;
  more.replace(more.find("trials = 16"), 11, "trials = 40");
  std::set<std::string> more_ids;
  for (const Trial& trial : expand(parse_study(more, "search.toml"))) more_ids.insert(trial.id);
  const std::vector<Trial> trials = expand(parse_study(kSearchStudy, "search.toml"));
  for (const Trial& trial : trials) EXPECT_TRUE(more_ids.contains(trial.id)) << describe_trial(trial);
  EXPECT_EQ(more_ids.size(), trials.size() / 16 * 40);
}

TEST(StudyFileSearch, ASearchedPointIsTheTrialOfTheSameListedGridPoint) {
  const std::string search = R"toml(
[base]
"data.source" = "two-point"
[grid]
"objective.s" = [1e-4, 2e-4]
"optim.momentum" = [0.0, 0.9]
[search]
kind = "quasi-random"
trials = 1
[search.ranges]
"optim.lr" = { low = 0.001, high = 0.1, scale = "log" }
)toml";
  const std::vector<Trial> searched = expand(parse_study(search, "search.toml"));
  ASSERT_EQ(searched.size(), 4U);
  const std::string lr = searched[0].grid_point[1].value;
  const std::vector<Trial> listed = expand(parse_study(fmt::format(R"toml(
[base]
"data.source" = "two-point"
[grid]
"objective.s" = [1e-4, 2e-4]
"optim.lr" = [{}]
"optim.momentum" = [0.0, 0.9]
)toml", lr), "grid.toml"));
  ASSERT_EQ(listed.size(), searched.size());
  for (std::size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(searched[i].id, listed[i].id);
    EXPECT_EQ(searched[i].grid_point, listed[i].grid_point);
    EXPECT_EQ(describe_trial(searched[i]), describe_trial(listed[i]));
    EXPECT_EQ(grid_point_json(searched[i]), grid_point_json(listed[i]));
  }
}

TEST(StudyFileSearch, CombinesWithRegimeAndPerBatchGridsOfOtherKeys) {
  const std::vector<Trial> trials = expand(parse_study(R"toml(
batch = [128, 256]
[base]
"data.source" = "two-point"
[regimes]
sgd = { "objective.regime" = "sgd" }
minnorm = { "objective.regime" = "minnorm", grid = { "objective.rho" = [0.1, 0.2, 0.3] } }
[grid_per_batch."256"]
"model.init_scale" = [0.5, 2.0]
[search]
kind = "quasi-random"
trials = 5
[search.ranges]
"optim.lr" = { low = 0.001, high = 0.1, scale = "log" }
)toml",
                                                       "search.toml"));
  std::map<std::pair<std::string, std::int64_t>, std::size_t> counts;
  for (const Trial& trial : trials) ++counts[{trial.regime, trial.batch}];
  EXPECT_EQ(counts[std::make_pair(std::string("sgd"), std::int64_t{128})], 5U);
  EXPECT_EQ(counts[std::make_pair(std::string("sgd"), std::int64_t{256})], 2U * 5U);
  EXPECT_EQ(counts[std::make_pair(std::string("minnorm"), std::int64_t{128})], 3U * 5U);
  EXPECT_EQ(counts[std::make_pair(std::string("minnorm"), std::int64_t{256})], 3U * 2U * 5U);
}

TEST(StudyFileSearch, MoreDigitsWhereFourWouldMakePointsCollide) {
  // 200 points in [1, 1.001] share 4 significant digits (1.000 or 1.001): each point after the first two gets
  // as many as set it apart from the earlier ones.
  const std::vector<Trial> trials = expand(parse_study(
      "[search]\nkind = \"quasi-random\"\ntrials = 200\n[search.ranges]\n\"optim.lr\" = { low = 1.0, high = 1.001 }\n",
      "narrow.toml"));
  ASSERT_EQ(trials.size(), 200U);
  std::set<double> lrs;
  for (const Trial& trial : trials) {
    lrs.insert(trial.config.optim.lr);
    EXPECT_GE(trial.config.optim.lr, 1.0);
    EXPECT_LE(trial.config.optim.lr, 1.001);
  }
  EXPECT_EQ(lrs.size(), 200U);
  EXPECT_EQ(grid_point_json(trials[0]).size(), std::string(R"({"optim.lr":1.001})").size());  // 4 digits first
  // A range one double wide cannot hold 3 distinct points: a clear error, not the duplicate-trial one.
  EXPECT_THAT(error_of([] {
                parse_study("[search]\nkind = \"quasi-random\"\ntrials = 3\n[search.ranges]\n"
                            "\"optim.lr\" = { low = 1.0, high = 1.0000000000000002 }\n",
                            "tiny.toml");
              }),
              AllOf(HasSubstr("tiny.toml"), HasSubstr("optim.lr"), HasSubstr("of 3"),
                    HasSubstr("equals an earlier one"), HasSubstr("widen")));
}

TEST(StudyFileSearch, AnInvalidSearchedValueNamesTheSearchKey) {
  const StudySpec spec = parse_study(
      "[search]\nkind = \"quasi-random\"\ntrials = 4\n[search.ranges]\n\"optim.lr\" = { low = -1.0, high = 1.0 }\n",
      "bad.toml");
  EXPECT_THAT(error_of([&] { expand(spec); }), AllOf(HasSubstr("bad.toml"), HasSubstr("search.ranges.\"optim.lr\"")));
}

// `[search]` with `ranges` as its [search.ranges] body and `head` as its other lines.
std::string search_study(const std::string& ranges, const std::string& head = "kind = \"quasi-random\"\ntrials = 4\n") {
  return "[search]\n" + head + "[search.ranges]\n" + ranges;
}

TEST(StudyFileSearch, ErrorsNameTheFileAndTheKey) {
  const auto error = [](const std::string& text) { return error_of([&] { parse_study(text, "bad.toml"); }); };
  const std::string lr = "\"optim.lr\" = { low = 1e-4, high = 1.0 }\n";
  EXPECT_THAT(error(search_study(lr, "kind = \"random\"\ntrials = 4\n")),
              AllOf(HasSubstr("bad.toml:2: search.kind"), HasSubstr("\"quasi-random\"")));
  EXPECT_THAT(error(search_study(lr, "trials = 4\n")), AllOf(HasSubstr("bad.toml"), HasSubstr("kind is missing")));
  for (const char* trials : {"0", "10001", "\"many\"", "2.5"}) {
    EXPECT_THAT(error(search_study(lr, fmt::format("kind = \"quasi-random\"\ntrials = {}\n", trials))),
                AllOf(HasSubstr("bad.toml:3: search.trials"), HasSubstr("[1, 10000]")))
        << trials;
  }
  EXPECT_THAT(error(search_study(lr, "kind = \"quasi-random\"\n")), HasSubstr("trials is missing"));
  EXPECT_THAT(error(search_study(lr, "kind = \"quasi-random\"\ntrials = 4\nseed = -1\n")),
              AllOf(HasSubstr("bad.toml:4: search.seed"), HasSubstr(">= 0")));
  EXPECT_THAT(error(search_study(lr, "kind = \"quasi-random\"\ntrails = 4\n")),
              AllOf(HasSubstr("bad.toml:3: search.trails: unknown key"), HasSubstr("kind, trials, seed, ranges")));
  EXPECT_THAT(error("[search]\nkind = \"quasi-random\"\ntrials = 4\n"), AllOf(HasSubstr("bad.toml"),
                                                                              HasSubstr("[search.ranges]")));
  EXPECT_THAT(error(search_study("")), HasSubstr("search.ranges"));
  EXPECT_THAT(error("search = 3\n"), AllOf(HasSubstr("bad.toml:1: search"), HasSubstr("expected a table")));

  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = 1.0, high = 1.0 }\n")),
              AllOf(HasSubstr("bad.toml:5: search.ranges.\"optim.lr\""), HasSubstr("below high")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = 0.0, high = 1.0, scale = \"log\" }\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\""), HasSubstr("needs low > 0")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = \"small\", high = 1.0 }\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\".low"), HasSubstr("expected a finite number")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = 1e-4, high = inf }\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\".high"), HasSubstr("finite")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = 1e-4 }\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\""), HasSubstr("high is missing")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = [1e-4, 1.0]\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\""), HasSubstr("expected a range")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = 1e-4, high = 1.0, scale = \"log10\" }\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\".scale"), HasSubstr("\"linear\" or \"log\"")));
  EXPECT_THAT(error(search_study("\"optim.lr\" = { low = 1e-4, high = 1.0, scal = \"log\" }\n")),
              AllOf(HasSubstr("search.ranges.\"optim.lr\".scal: unknown key"), HasSubstr("low, high, scale")));
  EXPECT_THAT(error(search_study("\"optim.lrr\" = { low = 1e-4, high = 1.0 }\n")),
              AllOf(HasSubstr("bad.toml:5: search.ranges.\"optim.lrr\""), HasSubstr("did you mean 'optim.lr'")));
  EXPECT_THAT(error(search_study(lr + "[search.ranges.optim]\nlr = { low = 0.1, high = 1.0 }\n")),
              AllOf(HasSubstr("bad.toml:"), HasSubstr("search.ranges.\"optim.lr\""), HasSubstr("given twice")));
  // Integer options are listed in [grid]: rounded quasi-random points would repeat.
  EXPECT_THAT(error(search_study("epochs = { low = 1, high = 10 }\n")),
              AllOf(HasSubstr("search.ranges.\"epochs\""), HasSubstr("integer"), HasSubstr("[grid]")));
  EXPECT_THAT(error(search_study("\"objective.regime\" = { low = 1, high = 10 }\n")),
              AllOf(HasSubstr("search.ranges.\"objective.regime\""), HasSubstr("string")));
}

TEST(StudyFileSearch, AKeyIsSearchedOrListedNotBoth) {
  const std::string ranges = "\"optim.lr\" = { low = 1e-4, high = 1.0 }\n";
  EXPECT_THAT(error_of([&] { parse_study("[grid]\n\"optim.lr\" = [0.1]\n" + search_study(ranges), "bad.toml"); }),
              AllOf(HasSubstr("bad.toml:7: search.ranges.\"optim.lr\""), HasSubstr("grid.\"optim.lr\""),
                    HasSubstr("not both")));
  EXPECT_THAT(error_of([&] {
                parse_study("[regimes]\nsgd = { grid = { \"optim.lr\" = [0.1] } }\n" + search_study(ranges),
                            "bad.toml");
              }),
              AllOf(HasSubstr("search.ranges.\"optim.lr\""), HasSubstr("regimes.\"sgd\".grid.\"optim.lr\"")));
  EXPECT_THAT(error_of([&] {
                parse_study("batch = [128]\n[grid_per_batch.\"128\"]\n\"optim.lr\" = [0.1]\n" + search_study(ranges),
                            "bad.toml");
              }),
              AllOf(HasSubstr("search.ranges.\"optim.lr\""), HasSubstr("grid_per_batch.\"128\".\"optim.lr\"")));
  // A spec built by hand that lists a searched key on a grid is refused by expand() too.
  StudySpec spec = parse_study(search_study(ranges), "hand.toml");
  spec.grid.push_back({"optim.lr", {"0.1"}});
  EXPECT_THAT(error_of([&] { expand(spec); }), AllOf(HasSubstr("hand.toml"), HasSubstr("not both")));
}

}  // namespace
}  // namespace normscale

namespace normscale {
namespace {

// A study of three learning rates in two seeds (two brackets), budget 9 epochs, with `halving` as its table.
std::string halving_study(const std::string& halving, const std::string& budget = "epochs = 9\n") {
  return budget + "seeds = [1, 2]\n[base]\n\"data.source\" = \"two-point\"\n[grid]\n\"optim.lr\" = [0.01, 0.1, 1.0]\n" +
         "[halving]\n" + halving;
}

TEST(StudyFileHalving, ParsesRungsReductionAndMode) {
  const StudySpec spec = parse_study(halving_study("rungs = [1, 3, 9]\nreduction = 2\nmode = \"synchronous\"\n"),
                                     "halving.toml");
  ASSERT_TRUE(spec.halving.has_value());
  EXPECT_EQ(spec.halving->rungs, (std::vector<std::int64_t>{1, 3, 9}));
  EXPECT_EQ(spec.halving->reduction, 2);
  EXPECT_EQ(spec.halving->mode, HalvingMode::kSynchronous);
  const StudySpec defaults = parse_study(halving_study("rungs = [10, 40]\n", "steps = 40\n"), "halving.toml");
  ASSERT_TRUE(defaults.halving.has_value());
  EXPECT_EQ(defaults.halving->reduction, 3);
  EXPECT_EQ(defaults.halving->mode, HalvingMode::kAsynchronous);
  // The trials are those without [halving], with the full budget (their ids too).
  const std::vector<Trial> trials = expand(spec);
  ASSERT_EQ(trials.size(), 6U);
  EXPECT_EQ(trials[0].config.epochs, 9);
  EXPECT_FALSE(parse_study(kStudy, "study.toml").halving.has_value());
}

TEST(StudyFileHalving, ErrorsNameTheFileAndTheKey) {
  const auto error = [](const std::string& text) { return error_of([&] { parse_study(text, "bad.toml"); }); };
  EXPECT_THAT(error(halving_study("rungs = [1, 9, 3]\n")),
              AllOf(HasSubstr("bad.toml:8: halving.rungs"), HasSubstr("increase strictly")));
  EXPECT_THAT(error(halving_study("rungs = [0, 9]\n")),
              AllOf(HasSubstr("bad.toml:8: halving.rungs"), HasSubstr("integers >= 1")));
  EXPECT_THAT(error(halving_study("rungs = [1, 3]\n")),
              AllOf(HasSubstr("halving.rungs"), HasSubstr("the last rung is 3, but the study's budget is epochs = 9")));
  EXPECT_THAT(error(halving_study("rungs = [10, 30]\n", "steps = 40\n")), HasSubstr("budget is steps = 40"));
  EXPECT_THAT(error(halving_study("rungs = [9]\n")), AllOf(HasSubstr("halving.rungs"), HasSubstr("at least two")));
  EXPECT_THAT(error(halving_study("reduction = 3\n")), AllOf(HasSubstr("bad.toml"), HasSubstr("rungs is missing")));
  EXPECT_THAT(error(halving_study("rungs = [1, 9]\nreduction = 1\n")),
              AllOf(HasSubstr("bad.toml:9: halving.reduction"), HasSubstr(">= 2")));
  EXPECT_THAT(error(halving_study("rungs = [1, 9]\nmode = \"eager\"\n")),
              AllOf(HasSubstr("bad.toml:9: halving.mode"), HasSubstr("\"synchronous\"")));
  EXPECT_THAT(error(halving_study("rungs = [1, 9]\neta = 3\n")),
              AllOf(HasSubstr("bad.toml:9: halving.eta: unknown key"), HasSubstr("rungs, reduction, mode")));
  EXPECT_THAT(error(halving_study("rungs = [1, 9]\n", "")),
              AllOf(HasSubstr("bad.toml"), HasSubstr("halving needs the study's budget")));
  // One grid point per bracket: nothing to rank, found when the trials are expanded.
  const std::string single = "epochs = 9\n[base]\n\"data.source\" = \"two-point\"\n[halving]\nrungs = [1, 9]\n";
  EXPECT_THAT(error_of([&] { expand(parse_study(single, "bad.toml")); }),
              AllOf(HasSubstr("bad.toml: halving"), HasSubstr("one grid point"), HasSubstr("seed=")));
}

}  // namespace
}  // namespace normscale
