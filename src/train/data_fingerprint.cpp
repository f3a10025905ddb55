// data_fingerprint: each example hashed with its global id, the hashes summed over ranks in four 16-bit
// quarters (each sum exact in a double for up to 2^37 examples), so the order of the ranks is irrelevant.
#include "normscale/train/data_fingerprint.hpp"

#include <zlib.h>

#include <array>
#include <span>

namespace normscale {

namespace {

std::uint64_t mix64(std::uint64_t x) {  // splitmix64's finaliser: every input bit reaches every output bit
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

template <class T>
uLong crc_of(uLong crc, const T* values, Index count) {
  return crc32_z(crc, reinterpret_cast<const Bytef*>(values), static_cast<std::size_t>(count) * sizeof(T));
}

}  // namespace

std::uint64_t data_fingerprint(Communicator& comm, const Dataset& split) {
  std::array<double, 5> sums{};  // four quarters of the summed example hashes, then the example count
  for (Index r = 0; r < split.rows; ++r) {
    uLong crc = crc_of(crc32_z(0L, Z_NULL, 0), split.row(r), split.cols);
    if (!split.labels.empty()) crc = crc_of(crc, &split.labels[static_cast<std::size_t>(r)], 1);
    if (split.target_cols > 0) crc = crc_of(crc, split.targets.data() + r * split.target_cols, split.target_cols);
    const auto id = static_cast<std::uint64_t>(split.first_id + r);
    const std::uint64_t hash = mix64((id << 32) ^ static_cast<std::uint64_t>(crc));
    for (std::size_t q = 0; q < 4; ++q) sums[q] += static_cast<double>((hash >> (16 * q)) & 0xffff);
  }
  sums[4] = static_cast<double>(split.rows);
  comm.allreduce_sum(std::span<double>(sums));
  std::uint64_t fingerprint = 0;
  for (std::size_t q = 0; q < 4; ++q) fingerprint += static_cast<std::uint64_t>(sums[q]) << (16 * q);
  return mix64(fingerprint ^ static_cast<std::uint64_t>(sums[4]));
}

}  // namespace normscale
