// Config parsing, overrides, precedence, round trip, hash and validation (config_io).
#include "normscale/core/error.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/train/config_agreement.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/device_engine.hpp"
#include "normscale/train/presets.hpp"
#include "support/error_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A TOML file under the system temp folder, removed when the test ends.
class TempFile {
 public:
  TempFile(const std::string& stem, const std::string& text) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("normscale_test_" + stem + "_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++) + ".toml");
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

using testing::error_of;

// Field by field, written out by hand so it does not depend on the option table under test.
void expect_same_config(const TrainConfig& a, const TrainConfig& b) {
  EXPECT_EQ(a.data.source, b.data.source);
  EXPECT_EQ(a.data.path, b.data.path);
  EXPECT_EQ(a.data.train_features, b.data.train_features);
  EXPECT_EQ(a.data.train_labels, b.data.train_labels);
  EXPECT_EQ(a.data.test_features, b.data.test_features);
  EXPECT_EQ(a.data.test_labels, b.data.test_labels);
  EXPECT_EQ(a.data.validation, b.data.validation);
  EXPECT_EQ(a.data.split_seed, b.data.split_seed);
  EXPECT_EQ(a.data.train_limit, b.data.train_limit);
  EXPECT_EQ(a.data.test_limit, b.data.test_limit);
  EXPECT_EQ(a.data.preprocess, b.data.preprocess);
  EXPECT_EQ(a.data.classes, b.data.classes);
  EXPECT_EQ(a.data.num_classes, b.data.num_classes);
  EXPECT_EQ(a.data.synthetic_examples, b.data.synthetic_examples);
  EXPECT_EQ(a.data.synthetic_dim, b.data.synthetic_dim);
  EXPECT_EQ(a.data.synthetic_snr, b.data.synthetic_snr);
  EXPECT_EQ(a.data.synthetic_seed, b.data.synthetic_seed);
  EXPECT_EQ(a.data.degree, b.data.degree);
  EXPECT_EQ(a.data.nodes, b.data.nodes);
  EXPECT_EQ(a.perturb.every, b.perturb.every);
  EXPECT_EQ(a.perturb.start, b.perturb.start);
  EXPECT_EQ(a.perturb.until, b.perturb.until);
  EXPECT_EQ(a.perturb.scale, b.perturb.scale);
  EXPECT_EQ(a.perturb.sd, b.perturb.sd);
  EXPECT_EQ(a.model.hidden, b.model.hidden);
  EXPECT_EQ(a.model.activation, b.model.activation);
  EXPECT_EQ(a.model.bias, b.model.bias);
  EXPECT_EQ(a.model.init, b.model.init);
  EXPECT_EQ(a.model.init_scale, b.model.init_scale);
  EXPECT_EQ(a.model.outputs, b.model.outputs);
  EXPECT_EQ(a.objective.regime, b.objective.regime);
  EXPECT_EQ(a.objective.task, b.objective.task);
  EXPECT_EQ(a.objective.rho, b.objective.rho);
  EXPECT_EQ(a.objective.s, b.objective.s);
  EXPECT_EQ(a.objective.alpha_update, b.objective.alpha_update);
  EXPECT_EQ(a.objective.estimator, b.objective.estimator);
  EXPECT_EQ(a.objective.C, b.objective.C);
  EXPECT_EQ(a.objective.multipliers, b.objective.multipliers);
  EXPECT_EQ(a.objective.dual, b.objective.dual);
  EXPECT_EQ(a.objective.kappa_p, b.objective.kappa_p);
  EXPECT_EQ(a.objective.rho_growth, b.objective.rho_growth);
  EXPECT_EQ(a.objective.rho_tolerance, b.objective.rho_tolerance);
  EXPECT_EQ(a.objective.rho_max, b.objective.rho_max);
  EXPECT_EQ(a.objective.local_steps, b.objective.local_steps);
  EXPECT_EQ(a.objective.tolerance, b.objective.tolerance);
  EXPECT_EQ(a.objective.average_from_epoch, b.objective.average_from_epoch);
  EXPECT_EQ(a.objective.curvature_step, b.objective.curvature_step);
  EXPECT_EQ(a.objective.square_targets, b.objective.square_targets);
  EXPECT_EQ(a.objective.square_k, b.objective.square_k);
  EXPECT_EQ(a.objective.square_m, b.objective.square_m);
  EXPECT_EQ(a.optim.lr, b.optim.lr);
  EXPECT_EQ(a.optim.momentum, b.optim.momentum);
  EXPECT_EQ(a.optim.weight_decay, b.optim.weight_decay);
  EXPECT_EQ(a.optim.decay_power, b.optim.decay_power);
  EXPECT_EQ(a.optim.batch, b.optim.batch);
  EXPECT_EQ(a.optim.normalization, b.optim.normalization);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.cuda_tf32, b.cuda_tf32);
  EXPECT_EQ(a.cuda_graphs, b.cuda_graphs);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.eval_every, b.eval_every);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.virtual_shards, b.virtual_shards);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.divergence_limit, b.divergence_limit);
  EXPECT_EQ(a.collective_timeout, b.collective_timeout);
  EXPECT_EQ(a.progress, b.progress);
  EXPECT_EQ(a.gallery, b.gallery);
  EXPECT_EQ(a.checkpoint_every, b.checkpoint_every);
  EXPECT_EQ(a.keep_checkpoints, b.keep_checkpoints);
  EXPECT_EQ(a.resume, b.resume);
  EXPECT_EQ(a.instruments, b.instruments);
  EXPECT_EQ(a.model.type, b.model.type);
  EXPECT_EQ(a.model.channels, b.model.channels);
  EXPECT_EQ(a.model.batch_norm, b.model.batch_norm);
  EXPECT_EQ(a.model.bn_affine, b.model.bn_affine);
  EXPECT_EQ(a.model.sync_bn, b.model.sync_bn);
  EXPECT_EQ(a.model.weight_norm, b.model.weight_norm);
  EXPECT_EQ(a.preset, b.preset);
}

