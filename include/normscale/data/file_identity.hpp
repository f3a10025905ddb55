// What ranks compare to know they read the same data files: on a cluster each node may read its own copy
// (staged to node-local scratch), and a stale or partial copy on one node would otherwise mix other
// examples into the run without a word.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

// A 64-bit hash of each file's size and its first and last 64 KiB, in order. For a gzip'ed file the last
// bytes hold the CRC-32 and size of its whole content, so the hash covers all of it; for a raw file a change
// in the middle only shows if it changes the size. Throws naming a file that cannot be read.
std::uint64_t files_identity(const std::vector<std::string>& paths);

}  // namespace normscale
