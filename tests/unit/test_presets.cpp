// The paper presets against ALGORITHMS.md §1 (Minnorm paper, Appendix D).
#include "normscale/core/error.hpp"
#include "normscale/train/presets.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A config far from every preset, so a preset that forgets a field shows up.
TrainConfig scrambled() {
  TrainConfig c;
  c.data.source = "npy";
  c.data.validation = 7;
  c.data.preprocess = "standardize";
  c.model.hidden = {3};
  c.model.activation = "identity";
  c.model.bias = false;
  c.model.init = "glorot";
  c.objective.regime = "square";
  c.objective.task = "regression";
  c.objective.rho = 123.0;
  c.objective.s = 456.0;
  c.objective.alpha_update = "lagged";
  c.objective.estimator = "unbiased";
  c.optim.lr = 9.0;
  c.optim.momentum = 0.9;
  c.optim.weight_decay = 0.25;
  c.optim.decay_power = 0.5;
  c.optim.batch = 7;
  return c;
}

TrainConfig preset(const std::string& name) {
  TrainConfig c = scrambled();
  apply_preset(name, c);
  return c;
}

// Appendix D: 784-800-800-10 ReLU MLP, 50k train / 10k validation, constant lr, no momentum.
void expect_paper_common(const TrainConfig& c) {
  EXPECT_EQ(c.data.source, "fashion-mnist");
  EXPECT_EQ(c.data.validation, 10000);
  EXPECT_EQ(c.data.preprocess, "scale01");
  EXPECT_EQ(c.model.hidden, (std::vector<std::int64_t>{800, 800}));
  EXPECT_EQ(c.model.activation, "relu");
  EXPECT_TRUE(c.model.bias);
  EXPECT_EQ(c.model.init, "he");
  EXPECT_EQ(c.optim.momentum, 0.0);
  EXPECT_EQ(c.optim.decay_power, 0.0);
}

TEST(Presets, PaperSgd) {
  const TrainConfig c = preset("paper-sgd");
  expect_paper_common(c);
  EXPECT_EQ(c.objective.regime, "sgd");
  EXPECT_EQ(c.optim.batch, 128);
  EXPECT_EQ(c.optim.lr, 0.1);
  EXPECT_EQ(c.optim.weight_decay, 0.0);
  EXPECT_EQ(c.preset, "paper-sgd");
}

TEST(Presets, PaperWeightDecay) {
  const TrainConfig c = preset("paper-wd");
  expect_paper_common(c);
  EXPECT_EQ(c.objective.regime, "sgd");
  EXPECT_EQ(c.optim.batch, 128);
  EXPECT_EQ(c.optim.lr, 0.1);
  EXPECT_EQ(c.optim.weight_decay, 5e-4);
  EXPECT_EQ(c.preset, "paper-wd");
}

TEST(Presets, PaperMinnormFullBatch) {
  const TrainConfig c = preset("paper-minnorm-bgd");
  expect_paper_common(c);
  EXPECT_EQ(c.objective.regime, "minnorm");
  EXPECT_EQ(c.objective.task, "multiclass");
  EXPECT_EQ(c.optim.batch, kFullBatch);
  EXPECT_EQ(c.objective.rho, 0.0);
  EXPECT_EQ(c.objective.s, 2e-4);
  EXPECT_EQ(c.optim.lr, 1e-3);
  EXPECT_EQ(c.objective.alpha_update, "exact");
  EXPECT_EQ(c.objective.estimator, "published");
  EXPECT_EQ(c.optim.weight_decay, 0.0);
  EXPECT_EQ(c.preset, "paper-minnorm-bgd");
}

