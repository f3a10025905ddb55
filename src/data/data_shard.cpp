// check_data_shard: a bad shard would silently drop or duplicate rows, so it fails loudly instead.
#include "normscale/data/data_shard.hpp"

#include "normscale/core/error.hpp"

namespace normscale {

void check_data_shard(const DataShard& shard) {
  NS_CHECK(shard.parts >= 1 && shard.part >= 0 && shard.part < shard.parts,
           "data shard: part {} of {} parts; expected parts >= 1 and 0 <= part < parts", shard.part, shard.parts);
  NS_CHECK(shard.virtual_shards >= 1 && shard.virtual_shards % shard.parts == 0,
           "data shard: {} virtual shards cannot be shared by {} parts; expected a multiple of the number of "
           "parts; hint: set virtual_shards to a multiple of the number of ranks",
           shard.virtual_shards, shard.parts);
}

}  // namespace normscale
