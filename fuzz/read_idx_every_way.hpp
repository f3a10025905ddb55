// What both IDX targets do with a file: every entry point of the IDX reader, each expected to end in
// success or a normscale::Error.
#pragma once

#include "fuzz_support.hpp"
#include "normscale/data/idx_reader.hpp"

#include <string>
#include <vector>

namespace normscale::fuzz {

inline void read_idx_every_way(const std::string& path) {
  expect_only_errors([&] { read_idx_labels(path); });
  expect_only_errors([&] {
    const IdxImages header = read_idx_images_header(path);
    // The first and last image by position: the streaming reader seeks past the rest.
    std::vector<Index> rows{0};
    if (header.count > 1) rows.push_back(header.count - 1);
    if (header.count > 0) read_idx_image_rows(path, rows);
  });
  expect_only_errors([&] { read_idx_images(path); });
}

}  // namespace normscale::fuzz
