// Virtual shards and the rank-count-independent minibatch stream.
#include "normscale/train/sampler.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace normscale {

std::vector<Index> shard_batch_sizes(Index examples, Index shards, Index batch) {
  NS_CHECK(batch >= 1 && batch <= examples, "optim.batch: {} is not between 1 and the {} training examples",
           batch, examples);
  std::vector<Index> sizes(static_cast<std::size_t>(shards));
  std::vector<std::pair<Index, Index>> remainders;  // (-remainder numerator, shard)
  Index assigned = 0;
  for (Index v = 0; v < shards; ++v) {
    const Index n = virtual_shard(examples, shards, v).size();
    sizes[static_cast<std::size_t>(v)] = n * batch / examples;
    assigned += sizes[static_cast<std::size_t>(v)];
    remainders.emplace_back(-(n * batch % examples), v);
  }
  std::sort(remainders.begin(), remainders.end());
  for (Index k = 0; assigned < batch; ++k, ++assigned) {
    ++sizes[static_cast<std::size_t>(remainders[static_cast<std::size_t>(k)].second)];
  }
  return sizes;
}

MinibatchSampler::MinibatchSampler(Index examples, Index shards, Index batch, std::uint64_t seed,
                                   Index first_shard, Index last_shard)
    : examples_(examples), shards_(shards), batch_(batch), seed_(seed), first_shard_(first_shard),
      last_shard_(last_shard), per_shard_(shard_batch_sizes(examples, shards, batch)),
      cached_epoch_(static_cast<std::size_t>(last_shard - first_shard), -1),
      cached_perm_(static_cast<std::size_t>(last_shard - first_shard)) {}

Index MinibatchSampler::stream_element(Index v, Index k) {
  const ShardRange range = virtual_shard(examples_, shards_, v);
  const Index n = range.size();
  const Index epoch = k / n;
  const std::size_t slot = static_cast<std::size_t>(v - first_shard_);
  if (cached_epoch_[slot] != epoch) {
    auto& perm = cached_perm_[slot];
    perm.resize(static_cast<std::size_t>(n));
    std::iota(perm.begin(), perm.end(), range.begin);
    RandomStream rng(seed_, StreamPurpose::kSampler, static_cast<std::uint64_t>(v), static_cast<std::uint64_t>(epoch));
    for (Index i = n - 1; i > 0; --i) {
      std::swap(perm[static_cast<std::size_t>(i)], perm[rng.below(static_cast<std::uint64_t>(i + 1))]);
    }
    cached_epoch_[slot] = epoch;
  }
  return cached_perm_[slot][static_cast<std::size_t>(k % n)];
}

std::vector<Index> MinibatchSampler::batch(Index step) {
  std::vector<Index> ids;
  for (Index v = first_shard_; v < last_shard_; ++v) {
    const Index q = per_shard_[static_cast<std::size_t>(v)];
    if (full_batch()) {
      // Every example once per step: the order within the batch does not matter, so skip the shuffle.
      const ShardRange range = virtual_shard(examples_, shards_, v);
      for (Index id = range.begin; id < range.end; ++id) ids.push_back(id);
      continue;
    }
    for (Index k = step * q; k < (step + 1) * q; ++k) ids.push_back(stream_element(v, k));
  }
  return ids;
}

double MinibatchSampler::epochs(Index steps) const {
  return static_cast<double>(steps) * static_cast<double>(batch_) / static_cast<double>(examples_);
}

Index MinibatchSampler::steps_for_epochs(double epochs) const {
  return std::max<Index>(1, static_cast<Index>(std::ceil(epochs * static_cast<double>(examples_) /
                                                         static_cast<double>(batch_) - 1e-9)));
}

}  // namespace normscale
