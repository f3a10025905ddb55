// The global minibatch as a pure function of (seed, data size, Q, V, step): every virtual shard has its
// own random stream per epoch and contributes q_v examples to each step, so the sequence of global
// minibatches never depends on the number of ranks (ALGORITHMS §2).
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/data_shard.hpp"

#include <cstdint>
#include <vector>

namespace normscale {

// Examples each shard contributes to one step: proportional to shard size, rounded by largest
// remainder (ties to the lower shard), summing to batch.
std::vector<Index> shard_batch_sizes(Index examples, Index shards, Index batch);

class MinibatchSampler {
 public:
  // Shards [first_shard, last_shard) are the ones this rank owns; batch = Q (examples for full batch).
  MinibatchSampler(Index examples, Index shards, Index batch, std::uint64_t seed, Index first_shard,
                   Index last_shard);

  // Global ids of this rank's part of the global minibatch of `step`, in shard order.
  std::vector<Index> batch(Index step);
  Index batch_size() const { return batch_; }
  bool full_batch() const { return batch_ == examples_; }
  // Fractional epochs completed after `steps` steps.
  double epochs(Index steps) const;
  // Steps needed for `epochs` passes over the data.
  Index steps_for_epochs(double epochs) const;

 private:
  // Element k of shard v's endless stream: the concatenation of one permutation per epoch.
  Index stream_element(Index v, Index k);

  Index examples_, shards_, batch_;
  std::uint64_t seed_;
  Index first_shard_, last_shard_;
  std::vector<Index> per_shard_;
  // Cached permutation of each owned shard for the epoch it was drawn for.
  std::vector<Index> cached_epoch_;
  std::vector<std::vector<Index>> cached_perm_;
};

}  // namespace normscale
