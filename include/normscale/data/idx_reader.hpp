// Readers for IDX files (the MNIST / Fashion-MNIST / KMNIST format), gzip-compressed or raw.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

// An images file: `count` images of rows x cols unsigned bytes, image after image, row-major.
struct IdxImages {
  Index count = 0;
  Index rows = 0;
  Index cols = 0;
  std::vector<std::uint8_t> pixels;
};

// Reads an images file (magic 0x00000803). Errors name the file and what was expected.
IdxImages read_idx_images(const std::string& path);

// Reads a labels file (magic 0x00000801): one unsigned byte per example.
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// Images and labels as one classification set: float features with the raw values 0..255, image
// shape rows x cols x 1, name = images path. Labels must lie in [0, num_classes); num_classes = 0
// means "the largest label + 1".
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, Index num_classes);

}  // namespace normscale
