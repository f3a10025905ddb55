// The halving planner on standings with known rankings: ASHA promotes the best of three at once, synchronous
// halving waits for its rung, failures and missing errors are never promoted, ties go to the earlier trial,
// settled rungs stop the rest, brackets stay apart; and the errors read at each rung from a trial's evaluations.
#include "normscale/study/halving.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace normscale {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr RungProgress kUnfinished = RungProgress::kUnfinished;
constexpr RungProgress kFinished = RungProgress::kFinished;
constexpr RungProgress kFailed = RungProgress::kFailed;

HalvingSpec spec(HalvingMode mode, std::int64_t reduction = 3) { return {{1, 3, 9}, reduction, mode}; }

RungStanding at(std::size_t rung, RungProgress progress, std::vector<double> errors, std::size_t bracket = 0) {
  return {bracket, rung, progress, std::move(errors)};
}

TEST(Halving, AshaPromotesTheBestOfThreeAsSoonAsTheyFinishTheFirstRung) {
  std::vector<RungStanding> standings = {at(0, kFinished, {30.0}), at(0, kFinished, {10.0}),
                                         at(0, kUnfinished, {}), at(0, kUnfinished, {})};
  // Two finished: floor(2 / 3) = 0 go on, and the rung is not settled, so nobody stops.
  HalvingPlan plan = plan_halving(spec(HalvingMode::kAsynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, IsEmpty());
  // A third: the best of them goes on while the fourth still runs.
  standings[2] = at(0, kFinished, {20.0});
  plan = plan_halving(spec(HalvingMode::kAsynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(1));
  EXPECT_THAT(plan.stop, IsEmpty());
}

TEST(Halving, AshaCountsATrialPromotedBeforeAmongTheTopItCameFrom) {
  // Trial 1 went on from rung 0 and runs at rung 1. With four finished, floor(4 / 3) = 1 slot, and it is still
  // trial 1's: trial 3 waits. A fifth changes nothing; a sixth opens a second slot, trial 3's.
  std::vector<RungStanding> standings = {at(0, kFinished, {30.0}), at(1, kUnfinished, {5.0}),
                                         at(0, kFinished, {20.0}), at(0, kFinished, {10.0}),
                                         at(0, kUnfinished, {}),   at(0, kUnfinished, {})};
  EXPECT_THAT(plan_halving(spec(HalvingMode::kAsynchronous), standings).promote, IsEmpty());
  standings[4] = at(0, kFinished, {40.0});
  EXPECT_THAT(plan_halving(spec(HalvingMode::kAsynchronous), standings).promote, IsEmpty());
  standings[5] = at(0, kFinished, {50.0});
  const HalvingPlan plan = plan_halving(spec(HalvingMode::kAsynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(3));
  EXPECT_THAT(plan.stop, ElementsAre(0, 2, 4, 5));
}

TEST(Halving, SynchronousWaitsForTheWholeRungThenKeepsTheTopThird) {
  std::vector<RungStanding> standings = {at(0, kFinished, {30.0}), at(0, kFinished, {10.0}),
                                         at(0, kFinished, {20.0}), at(0, kUnfinished, {}), at(0, kFinished, {40.0}),
                                         at(0, kFinished, {50.0})};
  HalvingPlan plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, IsEmpty());
  standings[3] = at(0, kFinished, {15.0});
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(1, 3));  // floor(6 / 3) = 2: errors 10 and 15
  EXPECT_THAT(plan.stop, ElementsAre(0, 2, 4, 5));
}

TEST(Halving, ASettledRungSendsOnItsBestEvenWhenFewerThanEtaFinishedIt) {
  // Rung 1 holds one trial: floor(1 / 3) = 0, but nothing else can reach it, so it goes on to the full budget.
  const std::vector<RungStanding> standings = {at(0, kFinished, {30.0}), at(1, kFinished, {10.0, 8.0}),
                                               at(0, kFinished, {20.0})};
  for (const HalvingMode mode : {HalvingMode::kAsynchronous, HalvingMode::kSynchronous}) {
    const HalvingPlan plan = plan_halving(spec(mode), standings);
    EXPECT_THAT(plan.promote, ElementsAre(1)) << halving_mode_name(mode);
    EXPECT_THAT(plan.stop, ElementsAre(0, 2)) << halving_mode_name(mode);
  }
}

TEST(Halving, TheWinnerAtTheLastRungEndsItAllAndNobodyIsLeftWaiting) {
  const std::vector<RungStanding> standings = {at(0, kFinished, {30.0}), at(2, kFinished, {10.0, 8.0, 5.0}),
                                               at(0, kFinished, {20.0})};
  const HalvingPlan plan = plan_halving(spec(HalvingMode::kAsynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, ElementsAre(0, 2));
}

TEST(Halving, DivergedOrFailedTrialsAreNeverPromotedButCountAsFinished) {
  // The failure (diverged at rung 0) counts: three finished, so the best of the other two goes on.
  std::vector<RungStanding> standings = {at(0, kFailed, {}), at(0, kFinished, {40.0}), at(0, kFinished, {20.0})};
  HalvingPlan plan = plan_halving(spec(HalvingMode::kAsynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(2));
  EXPECT_THAT(plan.stop, ElementsAre(1));
  // Failing is not stopping: a failed trial is in neither list. When all but failures are gone, none goes on.
  standings = {at(0, kFailed, {}), at(0, kFailed, {}), at(0, kFinished, {std::nan("")})};
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, ElementsAre(2));
  // A trial that failed at rung 1 after going on from rung 0 is not sent on again from rung 0; rung 0 sends on its
  // next best instead, so that the bracket still trains one to the full budget.
  standings = {at(1, kFailed, {5.0}), at(0, kFinished, {40.0}), at(0, kFinished, {20.0})};
  for (const HalvingMode mode : {HalvingMode::kAsynchronous, HalvingMode::kSynchronous}) {
    plan = plan_halving(spec(mode), standings);
    EXPECT_THAT(plan.promote, ElementsAre(2)) << halving_mode_name(mode);
    EXPECT_THAT(plan.stop, ElementsAre(1)) << halving_mode_name(mode);
  }
  // Two rungs up: trial 0 went on from rungs 0 and 1 and failed at rung 2. Rung 0 still has trials alive above it
  // (1 and 4, at rung 1), so only rung 1 sends on its next best by rung-1 error: trial 1 (30), not 4 (35). While
  // trial 0 still runs, nobody else is sent.
  standings = {at(2, kFailed, {5.0, 4.0}), at(1, kFinished, {40.0, 30.0}), at(0, kFinished, {20.0}),
               at(0, kFinished, {50.0}),   at(1, kFinished, {10.0, 35.0}), at(0, kFinished, {60.0})};
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(1));
  EXPECT_THAT(plan.stop, ElementsAre(2, 3, 4, 5));
  standings[0] = at(2, kUnfinished, {5.0, 4.0});
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, ElementsAre(1, 2, 3, 4, 5));
  // A trial that went on and finished its rung without an error to rank it by (a run a tolerance ended before the
  // rung's budget) can go no further either: the rung below sends on its next best.
  standings = {at(1, kFinished, {5.0, std::nan("")}), at(0, kFinished, {40.0}), at(0, kFinished, {20.0})};
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(2));
  EXPECT_THAT(plan.stop, ElementsAre(1));  // trial 0 stops once rung 1 settles again, with trial 2's end there
}