// One change away from the defaults for every field of TrainConfig, written out by hand: if a
// field is missing from the option table, its change leaves to_toml and the hash unchanged.
std::vector<std::pair<std::string, std::function<void(TrainConfig&)>>> one_change_per_field() {
  return {
      {"data.source", [](TrainConfig& c) { c.data.source = "idx"; }},
      {"data.path", [](TrainConfig& c) { c.data.path = "/data/mnist"; }},
      {"data.train_features", [](TrainConfig& c) { c.data.train_features = "a"; }},
      {"data.train_labels", [](TrainConfig& c) { c.data.train_labels = "b"; }},
      {"data.test_features", [](TrainConfig& c) { c.data.test_features = "c"; }},
      {"data.test_labels", [](TrainConfig& c) { c.data.test_labels = "d"; }},
      {"data.validation", [](TrainConfig& c) { c.data.validation = 5000; }},
      {"data.split_seed", [](TrainConfig& c) { c.data.split_seed = 99; }},
      {"data.train_limit", [](TrainConfig& c) { c.data.train_limit = 1000; }},
      {"data.test_limit", [](TrainConfig& c) { c.data.test_limit = 500; }},
      {"data.preprocess", [](TrainConfig& c) { c.data.preprocess = "unit-norm"; }},
      {"data.classes", [](TrainConfig& c) { c.data.classes = {3, 5}; }},
      {"data.num_classes", [](TrainConfig& c) { c.data.num_classes = 12; }},
      {"data.synthetic_examples", [](TrainConfig& c) { c.data.synthetic_examples = 20; }},
      {"data.synthetic_dim", [](TrainConfig& c) { c.data.synthetic_dim = 3; }},
      {"data.synthetic_snr", [](TrainConfig& c) { c.data.synthetic_snr = 0.25; }},
      {"data.synthetic_seed", [](TrainConfig& c) { c.data.synthetic_seed = 8; }},
      {"data.degree", [](TrainConfig& c) { c.data.degree = 39; }},
      {"data.nodes", [](TrainConfig& c) { c.data.nodes = "chebyshev"; }},
      {"perturb.every", [](TrainConfig& c) { c.perturb.every = 100; }},
      {"perturb.start", [](TrainConfig& c) { c.perturb.start = 1800; }},
      {"perturb.until", [](TrainConfig& c) { c.perturb.until = 7500; }},
      {"perturb.scale", [](TrainConfig& c) { c.perturb.scale = 0.5; }},
      {"perturb.sd", [](TrainConfig& c) { c.perturb.sd = 0.45; }},
      {"model.hidden", [](TrainConfig& c) { c.model.hidden = {32}; }},
      {"model.activation", [](TrainConfig& c) { c.model.activation = "identity"; }},
      {"model.bias", [](TrainConfig& c) { c.model.bias = false; }},
      {"model.init", [](TrainConfig& c) { c.model.init = "frobenius"; }},
      {"model.init_scale", [](TrainConfig& c) { c.model.init_scale = 5.0; }},
      {"model.outputs", [](TrainConfig& c) { c.model.outputs = 1; }},
      {"objective.regime", [](TrainConfig& c) { c.objective.regime = "square"; }},
      {"objective.task", [](TrainConfig& c) { c.objective.task = "binary"; }},
      {"objective.rho", [](TrainConfig& c) { c.objective.rho = 7.8125; }},
      {"objective.s", [](TrainConfig& c) { c.objective.s = 0.5; }},
      {"objective.alpha_update", [](TrainConfig& c) { c.objective.alpha_update = "lagged"; }},
      {"objective.estimator", [](TrainConfig& c) { c.objective.estimator = "unbiased"; }},
      {"objective.C", [](TrainConfig& c) { c.objective.C = 0.25; }},
      {"objective.multipliers", [](TrainConfig& c) { c.objective.multipliers = "single"; }},
      {"objective.dual", [](TrainConfig& c) { c.objective.dual = "pi"; }},
      {"objective.kappa_p", [](TrainConfig& c) { c.objective.kappa_p = 0.5; }},
      {"objective.rho_growth", [](TrainConfig& c) { c.objective.rho_growth = 2.0; }},
      {"objective.rho_tolerance", [](TrainConfig& c) { c.objective.rho_tolerance = 0.1; }},
      {"objective.rho_max", [](TrainConfig& c) { c.objective.rho_max = 50.0; }},
      {"objective.local_steps", [](TrainConfig& c) { c.objective.local_steps = 16; }},
      {"objective.round_momentum", [](TrainConfig& c) { c.objective.round_momentum = true; }},
      {"objective.tolerance", [](TrainConfig& c) { c.objective.tolerance = 1e-6; }},
      {"objective.average_from_epoch", [](TrainConfig& c) { c.objective.average_from_epoch = 5.0; }},
      {"objective.curvature_step", [](TrainConfig& c) { c.objective.curvature_step = true; }},
      {"objective.square_targets", [](TrainConfig& c) { c.objective.square_targets = "pm1"; }},
      {"objective.square_k", [](TrainConfig& c) { c.objective.square_k = 2.0; }},
      {"objective.square_m", [](TrainConfig& c) { c.objective.square_m = 3.0; }},
      {"optim.lr", [](TrainConfig& c) { c.optim.lr = 0.1; }},
      {"optim.momentum", [](TrainConfig& c) { c.optim.momentum = 0.9; }},
      {"optim.weight_decay", [](TrainConfig& c) { c.optim.weight_decay = 5e-4; }},
      {"optim.decay_power", [](TrainConfig& c) { c.optim.decay_power = 0.5; }},
      {"optim.warmup_epochs", [](TrainConfig& c) { c.optim.warmup_epochs = 2.5; }},
      {"optim.batch", [](TrainConfig& c) { c.optim.batch = kFullBatch; }},
      {"optim.normalization", [](TrainConfig& c) { c.optim.normalization = "lagrange"; }},
      {"precision", [](TrainConfig& c) { c.precision = "float64"; }},
      {"device", [](TrainConfig& c) { c.device = "cuda"; }},
      {"cuda_tf32", [](TrainConfig& c) { c.cuda_tf32 = true; }},
      {"cuda_graphs", [](TrainConfig& c) { c.cuda_graphs = false; }},
      {"epochs", [](TrainConfig& c) { c.epochs = 30; }},
      {"steps", [](TrainConfig& c) { c.steps = 100; }},
      {"eval_every", [](TrainConfig& c) { c.eval_every = 10; }},
      {"seed", [](TrainConfig& c) { c.seed = 1234; }},
      {"virtual_shards", [](TrainConfig& c) { c.virtual_shards = 8; }},
      {"threads", [](TrainConfig& c) { c.threads = 2; }},
      {"out", [](TrainConfig& c) { c.out = "runs/x"; }},
      {"divergence_limit", [](TrainConfig& c) { c.divergence_limit = 1e6; }},
      {"collective_timeout", [](TrainConfig& c) { c.collective_timeout = 30; }},
      {"progress", [](TrainConfig& c) { c.progress = false; }},
      {"gallery", [](TrainConfig& c) { c.gallery = 0; }},
      {"checkpoint_every", [](TrainConfig& c) { c.checkpoint_every = 10; }},
      {"keep_checkpoints", [](TrainConfig& c) { c.keep_checkpoints = 5; }},
      {"resume", [](TrainConfig& c) { c.resume = true; }},
      {"overwrite", [](TrainConfig& c) { c.overwrite = true; }},
      {"instruments", [](TrainConfig& c) { c.instruments = true; }},
      {"model.type", [](TrainConfig& c) { c.model.type = "convnet"; }},
      {"model.channels", [](TrainConfig& c) { c.model.channels = {8, 16}; }},
      {"model.batch_norm", [](TrainConfig& c) { c.model.batch_norm = true; }},
      {"model.bn_affine", [](TrainConfig& c) { c.model.bn_affine = true; }},
      {"model.sync_bn", [](TrainConfig& c) { c.model.sync_bn = true; }},
      {"model.weight_norm", [](TrainConfig& c) { c.model.weight_norm = true; }},
      {"preset", [](TrainConfig& c) { c.preset = "paper-sgd"; }},
  };
}

