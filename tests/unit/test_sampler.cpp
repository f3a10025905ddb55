// The global minibatch stream: shard sizes, per-shard batch counts, and independence of the rank count.
#include "normscale/train/sampler.hpp"

#include <gtest/gtest.h>

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

TEST(Sampler, LargestRemainderBatchSizes) {
  // 10 examples in 4 shards of sizes 2,3,2,3 and Q = 5: exact shares 1, 1.5, 1, 1.5; the two 0.5
  // remainders go to the lower shard first, so sizes are 1,2,1,1.
  const auto sizes = shard_batch_sizes(10, 4, 5);
  EXPECT_EQ(sizes, (std::vector<Index>{1, 2, 1, 1}));
  const auto big = shard_batch_sizes(60000, 64, 128);
  Index sum = 0;
  for (Index q : big) sum += q;
  EXPECT_EQ(sum, 128);
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

}  // namespace
}  // namespace normscale
