// files_identity: reads at most 128 KiB of each file, so every rank can afford it at start-up.
#include "normscale/data/file_identity.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <zlib.h>

#include <algorithm>
#include <fstream>

namespace normscale {

namespace {

constexpr std::uint64_t kEndBytes = 64 * 1024;

std::uint64_t crc_of_range(std::ifstream& in, std::uint64_t begin, std::uint64_t count, const std::string& path) {
  std::vector<char> bytes(count);
  in.seekg(static_cast<std::streamoff>(begin));
  in.read(bytes.data(), static_cast<std::streamsize>(count));
  NS_CHECK(in.good() || (in.eof() && static_cast<std::uint64_t>(in.gcount()) == count),
           "data file '{}' could not be read (bytes {} to {})", path, begin, begin + count);
  return crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
}

}  // namespace

std::uint64_t files_identity(const std::vector<std::string>& paths) {
  std::uint64_t hash = mix64(paths.size());
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    NS_CHECK(in.is_open(), "data file '{}' could not be opened", path);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    const std::uint64_t head = std::min(size, kEndBytes);
    const std::uint64_t tail = std::min(size - head, kEndBytes);
    hash = mix64(hash ^ size);
    hash = mix64(hash ^ crc_of_range(in, 0, head, path));
    hash = mix64(hash ^ crc_of_range(in, size - tail, tail, path));
  }
  return hash;
}

}  // namespace normscale