// A run may be resumed with more steps, another run directory or checkpoint cadence, but not with a
// setting that changes its trajectory.
TEST(ConfigHash, TrajectoryHashIgnoresOnlyWhatDoesNotChangeTheTrajectory) {
  const TrainConfig base;
  TrainConfig resumed = base;
  resumed.steps = 1000;
  resumed.epochs = 9;
  resumed.out = "elsewhere";
  resumed.resume = true;
  resumed.checkpoint_every = 7;
  resumed.progress = false;
  resumed.threads = 1;
  resumed.collective_timeout = 0;  // how long to wait for a stuck rank says nothing about the trajectory
  resumed.cuda_graphs = false;      // the same launches, not replayed
  EXPECT_EQ(trajectory_hash(resumed), trajectory_hash(base));
  EXPECT_NE(config_hash(resumed), config_hash(base));
  TrainConfig changed = base;
  changed.optim.lr *= 2;
  EXPECT_NE(trajectory_hash(changed), trajectory_hash(base));
  changed = base;
  changed.virtual_shards = 32;
  EXPECT_NE(trajectory_hash(changed), trajectory_hash(base));
}

TEST(ConfigToml, SampleFileSetsTheRightFields) {
  const TempFile file("sample", R"(
epochs = 7
seed = 42
progress = false
objective.rho = 1          # an integer is accepted for a real option
objective.regime = "sgd"

[data]
source = "idx"
path = "/data/mnist"
validation = 5000

[model]
hidden = [100, 50]
activation = "identity"
bias = false

[optim]
batch = "full"
lr = 0.05
)");
  ConfigSources sources;
  sources.config_file = file.path();
  const TrainConfig c = resolve_config(sources);
  EXPECT_EQ(c.epochs, 7);
  EXPECT_EQ(c.seed, 42u);
  EXPECT_FALSE(c.progress);
  EXPECT_EQ(c.objective.rho, 1.0);
  EXPECT_EQ(c.objective.regime, "sgd");
  EXPECT_EQ(c.data.source, "idx");
  EXPECT_EQ(c.data.path, "/data/mnist");
  EXPECT_EQ(c.data.validation, 5000);
  EXPECT_EQ(c.model.hidden, (std::vector<std::int64_t>{100, 50}));
  EXPECT_EQ(c.model.activation, "identity");
  EXPECT_FALSE(c.model.bias);
  EXPECT_EQ(c.optim.batch, kFullBatch);
  EXPECT_EQ(c.optim.lr, 0.05);
  // Untouched options keep their defaults.
  const TrainConfig defaults;
  EXPECT_EQ(c.objective.s, defaults.objective.s);
  EXPECT_EQ(c.data.preprocess, defaults.data.preprocess);
  EXPECT_EQ(c.preset, "");
}

