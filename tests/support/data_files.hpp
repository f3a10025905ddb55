// Writers of small data files for the readers' tests: raw and gzip'ed bytes, IDX images and labels, CIFAR-10
// records, laid out byte by byte as the formats describe (not through the code under test).
#pragma once

#include "normscale/core/types.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace normscale::testing {

using Bytes = std::vector<std::uint8_t>;

// Writes `bytes` to `path` as they are.
inline void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Writes `bytes` gzip-compressed to `path`.
inline void write_gzip(const std::filesystem::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(file);
}

// Appends `value` big-endian, as IDX headers store it.
inline void put_u32(Bytes& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

namespace idx {

inline constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
inline constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

// An IDX images file: magic, count, rows, cols, then `pixels` as given.
inline Bytes images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels,
                         std::uint32_t magic = kImagesMagic) {
  Bytes bytes;
  put_u32(bytes, magic);
  put_u32(bytes, count);
  put_u32(bytes, rows);
  put_u32(bytes, cols);
  bytes.insert(bytes.end(), pixels.begin(), pixels.end());
  return bytes;
}

// An IDX labels file: magic, count, then `labels` as given.
inline Bytes labels_file(const Bytes& labels, std::uint32_t count, std::uint32_t magic = kLabelsMagic) {
  Bytes bytes;
  put_u32(bytes, magic);
  put_u32(bytes, count);
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

inline Bytes labels_file(const Bytes& labels) { return labels_file(labels, static_cast<std::uint32_t>(labels.size())); }

}  // namespace idx

namespace cifar {

inline constexpr Index kImageBytes = 32 * 32 * 3;  // planar: 1024 red, 1024 green, 1024 blue

// CIFAR-10 binary records of rows first .. first + count - 1: record i is the byte label(i), then the image bytes
// pixel(i, k), k = channel * 1024 + y * 32 + x.
template <class Label, class Pixel>
Bytes records(Index first, Index count, const Label& label, const Pixel& pixel) {
  Bytes bytes;
  for (Index i = first; i < first + count; ++i) {
    bytes.push_back(static_cast<std::uint8_t>(label(i)));
    for (Index k = 0; k < kImageBytes; ++k) bytes.push_back(static_cast<std::uint8_t>(pixel(i, k)));
  }
  return bytes;
}

}  // namespace cifar

}  // namespace normscale::testing
