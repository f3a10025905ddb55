// Builds a Dataset from .npy features and labels; the labels' dtype decides classification vs regression.
#include "normscale/data/npy_dataset.hpp"

#include "normscale/core/error.hpp"
#include "normscale/data/npy.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <limits>

namespace normscale {

namespace {

std::string shape_text(const std::vector<Index>& shape) { return fmt::format("({})", fmt::join(shape, ", ")); }

void load_features(const NpyArray& array, const std::string& path, Dataset& data) {
  NS_CHECK(array.shape.size() >= 2,
           "npy features file '{}' has shape {}; expected N x d (one row per example); hint: a single feature "
           "per example is stored as arr.reshape(-1, 1)",
           path, shape_text(array.shape));
  data.rows = array.shape[0];
  data.cols = 1;
  for (std::size_t k = 1; k < array.shape.size(); ++k) data.cols *= array.shape[k];
  NS_CHECK(data.cols > 0, "npy features file '{}' has shape {}; expected at least one feature per example", path,
           shape_text(array.shape));
  // N x H x W (grey) and N x H x W x C (NHWC colour) arrays are images, kept for galleries.
  if (array.shape.size() == 3) data.image = ImageShape{array.shape[1], array.shape[2], 1};
  if (array.shape.size() == 4) data.image = ImageShape{array.shape[1], array.shape[2], array.shape[3]};
  data.features.assign(array.values.begin(), array.values.end());
}

void load_labels(const NpyArray& array, const std::string& path, Dataset& data) {
  const bool one_column = array.shape.size() == 1 || (array.shape.size() == 2 && array.shape[1] == 1);
  if (array.is_integer) {
    NS_CHECK(one_column,
             "npy labels file '{}' holds integers of shape {}; expected class labels of shape (N,); hint: store "
             "regression targets as floats",
             path, shape_text(array.shape));
    data.labels.reserve(array.values.size());
    double largest = -1.0;
    for (std::size_t i = 0; i < array.values.size(); ++i) {
      const double label = array.values[i];
      NS_CHECK(label >= 0 && label < std::numeric_limits<std::int32_t>::max(),
               "npy labels file '{}': label {} of example {} is outside the allowed range [0, 2^31 - 1); hint: "
               "class labels are 0, 1, ..., C - 1",
               path, label, i);
      data.labels.push_back(static_cast<std::int32_t>(label));
      largest = std::max(largest, label);
    }
    data.num_classes = static_cast<Index>(largest) + 1;
    return;
  }
  NS_CHECK(array.shape.size() == 1 || array.shape.size() == 2,
           "npy labels file '{}' has shape {}; expected regression targets of shape (N,) or (N, k)", path,
           shape_text(array.shape));
  data.target_cols = array.shape.size() == 1 ? 1 : array.shape[1];
  NS_CHECK(data.target_cols > 0, "npy labels file '{}' has shape {}; expected at least one target column", path,
           shape_text(array.shape));
  data.targets.assign(array.values.begin(), array.values.end());
}

}  // namespace

Dataset load_npy_dataset(const std::string& features_path, const std::string& labels_path) {
  const NpyArray features = read_npy(features_path);
  const NpyArray labels = read_npy(labels_path);
  Dataset data;
  data.name = features_path;
  load_features(features, features_path, data);
  NS_CHECK(!labels.shape.empty() && labels.shape[0] == data.rows,
           "npy features file '{}' holds {} examples but labels file '{}' has shape {}; expected {} labels; hint: "
           "both files must belong to the same split",
           features_path, data.rows, labels_path, shape_text(labels.shape), data.rows);
  load_labels(labels, labels_path, data);
  return data;
}

}  // namespace normscale