TEST(Presets, PaperMinnormMinibatchAsPublished) {
  const TrainConfig c = preset("paper-minnorm-sgd");
  expect_paper_common(c);
  EXPECT_EQ(c.objective.regime, "minnorm");
  EXPECT_EQ(c.objective.task, "multiclass");
  EXPECT_EQ(c.optim.batch, 128);
  EXPECT_EQ(c.objective.rho, 0.0);
  EXPECT_EQ(c.objective.s, 7.8125);
  EXPECT_EQ(c.optim.lr, 1e-5);
  EXPECT_EQ(c.objective.alpha_update, "exact");
  EXPECT_EQ(c.objective.estimator, "published");
  EXPECT_EQ(c.optim.weight_decay, 0.0);
  EXPECT_EQ(c.preset, "paper-minnorm-sgd");
}

TEST(Presets, PaperMinnormMinibatchWithRho) {
  const TrainConfig c = preset("paper-minnorm-sgd-rho");
  expect_paper_common(c);
  EXPECT_EQ(c.objective.regime, "minnorm");
  EXPECT_EQ(c.objective.task, "multiclass");
  EXPECT_EQ(c.optim.batch, 128);
  EXPECT_EQ(c.objective.rho, 7.8125);
  EXPECT_EQ(c.objective.s, 7.8125);
  EXPECT_EQ(c.optim.lr, 1e-5);
  EXPECT_EQ(c.preset, "paper-minnorm-sgd-rho");
}

TEST(Presets, ListNamesEveryPresetOnceWithADescription) {
  const auto presets = list_presets();
  std::vector<std::string> names;
  for (const auto& [name, description] : presets) {
    names.push_back(name);
    EXPECT_FALSE(description.empty()) << name;
    EXPECT_TRUE(is_known_preset(name));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"paper-sgd", "paper-wd", "paper-minnorm-bgd", "paper-minnorm-sgd",
                                             "paper-minnorm-sgd-rho", "square-bn-wd", "square-bn", "square-plain"}));
}

// The square-loss papers' setting (ALGORITHMS.md §1): unit-norm inputs, layers at Frobenius norm 5,
// batch norm without affine, square loss with +-1 targets on one output, SGD batch 128, momentum 0.9.
TEST(Presets, SquareLossSettings) {
  TrainConfig c;
  apply_preset("square-bn-wd", c);
  EXPECT_EQ(c.objective.regime, "square");
  EXPECT_EQ(c.objective.square_targets, "pm1");
  EXPECT_EQ(c.model.outputs, 1);
  EXPECT_EQ(c.data.classes, (std::vector<std::int64_t>{0, 6}));
  EXPECT_EQ(c.data.preprocess, "unit-norm");
  EXPECT_EQ(c.model.init, "frobenius");
  EXPECT_DOUBLE_EQ(c.model.init_scale, 5.0);
  EXPECT_TRUE(c.model.batch_norm);
  EXPECT_FALSE(c.model.bn_affine);
  EXPECT_EQ(c.model.hidden.size(), 3u);  // four weight layers
  EXPECT_EQ(c.optim.batch, 128);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.9);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 0.01);
  EXPECT_TRUE(c.instruments);
  TrainConfig bn;
  apply_preset("square-bn", bn);
  EXPECT_DOUBLE_EQ(bn.optim.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(bn.optim.lr, 0.01);
  TrainConfig plain;
  apply_preset("square-plain", plain);
  EXPECT_FALSE(plain.model.batch_norm);
  EXPECT_DOUBLE_EQ(plain.optim.weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(plain.optim.lr, 0.1);
}

TEST(Presets, UnknownPresetListsTheKnownOnes) {
  TrainConfig c;
  try {
    apply_preset("paper-adam", c);
    FAIL() << "expected normscale::Error";
  } catch (const Error& error) {
    EXPECT_THAT(std::string(error.what()),
                AllOf(HasSubstr("unknown preset 'paper-adam'"), HasSubstr("paper-sgd"),
                      HasSubstr("paper-wd"), HasSubstr("paper-minnorm-bgd"),
                      HasSubstr("paper-minnorm-sgd-rho")));
  }
  EXPECT_FALSE(is_known_preset("paper-adam"));
  EXPECT_EQ(c.preset, "");  // a failed preset leaves the config alone
}

}  // namespace
}  // namespace normscale
