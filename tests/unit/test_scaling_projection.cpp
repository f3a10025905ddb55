// The scaling model against hand computation: the ring allreduce's cost, efficiency 1 on one rank, the rank
// count where the allreduce overtakes the compute, and ranks time-sharing a machine's cores.
#include "normscale/core/error.hpp"
#include "normscale/study/scaling_projection.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace normscale {
namespace {

// 8 MB over 10 GB/s with 5 us latency.
constexpr NetworkModel kNetwork{10e9, 5e-6};
constexpr double kBytes = 8e6;

TEST(ScalingProjection, RingAllreduceByHand) {
  EXPECT_EQ(ring_allreduce_seconds(kNetwork, kBytes, 1), 0.0) << "one rank reduces nothing";
  // 5e-6 + 2 (1/2) 8e6 / 1e10 = 5e-6 + 8e-4.
  EXPECT_NEAR(ring_allreduce_seconds(kNetwork, kBytes, 2), 8.05e-4, 1e-15);
  // 5e-6 + 2 (3/4) 8e6 / 1e10 = 5e-6 + 1.2e-3.
  EXPECT_NEAR(ring_allreduce_seconds(kNetwork, kBytes, 4), 1.205e-3, 1e-15);
  // Towards 2 bytes / bandwidth: 5e-6 + 2 (1023/1024) 8e-4.
  EXPECT_NEAR(ring_allreduce_seconds(kNetwork, kBytes, 1024), 5e-6 + 1.6e-3 * 1023.0 / 1024.0, 1e-15);
  EXPECT_THROW(ring_allreduce_seconds(NetworkModel{0.0, 5e-6}, kBytes, 2), Error);
  EXPECT_THROW(ring_allreduce_seconds(kNetwork, kBytes, 0), Error);
}

TEST(ScalingProjection, OneRankIsFullyEfficientAndComputeBound) {
  const StepCost cost{2e-5, kBytes};  // 20 us per example
  const ProjectedStep one = project_step(cost, kNetwork, 1024, 1);
  EXPECT_EQ(one.ranks, 1);
  EXPECT_NEAR(one.compute_seconds, 2e-5 * 1024, 1e-15);
  EXPECT_EQ(one.comm_seconds, 0.0);
  EXPECT_NEAR(one.samples_per_s, 1.0 / 2e-5, 1e-9);
  EXPECT_DOUBLE_EQ(one.efficiency, 1.0);
  EXPECT_FALSE(one.communication_bound);
}

TEST(ScalingProjection, StepThroughputAndEfficiencyByHand) {
  const StepCost cost{2e-5, kBytes};
  // p = 8: compute 2e-5 x 1024 / 8 = 2.56e-3, comm 5e-6 + 2 (7/8) 8e-4 = 1.405e-3.
  const ProjectedStep step = project_step(cost, kNetwork, 1024, 8);
  EXPECT_NEAR(step.compute_seconds, 2.56e-3, 1e-15);
  EXPECT_NEAR(step.comm_seconds, 1.405e-3, 1e-15);
  EXPECT_NEAR(step.step_seconds, 3.965e-3, 1e-15);
  EXPECT_NEAR(step.samples_per_s, 1024 / 3.965e-3, 1e-6);
  // One rank: 1 / 2e-5 = 50000 samples/s; 8 ranks ideally 400000.
  EXPECT_NEAR(step.efficiency, (1024 / 3.965e-3) / 400000.0, 1e-12);
  EXPECT_FALSE(step.communication_bound);
}

// compute c B / p against latency + 2 (p - 1) / p b / W: with c B = 2e-5 x 1024 = 0.02048 s and 2 b / W = 1.6e-3 s,
// p* = (0.02048 + 1.6e-3) / (5e-6 + 1.6e-3) = 0.02208 / 0.001605 = 13.757...
TEST(ScalingProjection, CommunicationBoundCrossoverByHand) {
  const StepCost cost{2e-5, kBytes};
  const double crossover = communication_bound_crossover(cost, kNetwork, 1024);
  EXPECT_NEAR(crossover, 0.02208 / 0.001605, 1e-9);
  // At p* both sides are equal.
  const double compute = 0.02048 / crossover;
  const double comm = 5e-6 + 2.0 * (crossover - 1.0) / crossover * kBytes / 10e9;
  EXPECT_NEAR(compute, comm, 1e-15);
  // The doubling ranks flip from compute- to communication-bound between 8 and 16.
  EXPECT_FALSE(project_step(cost, kNetwork, 1024, 8).communication_bound);
  EXPECT_TRUE(project_step(cost, kNetwork, 1024, 16).communication_bound);
  // A larger batch has more compute to hide the same allreduce behind: the crossover moves out in proportion.
  EXPECT_NEAR(communication_bound_crossover(cost, kNetwork, 8192), (0.16384 + 1.6e-3) / 0.001605, 1e-9);
  // Nothing to reduce and no latency: never communication-bound.
  EXPECT_TRUE(std::isinf(communication_bound_crossover(StepCost{2e-5, 0.0}, NetworkModel{10e9, 0.0}, 1024)));
}

// On C cores, p > C ranks time-share: the compute of a step stays c B / C however many ranks there are.
TEST(ScalingProjection, RanksBeyondTheCoresTimeShare) {
  EXPECT_EQ(time_sharing_factor(1, 2), 1.0);
  EXPECT_EQ(time_sharing_factor(2, 2), 1.0);
  EXPECT_EQ(time_sharing_factor(3, 2), 1.5);
  EXPECT_EQ(time_sharing_factor(4, 2), 2.0);
  EXPECT_EQ(time_sharing_factor(1024, kCorePerRank), 1.0);
  const StepCost cost{2e-5, kBytes};
  const ProjectedStep two = project_step(cost, kNetwork, 1024, 2, 2);
  const ProjectedStep four = project_step(cost, kNetwork, 1024, 4, 2);
  EXPECT_NEAR(two.compute_seconds, 2e-5 * 1024 / 2, 1e-15);
  EXPECT_NEAR(four.compute_seconds, 2e-5 * 1024 / 2, 1e-15) << "4 ranks on 2 cores compute no faster than 2";
  EXPECT_NEAR(four.comm_seconds, 1.205e-3, 1e-15);
  // Efficiency against one rank on the same machine: 50000 samples/s x 4 ideally.
  EXPECT_NEAR(four.efficiency, 1024 / (1.024e-2 + 1.205e-3) / 200000.0, 1e-12);
  // With a core per rank the same 4 ranks compute twice as fast.
  EXPECT_NEAR(project_step(cost, kNetwork, 1024, 4).compute_seconds, 2e-5 * 1024 / 4, 1e-15);
}

TEST(ScalingProjection, DoublingRanksUpTo1024) {
  const std::vector<std::int64_t> ranks = doubling_ranks(1024);
  ASSERT_EQ(ranks.size(), 11U);
  EXPECT_EQ(ranks.front(), 1);
  EXPECT_EQ(ranks[3], 8);
  EXPECT_EQ(ranks.back(), 1024);
}

}  // namespace
}  // namespace normscale