// A file whose read fails part way (here at its first byte: /proc/self/mem at address 0) is an error naming it, not
// a shorter or empty configuration; an empty file is an empty configuration.
TEST(ConfigToml, AConfigFileWhoseReadFailsIsAnErrorNotEmpty) {
  if (!std::filesystem::exists("/proc/self/mem")) GTEST_SKIP() << "no /proc/self/mem here";
  EXPECT_THAT(error_of([] { read_config_file("/proc/self/mem"); }), HasSubstr("config file /proc/self/mem: read failed"));
  const std::filesystem::path empty = std::filesystem::temp_directory_path() / "normscale_empty_config.toml";
  std::ofstream{empty};
  EXPECT_EQ(read_config_file(empty), "");
  std::filesystem::remove(empty);
}

TEST(ConfigSet, ValuesAreParsedByTheOptionType) {
  TrainConfig c;
  apply_override(c, "data.classes=[3, 5]");
  EXPECT_EQ(c.data.classes, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(config_from_toml("[data]\nclasses = [0, 6]\n").data.classes, (std::vector<std::int64_t>{0, 6}));
  apply_override(c, "model.hidden=[64, 32]");
  EXPECT_EQ(c.model.hidden, (std::vector<std::int64_t>{64, 32}));
  apply_override(c, "model.hidden=800,800");
  EXPECT_EQ(c.model.hidden, (std::vector<std::int64_t>{800, 800}));
  apply_override(c, "model.hidden=[]");
  EXPECT_TRUE(c.model.hidden.empty());
  apply_override(c, "optim.batch=full");
  EXPECT_EQ(c.optim.batch, kFullBatch);
  apply_override(c, "optim.batch=256");
  EXPECT_EQ(c.optim.batch, 256);
  apply_override(c, "progress=false");
  EXPECT_FALSE(c.progress);
  apply_override(c, "model.bias=true");
  EXPECT_TRUE(c.model.bias);
  apply_override(c, "optim.lr=1e-2");
  EXPECT_EQ(c.optim.lr, 1e-2);
  apply_override(c, "objective.rho=3");
  EXPECT_EQ(c.objective.rho, 3.0);
  apply_override(c, "seed=7");
  EXPECT_EQ(c.seed, 7u);
  apply_override(c, "objective.regime=square");
  EXPECT_EQ(c.objective.regime, "square");
  apply_override(c, "out=\"runs/with = sign\"");
  EXPECT_EQ(c.out, "runs/with = sign");
}

TEST(ConfigPrecedence, DefaultsPresetFileSetOut) {
  // paper-sgd sets regime sgd, batch 128, lr 0.1; the file overrides batch and lr; --set
  // overrides lr again; --out beats --set out.
  const TempFile file("precedence", R"(
[optim]
batch = 64
lr = 0.5
)");
  ConfigSources sources;
  sources.config_file = file.path();
  sources.preset = "paper-sgd";
  sources.overrides = {"optim.lr=0.7", "out=runs/from-set"};
  sources.out = "runs/from-out";
  const TrainConfig c = resolve_config(sources);
  EXPECT_EQ(c.objective.regime, "sgd");  // preset beats default ("minnorm")
  EXPECT_EQ(c.optim.batch, 64);           // file beats preset (128)
  EXPECT_EQ(c.optim.lr, 0.7);             // --set beats file (0.5)
  EXPECT_EQ(c.out, "runs/from-out");      // --out is applied last
  EXPECT_EQ(c.epochs, TrainConfig{}.epochs);
  EXPECT_EQ(c.preset, "paper-sgd");
}

TEST(ConfigPrecedence, PresetKeyInFileIsAppliedBeforeTheFileValues) {
  const TempFile file("preset_key", R"(
preset = "paper-minnorm-sgd"
[objective]
rho = 2.5
)");
  ConfigSources sources;
  sources.config_file = file.path();
  const TrainConfig c = resolve_config(sources);
  EXPECT_EQ(c.preset, "paper-minnorm-sgd");
  EXPECT_EQ(c.objective.s, 7.8125);  // from the preset
  EXPECT_EQ(c.optim.lr, 1e-5);       // from the preset
  EXPECT_EQ(c.objective.rho, 2.5);   // the file beats the preset (0)
}

TEST(ConfigPrecedence, ConflictingPresetsAndPresetViaSetAreRejected) {
  const TempFile file("preset_conflict", "preset = \"paper-wd\"\n");
  ConfigSources sources;
  sources.config_file = file.path();
  sources.preset = "paper-sgd";
  EXPECT_THAT(error_of([&] { resolve_config(sources); }),
              AllOf(HasSubstr("paper-sgd"), HasSubstr("paper-wd"), HasSubstr("conflicts")));

  ConfigSources via_set;
  via_set.overrides = {"preset=paper-sgd"};
  EXPECT_THAT(error_of([&] { resolve_config(via_set); }), HasSubstr("--preset"));
}

TEST(ConfigToml, RoundTripOfANonDefaultConfig) {
  TrainConfig c;
  for (const auto& [key, change] : one_change_per_field()) change(c);
  // Values that are easy to get wrong in text.
  c.data.path = "C:\\data \"quoted\"\nnext\tline";
  c.objective.s = 0.1;
  c.optim.lr = 1e-300;
  c.model.init_scale = 3.0;  // integral real must stay a float in TOML
  c.divergence_limit = 1e22;
  c.data.synthetic_snr = std::numeric_limits<double>::infinity();
  c.seed = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  c.data.classes = {};
  c.model.hidden = {800, 400, 10};
  const std::string text = to_toml(c);
  const TrainConfig parsed = config_from_toml(text);
  expect_same_config(parsed, c);
  EXPECT_EQ(to_toml(parsed), text);
}

TEST(ConfigToml, RoundTripOfAPresetWithFullBatch) {
  TrainConfig c;
  apply_preset("paper-minnorm-bgd", c);
  c.optim.lr = 0.02;  // the written values win over the preset when read back
  const TrainConfig parsed = config_from_toml(to_toml(c));
  expect_same_config(parsed, c);
  EXPECT_THAT(to_toml(c), HasSubstr("batch = \"full\""));
}

// Checkpoints and study trial ids record hashes of to_toml: an option added later must leave the text
// of a configuration that does not set it unchanged, so runs and studies recorded before stay valid.
TEST(ConfigToml, AnOptionAddedLaterIsWrittenOnlyWhenSet) {
  TrainConfig c;
  EXPECT_THAT(to_toml(c), Not(HasSubstr("overwrite")));
  c.overwrite = true;
  EXPECT_THAT(to_toml(c), HasSubstr("overwrite = true"));
  EXPECT_TRUE(config_from_toml(to_toml(c)).overwrite);
  EXPECT_EQ(trajectory_hash(c), trajectory_hash(TrainConfig{})) << "it does not change the trajectory";
}

// objective.tolerance says when a run stops, as steps does: a run may resume with another one. The coordinate
// rule's options change the trajectory.
TEST(ConfigToml, TheToleranceIsNotPartOfTheTrajectory) {
  TrainConfig c;
  EXPECT_THAT(to_toml(c), Not(HasSubstr("tolerance")));
  EXPECT_THAT(to_toml(c), Not(HasSubstr("local_steps")));
  EXPECT_THAT(to_toml(c), Not(HasSubstr("round_momentum")));
  c.objective.tolerance = 1e-6;
  EXPECT_THAT(to_toml(c), HasSubstr("tolerance = "));
  EXPECT_EQ(trajectory_hash(c), trajectory_hash(TrainConfig{}));
  c.objective.local_steps = 4;
  EXPECT_NE(trajectory_hash(c), trajectory_hash(TrainConfig{}));
}

TEST(ConfigTable, EveryFieldIsAnOptionThatRoundTripsAndChangesTheHash) {
  const auto changes = one_change_per_field();
  EXPECT_EQ(changes.size(), option_table().size());
  const TrainConfig defaults;
  for (const auto& [key, change] : changes) {
    SCOPED_TRACE(key);
    EXPECT_NE(find_option(key), nullptr);
    TrainConfig changed;
    change(changed);
    EXPECT_NE(config_hash(changed), config_hash(defaults));
    expect_same_config(config_from_toml(to_toml(changed)), changed);
    EXPECT_THAT(describe_options(), HasSubstr(key));
  }
}

TEST(ConfigErrors, UnknownKeyInFileNamesKeyFileLineAndSuggestion) {
  const TempFile file("unknown", "epochs = 2\n\n[optim]\nlrr = 0.1\n");
  ConfigSources sources;
  sources.config_file = file.path();
  EXPECT_THAT(error_of([&] { resolve_config(sources); }),
              AllOf(HasSubstr(file.path().string() + ":4:"), HasSubstr("'optim.lrr'"),
                    HasSubstr("did you mean 'optim.lr'")));
}

TEST(ConfigErrors, AnUnknownPresetInAFileNamesTheFile) {
  const TempFile file("preset", "preset = \"paper-adam\"\n");
  ConfigSources sources;
  sources.config_file = file.path();
  EXPECT_THAT(error_of([&] { resolve_config(sources); }),
              HasSubstr(file.path().string() + ": preset: unknown preset 'paper-adam'; known presets: "));
}

// TOML allows "optim.lr" beside [optim] lr (two keys of different tables): one of the two went unused.
TEST(ConfigErrors, AnOptionSetTwiceInOneFileNamesBothLines) {
  const TempFile file("twice", "\"optim.lr\" = 0.1\nepochs = 2\n\n[optim]\nlr = 0.5\n");
  ConfigSources sources;
  sources.config_file = file.path();
  EXPECT_THAT(error_of([&] { resolve_config(sources); }),
              HasSubstr(file.path().string() + ":1: optim.lr is set twice in this file, at lines 1 and 5; expected it "
                                               "once"));
  // A file over a preset, and --set over a file, still replace values.
  const TempFile over("over", "preset = \"paper-sgd\"\n[optim]\nlr = 0.5\n");
  sources.config_file = over.path();
  sources.overrides = {"optim.lr=0.25"};
  EXPECT_DOUBLE_EQ(resolve_config(sources).optim.lr, 0.25);
}

TEST(ConfigErrors, UnknownKeyInSetSuggestsByLeafName) {
  TrainConfig c;
  EXPECT_THAT(error_of([&] { apply_override(c, "lr=0.1"); }),
              AllOf(HasSubstr("'lr'"), HasSubstr("did you mean 'optim.lr'")));
  EXPECT_THAT(error_of([&] { apply_override(c, "optim.hidden=[3]"); }),
              HasSubstr("did you mean 'model.hidden'"));
  EXPECT_THAT(error_of([&] { apply_override(c, "optim.lr"); }), HasSubstr("key=value"));
  // The class subset moved from the objective to the data section.
  EXPECT_THAT(error_of([&] { apply_override(c, "objective.classes=[3, 5]"); }),
              HasSubstr("did you mean 'data.classes'"));
  EXPECT_THAT(error_of([&] { config_from_toml("data = 5\n", "x.toml"); }),
              AllOf(HasSubstr("x.toml:1:"), HasSubstr("'data' is a section")));
}

TEST(ConfigErrors, WrongTypeNamesKeyExpectedAndActual) {
  EXPECT_THAT(error_of([] { config_from_toml("epochs = \"three\"\n", "run.toml"); }),
              AllOf(HasSubstr("run.toml:1:"), HasSubstr("epochs"), HasSubstr("expected an integer"),
                    HasSubstr("got string \"three\"")));
  EXPECT_THAT(error_of([] { config_from_toml("[model]\nhidden = [800, \"a\"]\n", "m.toml"); }),
              AllOf(HasSubstr("m.toml:2:"), HasSubstr("model.hidden"),
                    HasSubstr("expected a list of integers")));
  EXPECT_THAT(error_of([] { config_from_toml("optim.batch = -1\n"); }),
              AllOf(HasSubstr("optim.batch"), HasSubstr("expected an integer >= 1 or \"full\"")));
  EXPECT_THAT(error_of([] { config_from_toml("seed = -3\n"); }),
              AllOf(HasSubstr("seed"), HasSubstr("got integer -3")));

  TrainConfig c;
  EXPECT_THAT(error_of([&] { apply_override(c, "optim.lr=fast"); }),
              AllOf(HasSubstr("optim.lr"), HasSubstr("expected a number"), HasSubstr("'fast'")));
  EXPECT_THAT(error_of([&] { apply_override(c, "model.bias=yes"); }),
              AllOf(HasSubstr("model.bias"), HasSubstr("expected true or false")));
  EXPECT_THAT(error_of([&] { apply_override(c, "epochs=2.5"); }),
              AllOf(HasSubstr("epochs"), HasSubstr("expected an integer")));
  EXPECT_THAT(error_of([&] { apply_override(c, "model.hidden=800,x"); }),
              HasSubstr("model.hidden"));
  EXPECT_THAT(error_of([&] { apply_override(c, "optim.batch=0"); }),
              AllOf(HasSubstr("optim.batch"), HasSubstr("got '0'")));
}

TEST(ConfigErrors, MissingFileAndSyntaxError) {
  ConfigSources missing;
  missing.config_file = std::filesystem::temp_directory_path() / "normscale_no_such_file.toml";
  EXPECT_THAT(error_of([&] { resolve_config(missing); }),
              AllOf(HasSubstr("normscale_no_such_file.toml"), HasSubstr("no such file")));

  const TempFile broken("syntax", "epochs = 2\n[optim]\nlr = = 0.1\n");
  ConfigSources sources;
  sources.config_file = broken.path();
  EXPECT_THAT(error_of([&] { resolve_config(sources); }),
              AllOf(HasSubstr(broken.path().string() + ":3:"), HasSubstr("TOML syntax error")));
}

TEST(ConfigValidate, DefaultsAndPresetsAreValid) {
  EXPECT_NO_THROW(validate(TrainConfig{}));
  for (const auto& [name, description] : list_presets()) {
    TrainConfig c;
    apply_preset(name, c);
    EXPECT_NO_THROW(validate(c)) << name;
  }
}

// The message validate() gives for the default configuration with one change.
std::string message_for(const std::function<void(TrainConfig&)>& change) {
  TrainConfig c;
  change(c);
  return error_of([&] { validate(c); });
}

TEST(ConfigValidate, BadValuesAreRejectedNamingTheOption) {
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.s = -1.0; }),
              AllOf(HasSubstr("objective.s = -1"), HasSubstr(">= 0")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.optim.batch = 0; }),
              AllOf(HasSubstr("optim.batch = 0"), HasSubstr("\"full\"")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.regime = "adam"; }),
              AllOf(HasSubstr("objective.regime = \"adam\""), HasSubstr("sgd, minnorm, square")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.optim.momentum = 1.0; }),
              AllOf(HasSubstr("optim.momentum = 1"), HasSubstr("[0, 1)")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.optim.lr = 0.0; }), HasSubstr("optim.lr = 0"));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.model.type = "convnet";
                c.model.channels.clear();
              }),
              HasSubstr("model.channels = []: a ConvNet needs at least one convolution block"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.optim.lr = std::nan(""); }),
              HasSubstr("optim.lr = nan"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.rho = -0.5; }),
              HasSubstr("objective.rho = -0.5"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.C = 0; }), HasSubstr("objective.C = 0"));
  // An integer option is echoed as the integer it was (it was -9.223372036854776e+18).
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.local_steps = std::numeric_limits<std::int64_t>::min(); }),
              HasSubstr("objective.local_steps = -9223372036854775808 is out of range"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.kappa_p = -1; }), HasSubstr("objective.kappa_p = -1"));
  // A perturbation window that ends before it starts ran without one perturbation and without a word.
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.perturb.every = 1;
                c.perturb.start = 5;
                c.perturb.until = 2;
              }),
              HasSubstr("perturb.until = 2 is before perturb.start = 5: no perturbation would happen"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.rho_growth = 0.5; }),
              HasSubstr("objective.rho_growth = 0.5"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.objective.multipliers = "two"; }),
              AllOf(HasSubstr("objective.multipliers = \"two\""), HasSubstr("per-output, single")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.optim.decay_power = 1.5; }),
              HasSubstr("optim.decay_power = 1.5"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.optim.warmup_epochs = -1; }),
              HasSubstr("optim.warmup_epochs = -1"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.epochs = 0; }), HasSubstr("epochs = 0"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.virtual_shards = 0; }),
              HasSubstr("virtual_shards = 0"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.model.hidden = {800, 0}; }),
              HasSubstr("model.hidden[1] = 0"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.model.init_scale = 0.0; }),
              HasSubstr("model.init_scale = 0"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.preprocess = "whiten"; }),
              HasSubstr("data.preprocess = \"whiten\""));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.preset = "paper-adam"; }),
              HasSubstr("paper-adam"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.classes = {3, 3}; }),
              AllOf(HasSubstr("data.classes = [3, 3]"), HasSubstr("twice")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.classes = {4}; }),
              AllOf(HasSubstr("data.classes = [4]"), HasSubstr("at least 2")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.classes = {3, -1}; }),
              HasSubstr("data.classes[1] = -1"));
  // The class count sizes the output layer, so it is bounded (#12).
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.num_classes = 100001; }),
              AllOf(HasSubstr("data.num_classes = 100001"), HasSubstr("[0, 100000]")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.num_classes = -1; }), HasSubstr("data.num_classes = -1"));

  EXPECT_THAT(message_for([](TrainConfig& c) { c.collective_timeout = -1; }),
              AllOf(HasSubstr("collective_timeout = -1"), HasSubstr(">= 0")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.collective_timeout = std::numeric_limits<double>::infinity(); }),
              AllOf(HasSubstr("collective_timeout = inf"), HasSubstr("finite")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.collective_timeout = std::nan(""); }),
              HasSubstr("collective_timeout = nan"));

  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.optim.normalization = "lagrange";
                c.optim.momentum = 0.9;
              }),
              AllOf(HasSubstr("optim.normalization = \"lagrange\""), HasSubstr("optim.momentum = 0")));
  // The coordinate rule needs a linear model: refused from the options, before any data is read.
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.objective.regime = "minnorm";
                c.objective.dual = "coordinate";
                c.model.hidden = {8};
              }),
              AllOf(HasSubstr("objective.dual = \"coordinate\""), HasSubstr("model.hidden = [8]")));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.model.batch_norm = true;
                c.optim.batch = 1;
              }),
              AllOf(HasSubstr("model.batch_norm = true with optim.batch = 1"), HasSubstr("at least 2")));
  // Zero weights with hidden layers never train (no gradient reaches them); a linear model may start at 0.
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.model.init = "zeros";
                c.model.hidden = {16};
              }),
              AllOf(HasSubstr("model.init = \"zeros\""), HasSubstr("model.hidden = [16]")));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.model.init = "zeros";
                c.model.hidden = {};
                c.objective.regime = "exponential";
                c.optim.normalization = "lagrange";
              }),
              HasSubstr("optim.normalization = \"lagrange\""));
  // Minnorm's norm term is its own: a weight decay beside it would change nothing.
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.objective.regime = "minnorm";
                c.optim.weight_decay = 5e-4;
              }),
              AllOf(HasSubstr("optim.weight_decay = 0.0005"), HasSubstr("not be applied")));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.objective.regime = "minnorm";
                c.optim.decay_power = 0.5;
              }),
              HasSubstr("optim.decay_power = 0.5"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.perturb.every = -1; }), HasSubstr("perturb.every = -1"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.perturb.scale = std::nan(""); }), HasSubstr("perturb.scale = nan"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.perturb.sd = -0.5; }), HasSubstr("perturb.sd = -0.5"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.data.degree = 1001; }),
              AllOf(HasSubstr("data.degree = 1001"), HasSubstr("[0, 1000]")));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.model.init = "zeros";
                c.model.weight_norm = true;
              }),
              AllOf(HasSubstr("model.init = \"zeros\""), HasSubstr("model.weight_norm")));

  EXPECT_THAT(message_for([](TrainConfig& c) { c.device = "gpu"; }),
              AllOf(HasSubstr("device = \"gpu\""), HasSubstr("cpu, cuda")));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.device = "cuda";
                c.precision = "float64";
              }),
              AllOf(HasSubstr("device = \"cuda\""), HasSubstr("float32 (or bf16 products) only")));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.precision = "bf16";
                c.cuda_tf32 = true;
              }),
              AllOf(HasSubstr("precision = \"bf16\""), HasSubstr("cuda_tf32 = true")));
  // GPU ranks take curvature-normalized steps, coordinate rounds and bf16 products (tests/gpu compares them
  // with the CPU).
  for (const auto& gpu_option : std::vector<std::function<void(TrainConfig&)>>{
           [](TrainConfig& c) {
             c.objective.regime = "minnorm";
             c.objective.curvature_step = true;
           },
           [](TrainConfig& c) {
             c.objective.regime = "minnorm";
             c.objective.dual = "coordinate";
             c.model.hidden = {};
           },
           [](TrainConfig& c) { c.precision = "bf16"; }}) {
    TrainConfig on_gpu;
    on_gpu.device = "cuda";
    gpu_option(on_gpu);
    EXPECT_NO_THROW(validate(on_gpu));
  }

  // epochs may be 0 when steps take over.
  TrainConfig by_steps;
  by_steps.epochs = 0;
  by_steps.steps = 10;
  EXPECT_NO_THROW(validate(by_steps));
  // 0 turns the collective watchdog off.
  TrainConfig no_watchdog;
  no_watchdog.collective_timeout = 0;
  EXPECT_NO_THROW(validate(no_watchdog));
}

