// DataShard: which part of every split one process loads (ALGORITHMS §2, virtual shards).
#pragma once

#include "normscale/core/types.hpp"

namespace normscale {

// Rows [begin, end) of a split, in global example ids.
struct ShardRange {
  Index begin = 0;
  Index end = 0;
  Index size() const { return end - begin; }
};

// Global ids [v N / V, (v + 1) N / V) of virtual shard v of V over N examples.
inline ShardRange virtual_shard(Index examples, Index shards, Index v) {
  return {v * examples / shards, (v + 1) * examples / shards};
}

// Part `part` of `parts` owns the virtual shards [first_shard(), last_shard()) of the training set and the
// same share of validation and test (virtual_shard above), so a part's rows are a pure function of (N, V, part, parts)
// and the parts tile every split in order. The default, one part of one shard, is everything.
struct DataShard {
  Index part = 0;
  Index parts = 1;
  Index virtual_shards = 1;

  Index first_shard() const { return part * virtual_shards / parts; }
  Index last_shard() const { return (part + 1) * virtual_shards / parts; }
  bool everything() const { return parts == 1; }
  // The ids this part holds of a split of `total` rows: from the begin of virtual shard first_shard() to the
  // end of virtual shard last_shard() - 1.
  ShardRange rows_of(Index total) const {
    return {virtual_shard(total, virtual_shards, first_shard()).begin,
            virtual_shard(total, virtual_shards, last_shard() - 1).end};
  }
};

// Throws unless 0 <= part < parts and parts divides virtual_shards (each part owns V / parts shards).
void check_data_shard(const DataShard& shard);

}  // namespace normscale
