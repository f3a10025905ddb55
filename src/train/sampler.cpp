// Virtual shards and the rank-count-independent minibatch stream.
#include "normscale/train/sampler.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace normscale {

// Products of two example counts (a shard's size x the batch, a step x the stride) overflow 64 bits past ~3e9 examples.
__extension__ typedef __int128 WideIndex;  // __extension__: a GCC and Clang type, not ISO C++

ShardShares::ShardShares(Index total, Index shards, Index batch) : examples(total) {
  NS_CHECK(batch >= 1 && batch <= examples, "optim.batch: {} is not between 1 and the {} training examples",
           batch, examples);
  Index next_start = 0;
  for (Index v = 0; v < shards; ++v) {
    const auto share = static_cast<WideIndex>(virtual_shard(examples, shards, v).size()) * batch;
    floor.push_back(static_cast<Index>(share / examples));
    extra.push_back(static_cast<Index>(share % examples));
    start.push_back(next_start);
    next_start += extra.back();
  }
  // Near the golden section of P, so that consecutive steps spread their points evenly; coprime with P, so
  // that P steps visit every residue.
  stride = static_cast<Index>(std::llround(0.6180339887498949 * static_cast<double>(examples))) % examples;
  while (std::gcd(stride, examples) != 1) stride = (stride + 1) % examples;
}

bool ShardShares::draws_extra(Index v, Index t) const {
  const auto slot = static_cast<std::size_t>(v);
  if (extra[slot] == 0) return false;
  const auto u = static_cast<Index>(static_cast<WideIndex>(t % examples) * stride % examples);
  const Index offset = ((u - start[slot]) % examples + examples) % examples;
  return offset < extra[slot];
}

std::vector<Index> shard_batch_sizes(Index examples, Index shards, Index batch, Index step) {
  const ShardShares s(examples, shards, batch);
  std::vector<Index> sizes = s.floor;
  for (Index v = 0; v < shards; ++v) sizes[static_cast<std::size_t>(v)] += s.draws_extra(v, step) ? 1 : 0;
  return sizes;
}

SmallestShare smallest_step_share(Index examples, Index shards, Index batch, int parts, Index enough) {
  const ShardShares s(examples, shards, batch);
  SmallestShare smallest{std::numeric_limits<Index>::max(), 0};
  bool extras = false;
  for (int part = 0; part < parts; ++part) {  // without extra draws: the floors alone
    const DataShard shard{part, parts, shards};
    Index floors = 0;
    for (Index v = shard.first_shard(); v < shard.last_shard(); ++v) {
      floors += s.floor[static_cast<std::size_t>(v)];
      extras = extras || s.extra[static_cast<std::size_t>(v)] > 0;
    }
    if (floors < smallest.examples) smallest = {floors, part};
  }
  if (!extras || smallest.examples >= enough) return smallest;
  smallest.examples = std::numeric_limits<Index>::max();
  for (Index t = 0; t < examples; ++t) {
    for (int part = 0; part < parts; ++part) {
      const DataShard shard{part, parts, shards};
      Index share = 0;
      for (Index v = shard.first_shard(); v < shard.last_shard(); ++v) {
        share += s.floor[static_cast<std::size_t>(v)] + (s.draws_extra(v, t) ? 1 : 0);
      }
      if (share < smallest.examples) smallest = {share, part};
    }
  }
  return smallest;
}

MinibatchSampler::MinibatchSampler(Index examples, Index shards, Index batch, std::uint64_t seed,
                                   Index first_shard, Index last_shard)
    : examples_(examples), shards_(shards), batch_(batch), seed_(seed), first_shard_(first_shard),
      last_shard_(last_shard), shares_(examples, shards, batch),
      extras_drawn_(static_cast<std::size_t>(last_shard - first_shard), 0),
      cached_epoch_(static_cast<std::size_t>(last_shard - first_shard), -1),
      cached_perm_(static_cast<std::size_t>(last_shard - first_shard)) {}

void MinibatchSampler::count_extras_to(Index step) {
  if (step < counted_step_ || step - counted_step_ > examples_) {
    // Every P steps shard v draws exactly m_v extras: start from the last whole period.
    const Index periods = step / examples_;
    counted_step_ = periods * examples_;
    for (Index v = first_shard_; v < last_shard_; ++v) {
      extras_drawn_[static_cast<std::size_t>(v - first_shard_)] = periods * shares_.extra[static_cast<std::size_t>(v)];
    }
  }
  for (; counted_step_ < step; ++counted_step_) {
    for (Index v = first_shard_; v < last_shard_; ++v) {
      extras_drawn_[static_cast<std::size_t>(v - first_shard_)] += shares_.draws_extra(v, counted_step_) ? 1 : 0;
    }
  }
}

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
  if (!full_batch()) count_extras_to(step + 1);
  for (Index v = first_shard_; v < last_shard_; ++v) {
    if (full_batch()) {
      // Every example once per step: the order within the batch does not matter, so skip the shuffle.
      const ShardRange range = virtual_shard(examples_, shards_, v);
      for (Index id = range.begin; id < range.end; ++id) ids.push_back(id);
      continue;
    }
    // Examples of shard v drawn at `step`, and before it (the extras are counted through `step`).
    const Index floor = shares_.floor[static_cast<std::size_t>(v)];
    const Index at_step = floor + (shares_.draws_extra(v, step) ? 1 : 0);
    const Index before = (step + 1) * floor +
                         extras_drawn_[static_cast<std::size_t>(v - first_shard_)] - at_step;
    for (Index k = before; k < before + at_step; ++k) ids.push_back(stream_element(v, k));
  }
  return ids;
}

std::vector<Index> MinibatchSampler::shuffled_pass(Index epoch) {
  std::vector<Index> ids;
  for (Index v = first_shard_; v < last_shard_; ++v) {
    const Index n = virtual_shard(examples_, shards_, v).size();
    for (Index k = epoch * n; k < (epoch + 1) * n; ++k) ids.push_back(stream_element(v, k));
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