TEST(ConfigDevice, CudaWithoutTheBackendOrAGpuIsAnErrorNamingTheOption) {
  std::string why;
  if (cuda_backend_built() && cuda_usable(&why)) GTEST_SKIP() << "a CUDA device is present: tests/gpu cover it";
  Dataset d;
  d.name = "tiny";
  d.rows = 4;
  d.cols = 2;
  d.num_classes = 2;
  d.features.assign(8, 0.5f);
  d.labels = {0, 1, 0, 1};
  auto net = make_mlp<float>({2, {3}, 2, "relu", true});
  CrossEntropy<float> objective;
  LocalComm comm;
  TrainerOptions options;
  options.batch = 2;
  options.virtual_shards = 2;
  const std::string message =
      error_of([&] { make_cuda_engine(options, CudaEngineOptions{}, comm, d, d.rows, *net, objective); });
  EXPECT_THAT(message, AllOf(HasSubstr("device = \"cuda\""), HasSubstr("device = \"cpu\"")));
}

// Options that differ between two texts, with both values: those of the second text in its order, then those only
// the first sets (an option written only when set, back at its default).
TEST(ConfigAgreement, DifferingOptionsNameBothValuesAndWhatOnlyOneTextSets) {
  const std::string a = "seed = 1\n[optim]\nlr = 0.1\nonly_a = 3\n";
  const std::string b = "seed = 1\n[optim]\nlr = 0.2\nonly_b = 4\n";
  const std::vector<OptionDifference> d = differing_options(a, b);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].key + " " + d[0].a + " " + d[0].b, "optim.lr 0.1 0.2");
  EXPECT_EQ(d[1].key + " " + d[1].a + " " + d[1].b, "optim.only_b (not set) 4");
  EXPECT_EQ(d[2].key + " " + d[2].a + " " + d[2].b, "optim.only_a 3 (not set)");
  EXPECT_TRUE(differing_options(a, a).empty());
  EXPECT_EQ(first_differing_option(a, b, 2), "optim.lr is 0.1 on rank 0 but 0.2 on rank 2");
}

