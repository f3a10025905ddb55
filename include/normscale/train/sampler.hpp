// The global minibatch as a pure function of (seed, data size, Q, V, step): every virtual shard has its
// own random stream per epoch and contributes q_v(t) examples to step t, so the sequence of global
// minibatches never depends on the number of ranks (ALGORITHMS §2).
//
// q_v(t) is the floor of the shard's share n_v Q / P plus, at some steps, one of the r = Q - sum floors
// remainder examples. Which shards get them rotates so that every shard is drawn exactly at its
// proportional rate over each P steps (a fixed assignment drew some shards more often at every step, and
// with Q < V never drew the others): shard v owns the interval [M_v, M_v + m_v) of [0, r P), m_v = n_v Q mod P
// (M_v: the sum of the m_w before it), and step t places r points at U_t + j P, j < r, with U_t = t g mod P
// (g near P times the golden ratio, coprime with P); a shard gets one extra example when a point falls in
// its interval. Over P steps U_t takes every residue once, so shard v gets exactly m_v extras.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/data_shard.hpp"

#include <cstdint>
#include <limits>
#include <vector>

namespace normscale {

// Every shard's share of a step (above): floor, remainder numerator m_v and interval start M_v, and g.
struct ShardShares {
  ShardShares(Index total, Index shards, Index batch);
  // Whether shard v draws one remainder example at step t: a point U_t + j P falls in [M_v, M_v + m_v).
  bool draws_extra(Index v, Index t) const;

  Index examples;
  std::vector<Index> floor, extra, start;
  Index stride = 0;
};

// Examples each shard contributes to step t (above), summing to batch.
std::vector<Index> shard_batch_sizes(Index examples, Index shards, Index batch, Index step = 0);

// The fewest examples of a step that any of `parts` ranks (each owning its run of the shards, DataShard)
// holds, over every step (the pattern repeats every `examples` steps), and the first part that holds them.
// Where every part's shards hold `enough` without their remainder draws, a lower bound of at least `enough`
// (so a caller that needs that many is spared the walk over the steps).
struct SmallestShare {
  Index examples = 0;
  int part = 0;
};
SmallestShare smallest_step_share(Index examples, Index shards, Index batch, int parts,
                                  Index enough = std::numeric_limits<Index>::max());

class MinibatchSampler {
 public:
  // Shards [first_shard, last_shard) are the ones this rank owns; batch = Q (examples for full batch).
  MinibatchSampler(Index examples, Index shards, Index batch, std::uint64_t seed, Index first_shard,
                   Index last_shard);

  // Global ids of this rank's part of the global minibatch of `step`, in shard order.
  std::vector<Index> batch(Index step);
  // Every example of this rank once, shard by shard, each shard in its random permutation of `epoch` (the
  // stream its minibatches draw from): a full pass in random order (the coordinate rule's full rounds).
  std::vector<Index> shuffled_pass(Index epoch);
  Index batch_size() const { return batch_; }
  bool full_batch() const { return batch_ == examples_; }
  // Fractional epochs completed after `steps` steps.
  double epochs(Index steps) const;
  // Steps needed for `epochs` passes over the data.
  Index steps_for_epochs(double epochs) const;

 private:
  // Element k of shard v's endless stream: the concatenation of one permutation per epoch.
  Index stream_element(Index v, Index k);
  // Moves the count of remainder examples each owned shard drew in steps [0, step) to `step`.
  void count_extras_to(Index step);

  Index examples_, shards_, batch_;
  std::uint64_t seed_;
  Index first_shard_, last_shard_;
  ShardShares shares_;
  Index counted_step_ = 0;
  std::vector<Index> extras_drawn_;  // per owned shard, in steps [0, counted_step_)
  // Cached permutation of each owned shard for the epoch it was drawn for.
  std::vector<Index> cached_epoch_;
  std::vector<std::vector<Index>> cached_perm_;
};

}  // namespace normscale
