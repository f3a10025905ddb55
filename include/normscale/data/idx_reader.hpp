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

// The header of an images file only (count, rows, cols; no pixels), checked as read_idx_images does.
IdxImages read_idx_images_header(const std::string& path);

// The images at file positions `rows` (strictly ascending, each < the file's count), in that order; count =
// rows.size(). Streams through the file, skipping the other images (gzseek), so memory grows with the rows
// asked for, not with the file. The whole file is still checked to be complete, so every caller sees a
// truncated file alike whichever rows it reads.
IdxImages read_idx_image_rows(const std::string& path, const std::vector<Index>& rows);

// Reads a labels file (magic 0x00000801): one unsigned byte per example.
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// Images and labels as one classification set: float features with the raw values 0..255, image
// shape rows x cols x 1, name = images path. Labels must lie in [0, num_classes); num_classes = 0
// means "the largest label + 1".
Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, Index num_classes);

// load_idx_dataset for the file positions `rows` only (strictly ascending): images are read for those rows
// (read_idx_image_rows); the labels file is small and read whole, so num_classes = 0 derives the class count
// from every label of the file and every label is checked, whichever rows are kept. The result is a set of
// its own (first_id 0, total_rows = rows.size()); the caller places it in a split.
Dataset load_idx_rows(const std::string& images_path, const std::string& labels_path, Index num_classes,
                      const std::vector<Index>& rows);

}  // namespace normscale