TEST(ConfigValidate, AgainstDataRejectsBatchLargerThanTrainingSetAndAMismatchedClassSubset) {
  TrainConfig c;
  c.optim.batch = 256;
  EXPECT_THAT(error_of([&] { validate_against_data(c, 100, 10); }),
              AllOf(HasSubstr("optim.batch = 256"), HasSubstr("100 examples")));
  EXPECT_NO_THROW(validate_against_data(c, 256, 10));
  c.optim.batch = kFullBatch;
  EXPECT_NO_THROW(validate_against_data(c, 100, 10));
  // The coordinate rule does not use optim.batch (its rounds are passes over the blocks).
  c.optim.batch = 256;
  c.objective.regime = "minnorm";
  c.objective.dual = "coordinate";
  EXPECT_NO_THROW(validate_against_data(c, 100, 10));
  c = TrainConfig{};
  c.optim.batch = kFullBatch;

  // The loaded data of a class subset has been relabelled 0..k-1 by load_data.
  c.data.classes = {3, 5};
  EXPECT_THAT(error_of([&] { validate_against_data(c, 100, 10); }),
              AllOf(HasSubstr("data.classes = [3, 5]"), HasSubstr("loaded data has 10")));
  EXPECT_NO_THROW(validate_against_data(c, 100, 2));
}