TEST(Halving, AFailureRunAgainReopensItsRungAndGoesOnIfItRanksInTheTop) {
  // Synchronous, eta 3: trial 0 failed at rung 0, so the rung was decided without it: trial 1 went on (it runs
  // rung 1), trial 2 stopped. Run again (--retry-failed), trial 0 is unfinished at rung 0: the rung waits for it.
  std::vector<RungStanding> standings = {at(0, kUnfinished, {}), at(1, kUnfinished, {20.0}), at(0, kFinished, {40.0})};
  HalvingPlan plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, IsEmpty());
  // It ends rung 0 best: it goes on beside trial 1 (a trial sent on is never taken back); trial 2 stays stopped.
  standings[0] = at(0, kFinished, {10.0});
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(0));
  EXPECT_THAT(plan.stop, ElementsAre(2));
  // It ends rung 0 below trial 1: the decision made without it stands, and it stops.
  standings[0] = at(0, kFinished, {30.0});
  plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, ElementsAre(0, 2));
}

TEST(Halving, TiesGoToTheEarlierTrial) {
  const std::vector<RungStanding> standings = {at(0, kFinished, {20.0}), at(0, kFinished, {10.0}),
                                               at(0, kFinished, {10.0})};
  for (const HalvingMode mode : {HalvingMode::kAsynchronous, HalvingMode::kSynchronous}) {
    const HalvingPlan plan = plan_halving(spec(mode), standings);
    EXPECT_THAT(plan.promote, ElementsAre(1)) << halving_mode_name(mode);
    EXPECT_THAT(plan.stop, ElementsAre(0, 2)) << halving_mode_name(mode);
  }
}

