// DataShard: which part of every split one process loads (ALGORITHMS §2, virtual shards).
#pragma once

#include "normscale/core/types.hpp"

namespace normscale {

// Rows [begin, end) of a split, in global example ids.
struct RowRange {
  Index begin = 0;
  Index end = 0;
  Index size() const { return end - begin; }
};

// Part `part` of `parts` owns the virtual shards [first_shard(), last_shard()) of the training set and the
// same share of validation and test: with N rows, virtual shard v holds ids [v N / V, (v + 1) N / V) (the
// arithmetic of train/sampler's virtual_shard), so a part's rows are a pure function of (N, V, part, parts)
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
  RowRange rows_of(Index total) const {
    return {first_shard() * total / virtual_shards, last_shard() * total / virtual_shards};
  }
};

// Throws unless 0 <= part < parts and parts divides virtual_shards (each part owns V / parts shards).
void check_data_shard(const DataShard& shard);

}  // namespace normscale
