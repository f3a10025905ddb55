// objective.round_momentum: the coordinate rule's rounds with Nesterov momentum and gradient restart
// (accelerated CoCoA+). Its known answers are tested with the coordinate rule's (test_coordinate_ascent.cpp);
// here: fewer rounds on several blocks, the restart, its state (the trainer's velocity, each multiplier's last
// value and the rounds since the restart) making a resumed run the run that never stopped, the refusals.
#include "normscale/core/error.hpp"
#include "normscale/data/synthetic.hpp"
#include "normscale/objective/minnorm_rule.hpp"
#include "normscale/train/config_io.hpp"
#include "coordinate_resume.hpp"
#include "svm_oracles.hpp"
#include "toy_harness.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace normscale::toy {
namespace {

// Rounds until the certificate is within `tolerance` (checked after every round), at most `cap`.
Index rounds_to(ToyRun& run, double tolerance, Index cap) {
  Index rounds = 0;
  while (rounds < cap && !certificate(run).within(tolerance)) {
    run.train(1);
    ++rounds;
  }
  return rounds;
}

// The point of the momentum: on several blocks CoCoA+'s safe rounds (sigma = blocks) are slow; with momentum
// the same certificate takes a fraction of them.
TEST(RoundMomentum, TakesFewerRoundsThanPlainRoundsOnSeveralBlocks) {
  const Dataset train = make_polynomial_sine(5, 8, true, 1).train;
  auto plain = coordinate_run(train, {9, {}, 1, "identity", false}, coordinate("regression"), 5);
  auto accelerated = coordinate_run(train, {9, {}, 1, "identity", false}, coordinate("regression", kHardMargin, 0, true), 5);
  const Index plain_rounds = rounds_to(*plain, 1e-8, 200000);
  const Index accelerated_rounds = rounds_to(*accelerated, 1e-8, 200000);
  RecordProperty("plain_rounds", static_cast<int>(plain_rounds));
  RecordProperty("momentum_rounds", static_cast<int>(accelerated_rounds));
  ASSERT_LT(plain_rounds, 200000) << "plain rounds did not get there";
  EXPECT_LT(accelerated_rounds * 5, plain_rounds) << "momentum " << accelerated_rounds << ", plain " << plain_rounds;
}

// The rounds since the restart, each multiplier row's last state: counts up by one per round and goes back to 0
// when a round turns against the momentum; the row's other new state is the multiplier at the round's start.
TEST(RoundMomentum, RestartsWhenARoundTurnsAgainstItsMomentum) {
  auto run = coordinate_run(svm_set(), {2, {}, 1, "identity", false}, coordinate("binary", kHardMargin, 0, true), 4);
  const MinnormParams& params = *static_cast<const MinnormParams*>(run->objective->rule_params());
  ASSERT_EQ(MinnormRule::dual_states(params), 4);
  const auto count = [&] { return run->objective->multipliers()->row(0)[4]; };
  double previous = 0.0;
  int restarts = 0;
  double longest = 0.0;
  for (int round = 0; round < 300; ++round) {
    const double alpha = run->alpha(0);
    run->train(1);
    EXPECT_EQ(run->objective->multipliers()->row(0)[3], alpha) << "round " << round;
    const double k = count();
    EXPECT_TRUE(k == previous + 1.0 || k == 0.0) << "round " << round << ": " << previous << " -> " << k;
    for (Index i = 1; i < run->data.rows; ++i) EXPECT_EQ(run->objective->multipliers()->row(i)[4], k);
    if (k == 0.0) ++restarts;
    longest = std::max(longest, k);
    previous = k;
  }
  EXPECT_GT(restarts, 0);
  EXPECT_GT(longest, 3.0);
}

// A round is a pure function of (weights, velocity, multiplier rows, step): continuing from a copy of all of
// them at step 7 gives exactly the run that never stopped; without the velocity it does not.
TEST(RoundMomentum, ResumingMidRunGivesTheSameResultWithTheVelocity) {
  const ObjectiveConfig objective = coordinate("binary", 0.5, 0, true);
  auto straight = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  straight->train(15);
  auto first = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
  first->train(7);
  for (const bool velocity : {true, false}) {
    auto second = coordinate_run(overlapping_set(), {2, {}, 1, "identity", true}, objective, 3);
    second->network->mutable_parameters() = first->network->parameters();
    second->objective->multipliers()->values() = first->objective->multipliers()->values();
    if (velocity) second->trainer->velocity() = first->trainer->velocity();
    second->trainer->restore(7);
    second->train(8);
    if (velocity) {
      EXPECT_EQ(second->network->parameters(), straight->network->parameters());
      EXPECT_EQ(second->objective->multipliers()->values(), straight->objective->multipliers()->values());
    } else {
      EXPECT_NE(second->network->parameters(), straight->network->parameters()) << "the velocity is not used";
    }
  }
}

// Through `normscale train` with its checkpoints (which keep the velocity): stopped at step 20 and resumed to
// step 40, the run ends where the run that never stopped does, bit for bit.
TEST(RoundMomentum, ACheckpointedRunResumesToTheSameResult) {
  expect_resumed_equals_straight({"objective.round_momentum=true", "objective.C=10"});
}

// Momentum extrapolates whole rounds of the coordinate rule: another rule, or partial rounds that would leave
// extrapolated multipliers out of their box unvisited, are refused naming the option.
TEST(RoundMomentum, IsRefusedWithoutFullCoordinateRounds) {
  for (const char* other : {"objective.local_steps=7", "objective.dual=ascent"}) {
    TrainConfig config;
    for (const char* option :
         {"model.hidden=[]", "objective.dual=coordinate", "objective.round_momentum=true", other}) {
      apply_override(config, option);
    }
    try {
      validate(config);
      FAIL() << other << " was accepted with objective.round_momentum";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("objective.round_momentum"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace normscale::toy
