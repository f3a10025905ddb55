// A checkpointed run of the coordinate rule through `normscale train`, stopped and resumed, against the run that
// never stopped.
#pragma once

#include "normscale/train/config_io.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <initializer_list>

namespace normscale::toy {

// Linear binary Minnorm on separable-2d with objective.dual = "coordinate", 4 blocks, float64, checkpoints every
// 10 steps, and `options` on top: stopped at step 20 and resumed to step 40, the run ends where the run that
// never stopped does (weights and multipliers, read through the certificate, bit for bit).
inline void expect_resumed_equals_straight(std::initializer_list<const char*> options) {
  const testing::TempDir work("normscale_coordinate_", "resume");
  TrainConfig config;
  for (const char* option : {"data.source=separable-2d", "data.validation=0", "data.preprocess=none",
                             "model.hidden=[]", "objective.task=binary", "objective.dual=coordinate",
                             "precision=float64", "virtual_shards=4", "eval_every=10", "checkpoint_every=10",
                             "progress=false", "gallery=0"}) {
    apply_override(config, option);
  }
  for (const char* option : options) apply_override(config, option);
  config.steps = 40;
  config.out = (work.path() / "straight").string();
  const nlohmann::json straight = testing::train_in_process(config);
  config.out = (work.path() / "resumed").string();
  config.steps = 20;
  testing::train_in_process(config);
  config.steps = 40;
  config.resume = true;
  const nlohmann::json resumed = testing::train_in_process(config);
  EXPECT_EQ(resumed["step"], 40);
  for (const char* key : {"primal", "dual", "weight_norm", "support_vectors"}) {
    EXPECT_EQ(resumed[key], straight[key]) << key;
  }
}

}  // namespace normscale::toy