TEST(ConfigValidate, SizesThatWouldOverflowOrFloodTheDiskAreRejectedNamingTheOption) {
  EXPECT_THAT(message_for([](TrainConfig& c) { c.epochs = 4611686018427387904; }),
              AllOf(HasSubstr("epochs = 4611686018427387904"), HasSubstr("expected an integer in [1,")));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.steps = std::int64_t{1} << 62; }), HasSubstr("steps = "));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.virtual_shards = 1 << 30; }),
              HasSubstr("virtual_shards = 1073741824"));
  EXPECT_THAT(message_for([](TrainConfig& c) { c.threads = 100000; }), HasSubstr("threads = 100000"));
  EXPECT_THAT(message_for([](TrainConfig& c) {
                c.data.synthetic_examples = 1 << 20;
                c.data.synthetic_dim = 1 << 20;
              }),
              HasSubstr("data.synthetic_examples = 1048576 x data.synthetic_dim = 1048576"));

  // Within the option's own range, but not against this data: a billion epochs of batch 1 over
  // 10^7 examples draws more examples than a double counts exactly; 100,000 shards of 200 examples.
  TrainConfig c;
  c.optim.batch = 1;
  c.epochs = 1'000'000'000;
  EXPECT_THAT(error_of([&] { validate_against_data(c, 10'000'000, 10); }),
              AllOf(HasSubstr("epochs = 1000000000"), HasSubstr("steps of batch 1")));
  c.epochs = 3;
  EXPECT_NO_THROW(validate_against_data(c, 10'000'000, 10));
  c.virtual_shards = 100'000;
  EXPECT_THAT(error_of([&] { validate_against_data(c, 200, 10); }),
              AllOf(HasSubstr("virtual_shards = 100000"), HasSubstr("200 training examples")));
  c.virtual_shards = 64;
  EXPECT_NO_THROW(validate_against_data(c, 20, 10));
}