TEST(Halving, BracketsCompeteApart) {
  // Bracket 1's trials are all better, yet each bracket sends on its own best.
  const std::vector<RungStanding> standings = {
      at(0, kFinished, {50.0}, 0), at(0, kFinished, {1.0}, 1), at(0, kFinished, {40.0}, 0),
      at(0, kFinished, {2.0}, 1),  at(0, kFinished, {60.0}, 0), at(0, kUnfinished, {}, 1)};
  const HalvingPlan plan = plan_halving(spec(HalvingMode::kAsynchronous), standings);
  EXPECT_THAT(plan.promote, ElementsAre(2));   // bracket 0 settled (floor(3/3) = 1); bracket 1 waits (floor(2/3))
  EXPECT_THAT(plan.stop, ElementsAre(0, 4));
}

TEST(Halving, AnUnsettledLowerRungKeepsTheUpperOnesOpen) {
  // Rung 1 has one finished trial, but trial 3 may still reach it (unfinished at rung 0): nobody stops there yet.
  const std::vector<RungStanding> standings = {at(1, kFinished, {1.0, 2.0}), at(0, kFinished, {3.0}),
                                               at(0, kFinished, {4.0}), at(0, kUnfinished, {})};
  const HalvingPlan plan = plan_halving(spec(HalvingMode::kSynchronous), standings);
  EXPECT_THAT(plan.promote, IsEmpty());
  EXPECT_THAT(plan.stop, IsEmpty());
}

TEST(Halving, TheWholeScheduleRunsToOneWinnerPerBracket) {
  // Nine trials, eta 3, rungs 1, 3, 9, driven to the end: 3 reach rung 1, 1 reaches rung 2 (the best).
  const std::vector<double> errors = {50, 45, 40, 35, 30, 25, 20, 15, 10};  // trial 8 is best at every rung
  for (const HalvingMode mode : {HalvingMode::kAsynchronous, HalvingMode::kSynchronous}) {
    std::vector<RungStanding> standings;
    for (std::size_t i = 0; i < errors.size(); ++i) standings.push_back(at(0, kUnfinished, {}));
    std::vector<std::size_t> stopped;
    for (int round = 0; round < 20; ++round) {
      for (RungStanding& s : standings) {  // every unfinished trial finishes its rung
        if (s.progress != kUnfinished) continue;
        s.progress = kFinished;
        s.errors.push_back(errors[&s - standings.data()] - static_cast<double>(s.rung));
      }
      const HalvingPlan plan = plan_halving(spec(mode), standings);
      for (const std::size_t i : plan.promote) {
        standings[i] = at(standings[i].rung + 1, kUnfinished, standings[i].errors);
      }
      if (plan.promote.empty()) {
        stopped = plan.stop;
        break;
      }
    }
    std::vector<std::size_t> rungs;
    for (const RungStanding& s : standings) rungs.push_back(s.rung);
    EXPECT_THAT(rungs, ElementsAre(0, 0, 0, 0, 0, 0, 1, 1, 2)) << halving_mode_name(mode);
    EXPECT_THAT(stopped, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7)) << halving_mode_name(mode);
  }
}

TEST(Halving, ErrorsAtRungsAreTheEvaluationsWhereEachRungEnded) {
  // Steps: rungs at 10 and 30; evaluations every 4 steps plus the rung ends 10 and 30.
  const std::vector<Evaluation> steps = {{0, 0.0, 90.0}, {4, 0.4, 80.0}, {8, 0.8, 70.0}, {10, 1.0, 65.0},
                                         {12, 1.2, 60.0}, {30, 3.0, 20.0}};
  const std::vector<std::int64_t> rungs = {10, 30, 90};
  EXPECT_THAT(errors_at_rungs(steps, rungs, true, 2), ElementsAre(65.0, 20.0));
  const std::vector<double> missing = errors_at_rungs(steps, rungs, true, 3);
  ASSERT_EQ(missing.size(), 3U);
  EXPECT_TRUE(std::isinf(missing[2]));
  // Epochs: a 1-epoch run of 7 batches of 3 over 20 examples ends at step 7, epoch 1.05.
  const std::vector<Evaluation> epochs = {{0, 0.0, 90.0}, {6, 0.9, 50.0}, {7, 1.05, 45.0}, {20, 3.0, 30.0}};
  const std::vector<std::int64_t> epoch_rungs = {1, 3};
  EXPECT_THAT(errors_at_rungs(epochs, epoch_rungs, false, 2), ElementsAre(45.0, 30.0));
  // No validation error measured: infinite.
  const std::vector<Evaluation> unmeasured = {{10, 1.0, std::nullopt}};
  EXPECT_TRUE(std::isinf(errors_at_rungs(unmeasured, rungs, true, 1)[0]));
  EXPECT_THAT(errors_at_rungs(steps, rungs, true, 0), IsEmpty());
}

}  // namespace
}  // namespace normscale
