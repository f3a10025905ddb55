// check_data_shard: a bad shard would silently drop or duplicate rows, so it fails loudly instead.
#include "normscale/data/data_shard.hpp"

#include "normscale/core/error.hpp"

#include <string>

namespace normscale {

void check_data_shard(const DataShard& shard) {
  NS_CHECK(shard.parts >= 1 && shard.part >= 0 && shard.part < shard.parts,
           "data shard: part {} of {} parts; expected parts >= 1 and 0 <= part < parts", shard.part, shard.parts);
  if (shard.virtual_shards >= 1 && shard.virtual_shards % shard.parts == 0) return;
  std::string valid;
  for (Index p = 1; p <= shard.virtual_shards; ++p) {
    if (shard.virtual_shards % p == 0) valid += (valid.empty() ? "" : ", ") + std::to_string(p);
  }
  NS_FAIL("{} ranks cannot share virtual_shards = {}: each rank owns virtual_shards / ranks whole shards. "
          "Valid rank counts: {}; or set virtual_shards to a multiple of {}",
          shard.parts, shard.virtual_shards, valid, shard.parts);
}

}  // namespace normscale