// Reference FNV-1a 64, checked against the published test vector, to pin the hash definition.
std::uint64_t reference_fnv1a(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const unsigned char ch : text) hash = (hash ^ ch) * 0x100000001b3ULL;
  return hash;
}

TEST(ConfigHash, EqualConfigsHashEqualAndOneChangeDiffers) {
  EXPECT_EQ(reference_fnv1a("a"), 0xaf63dc4c8601ec8cULL);
  TrainConfig a;
  TrainConfig b;
  apply_preset("paper-wd", a);
  apply_preset("paper-wd", b);
  EXPECT_EQ(config_hash(a), config_hash(b));
  EXPECT_EQ(config_hash(a), reference_fnv1a(to_toml(a)));
  b.optim.weight_decay = 1e-3;
  EXPECT_NE(config_hash(a), config_hash(b));
  b.optim.weight_decay = a.optim.weight_decay;
  EXPECT_EQ(config_hash(a), config_hash(b));
  b.model.hidden = {800, 801};
  EXPECT_NE(config_hash(a), config_hash(b));
}

TEST(ConfigList, DescribeOptionsShowsDefaultsTypesAndChoices) {
  const std::string text = describe_options();
  EXPECT_THAT(text, HasSubstr("optim.batch = 128"));
  EXPECT_THAT(text, HasSubstr("model.hidden = [800, 800]"));
  EXPECT_THAT(text, HasSubstr("objective.alpha_update = \"exact\""));
  EXPECT_THAT(text, HasSubstr("one of: exact, lagged"));
  for (const OptionDescriptor& option : option_table()) {
    EXPECT_FALSE(option.doc.empty()) << option.key;
  }
}

}  // namespace
}  // namespace normscale
