// A data set in memory: row-major float features plus class labels or regression targets.
#pragma once

#include "normscale/core/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

// Shape of one example when it is an image (for galleries); all zero for non-image data.
struct ImageShape {
  Index height = 0;
  Index width = 0;
  Index channels = 0;
  bool valid() const { return height > 0 && width > 0 && channels > 0; }
};

struct Dataset {
  std::string name;            // for messages, e.g. the file it came from
  Index rows = 0;              // examples held here
  Index cols = 0;              // features per example
  Index first_id = 0;          // global id of row 0 (rows are contiguous in global id)
  Index total_rows = 0;        // examples of the whole split across all parts (= rows when not sharded)
  std::vector<float> features; // rows x cols, row-major
  std::vector<std::int32_t> labels;  // rows class indices in [0, num_classes), empty for regression
  Index num_classes = 0;
  std::vector<float> targets;  // rows x target_cols, row-major, regression only
  Index target_cols = 0;
  ImageShape image;

  // By num_classes, not by the labels held: a part of a classification split may hold no rows.
  bool is_classification() const { return num_classes > 0 || !labels.empty(); }
  // total_rows, or rows for a set built by hand that left it 0.
  Index global_rows() const { return total_rows > rows ? total_rows : rows; }
  const float* row(Index r) const { return features.data() + r * cols; }
  ConstMatrixMap<float> feature_matrix() const { return {features.data(), rows, cols}; }
};

// The three parts a training run uses; validation and test may be empty.
struct DataSplits {
  Dataset train;
  Dataset validation;
  Dataset test;
  std::vector<std::string> files;  // the files they were read from (none for a generated source)
};

// Rows [begin, begin + count) of a data set as a new data set: a piece of the same split, so first_id is
// shifted by begin and total_rows stays data.global_rows().
Dataset slice_rows(const Dataset& data, Index begin, Index count);

// The rows in `indices` (in that order) as a new data set of its own: first_id 0, total_rows = rows.
Dataset select_rows(const Dataset& data, const std::vector<Index>& indices);

}  // namespace normscale
