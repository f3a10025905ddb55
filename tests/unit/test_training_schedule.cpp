// The run's length and its evaluation and checkpoint cadences: pure functions of the configuration
// and the step.
#include "normscale/train/training_schedule.hpp"

#include <gtest/gtest.h>

namespace normscale {
namespace {

void expect_schedule(const TrainingSchedule& s, Index total, Index evaluate_every, Index checkpoint_every) {
  EXPECT_EQ(s.total_steps, total);
  EXPECT_EQ(s.evaluation.every, evaluate_every);
  EXPECT_EQ(s.checkpoint.every, checkpoint_every);
  EXPECT_EQ(s.evaluation.last_step, total);
  EXPECT_EQ(s.checkpoint.last_step, total);
}

TEST(TrainingSchedule, DefaultsToEpochsAndOneEvaluationAndCheckpointPerEpoch) {
  TrainConfig config;
  config.epochs = 3;
  expect_schedule(training_schedule(config, 10, 30), 30, 10, 10);
}

TEST(TrainingSchedule, StepsAndExplicitCadencesWin) {
  TrainConfig config;
  config.steps = 45;
  config.eval_every = 7;
  config.checkpoint_every = 20;
  expect_schedule(training_schedule(config, 10, 30), 45, 7, 20);
}

TEST(TrainingSchedule, FullBatchEvaluatesTwentyTimesPerRun) {
  TrainConfig config;
  config.epochs = 100;
  expect_schedule(training_schedule(config, 1, 100), 100, 5, 5);
  expect_schedule(training_schedule(config, 1, 7), 7, 1, 1);  // never 0
}

TEST(Cadence, DueEveryKStepsAndAtTheLastStep) {
  const Cadence c{4, 10};
  for (Index step : {4, 8, 10}) EXPECT_TRUE(c.due(step)) << step;
  for (Index step : {1, 3, 5, 9}) EXPECT_FALSE(c.due(step)) << step;
}

}  // namespace
}  // namespace normscale
