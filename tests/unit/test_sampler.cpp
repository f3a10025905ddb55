// The global minibatch stream: shard sizes, per-shard batch counts, and independence of the rank count.
#include "normscale/train/sampler.hpp"

#include <gtest/gtest.h>

#include <tuple>

#include <algorithm>
#include <map>
#include <set>

namespace normscale {
namespace {

TEST(Sampler, VirtualShardsCoverAllExamplesContiguously) {
  Index next = 0;
  for (Index v = 0; v < 7; ++v) {
    const ShardRange r = virtual_shard(100, 7, v);
    EXPECT_EQ(r.begin, next);
    EXPECT_GE(r.size(), 14);
    EXPECT_LE(r.size(), 15);
    next = r.end;
  }
  EXPECT_EQ(next, 100);
}

TEST(Sampler, RemainderBatchSizes) {
  // 10 examples in 4 shards of sizes 2,3,2,3 and Q = 5: exact shares 1, 1.5, 1, 1.5; the remainder example
  // goes to shard 1 at step 0 (its interval [0, 5) of [0, 10) holds the point U_0 = 0) and to shard 3 next.
  const auto sizes = shard_batch_sizes(10, 4, 5);
  EXPECT_EQ(sizes, (std::vector<Index>{1, 2, 1, 1}));
  EXPECT_EQ(shard_batch_sizes(10, 4, 5, 1), (std::vector<Index>{1, 1, 1, 2}));  // U_1 = 7 lies in [5, 10)
  const auto big = shard_batch_sizes(60000, 64, 128);
  Index sum = 0;
  for (Index q : big) sum += q;
  EXPECT_EQ(sum, 128);
}

// Over many steps every shard is drawn at its proportional rate, also when the batch is not a multiple of the
// shard count and when it is smaller than it (a fixed remainder assignment never drew half of the shards).
TEST(Sampler, EveryShardIsDrawnAtItsProportionalRate) {
  for (const auto& [n, shards, q] : {std::tuple<Index, Index, Index>{60000, 64, 32}, {60000, 64, 100},
                                     {1003, 8, 37}, {10, 4, 5}}) {
    MinibatchSampler sampler(n, shards, q, 7, 0, shards);
    std::vector<Index> shard_of(static_cast<std::size_t>(n));
    for (Index v = 0; v < shards; ++v) {
      const ShardRange r = virtual_shard(n, shards, v);
      for (Index id = r.begin; id < r.end; ++id) shard_of[static_cast<std::size_t>(id)] = v;
    }
    std::vector<Index> drawn(static_cast<std::size_t>(shards), 0);
    const Index steps = 20 * n / q;  // twenty epochs
    for (Index t = 0; t < steps; ++t) {
      const std::vector<Index> ids = sampler.batch(t);
      ASSERT_EQ(static_cast<Index>(ids.size()), q) << "step " << t;
      for (Index id : ids) ++drawn[static_cast<std::size_t>(shard_of[static_cast<std::size_t>(id)])];
    }
    for (Index v = 0; v < shards; ++v) {
      // Each shard's examples drawn about 20 times each: within one step's share (plus one) of it.
      const double expected = static_cast<double>(steps * q) * static_cast<double>(virtual_shard(n, shards, v).size()) /
                              static_cast<double>(n);
      EXPECT_NEAR(static_cast<double>(drawn[static_cast<std::size_t>(v)]), expected,
                  static_cast<double>(q) / static_cast<double>(shards) + 2.0 + 1e-3 * expected)
          << "n " << n << " shards " << shards << " q " << q << " shard " << v;
    }
  }
}

// A sampler asked for step t first (a resumed run) gives the batch of one that got there step by step.
TEST(Sampler, AStepAskedForFirstGivesTheBatchOfTheWayThere) {
  const Index n = 1003, shards = 8, q = 37;
  MinibatchSampler walked(n, shards, q, 3, 2, 6);
  std::vector<std::vector<Index>> batches;
  for (Index t = 0; t < 2 * n + 50; ++t) batches.push_back(walked.batch(t));
  for (Index t : {Index{1}, Index{17}, n - 1, n, n + 1, 2 * n, 2 * n + 49}) {
    MinibatchSampler jumped(n, shards, q, 3, 2, 6);
    EXPECT_EQ(jumped.batch(t), batches[static_cast<std::size_t>(t)]) << "step " << t;
    EXPECT_EQ(jumped.batch(5), batches[5]) << "back to step 5 after " << t;
  }
}

TEST(Sampler, RejectsBatchLargerThanData) {
  EXPECT_THROW(shard_batch_sizes(10, 2, 11), std::exception);
  EXPECT_THROW(shard_batch_sizes(10, 2, 0), std::exception);
}

// The union of the parts of p ranks equals the one-rank minibatch, step by step, for p = 1, 2, 4.
TEST(Sampler, GlobalMinibatchIndependentOfRankCount) {
  const Index n = 1003, shards = 8, q = 37;
  MinibatchSampler single(n, shards, q, 42, 0, shards);
  for (Index p : {2, 4}) {
    std::vector<MinibatchSampler> ranks;
    for (Index r = 0; r < p; ++r) ranks.emplace_back(n, shards, q, 42, r * shards / p, (r + 1) * shards / p);
    MinibatchSampler reference(n, shards, q, 42, 0, shards);
    for (Index step = 0; step < 80; ++step) {
      std::vector<Index> joined;
      for (auto& rank : ranks) {
        auto part = rank.batch(step);
        joined.insert(joined.end(), part.begin(), part.end());
      }
      ASSERT_EQ(joined, reference.batch(step)) << "p=" << p << " step=" << step;
    }
  }
  EXPECT_EQ(single.batch(0).size(), static_cast<std::size_t>(q));
}

TEST(Sampler, EachShardVisitsEveryExampleOncePerEpoch) {
  const Index n = 64, shards = 4, q = 8;  // 16 per shard, 2 per shard per step: 8 steps per epoch
  MinibatchSampler sampler(n, shards, q, 7, 0, shards);
  std::multiset<Index> seen;
  for (Index step = 0; step < 8; ++step) {
    for (Index id : sampler.batch(step)) seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 64u);
  for (Index id = 0; id < n; ++id) EXPECT_EQ(seen.count(id), 1u);
  // The next epoch is a different permutation.
  EXPECT_NE(sampler.batch(0), sampler.batch(8));
}

TEST(Sampler, SeedChangesTheOrder) {
  MinibatchSampler a(100, 4, 10, 1, 0, 4), b(100, 4, 10, 2, 0, 4);
  EXPECT_NE(a.batch(0), b.batch(0));
}

TEST(Sampler, FullBatchUsesEveryExampleOnce) {
  MinibatchSampler sampler(50, 8, 50, 3, 0, 8);
  const auto ids = sampler.batch(5);
  ASSERT_EQ(ids.size(), 50u);
  for (Index i = 0; i < 50; ++i) EXPECT_EQ(ids[static_cast<std::size_t>(i)], i);
  EXPECT_TRUE(sampler.full_batch());
  EXPECT_DOUBLE_EQ(sampler.epochs(3), 3.0);
}

// The fewest rows of a step a rank holds: 40 examples in 2 shards, one per rank. Batch 3 gives each shard 1.5 a
// step: one rank draws the remainder example, the other holds 1. Batch 4 gives each exactly 2; full batch 20.
TEST(SmallestStepShare, IsTheFewestRowsAnyRankHoldsOfAnyStep) {
  EXPECT_EQ(smallest_step_share(40, 2, 3, 2).examples, 1);
  EXPECT_EQ(smallest_step_share(40, 2, 4, 2).examples, 2);
  EXPECT_EQ(smallest_step_share(40, 2, 40, 2).examples, 20);
  EXPECT_EQ(smallest_step_share(40, 2, 3, 1).examples, 3) << "one rank holds every step whole";
  // 64 shards of 100 on 2 ranks: no shard's floor is above 0 at batch 3 or 4, and the draws fall where the
  // stride puts them. Checked against the steps themselves.
  for (const Index batch : {3, 4}) {
    Index fewest = batch;
    for (Index t = 0; t < 6400; ++t) {
      const std::vector<Index> sizes = shard_batch_sizes(6400, 64, batch, t);
      for (int part = 0; part < 2; ++part) {
        Index held = 0;
        for (Index v = 32 * part; v < 32 * (part + 1); ++v) held += sizes[static_cast<std::size_t>(v)];
        fewest = std::min(fewest, held);
      }
    }
    EXPECT_EQ(smallest_step_share(6400, 64, batch, 2).examples, fewest) << "batch " << batch;
    if (batch == 3) {
      EXPECT_LE(fewest, 1);
    }
  }
  // Batch 300: each shard's floor is 4 (4.6875 a step), 128 a rank without the remainder draws: enough for a
  // caller asking for 2, which is spared the walk over the steps; the exact fewest is larger.
  EXPECT_EQ(smallest_step_share(6400, 64, 300, 2, 2).examples, 128);
  EXPECT_GT(smallest_step_share(6400, 64, 300, 2).examples, 128);
}

}  // namespace
}  // namespace normscale
