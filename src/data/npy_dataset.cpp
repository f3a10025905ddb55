// Builds a Dataset from .npy features and labels; the labels' dtype decides classification vs regression.
#include "normscale/data/npy_dataset.hpp"

#include "normscale/core/error.hpp"
#include "normscale/data/class_count.hpp"
#include "normscale/data/npy.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace normscale {

namespace {

std::string shape_text(const std::vector<Index>& shape) { return fmt::format("({})", fmt::join(shape, ", ")); }

// Rows, columns and image shape from the features file's header.
void describe_features(const NpyArray& header, const std::string& path, Dataset& data) {
  NS_CHECK(header.shape.size() >= 2,
           "npy features file '{}' has shape {}; expected N x d (one row per example); hint: a single feature "
           "per example is stored as arr.reshape(-1, 1)",
           path, shape_text(header.shape));
  data.rows = header.shape[0];
  // As an IDX file of 0 images: an empty split would train on, or report an error over, nothing.
  NS_CHECK(data.rows > 0, "npy features file '{}' has shape {}: it holds no examples; expected at least one", path,
           shape_text(header.shape));
  data.cols = 1;
  for (std::size_t k = 1; k < header.shape.size(); ++k) data.cols *= header.shape[k];
  NS_CHECK(data.cols > 0, "npy features file '{}' has shape {}; expected at least one feature per example", path,
           shape_text(header.shape));
  // N x H x W (grey) and N x H x W x C (NHWC colour) arrays are images, kept for galleries.
  if (header.shape.size() == 3) data.image = ImageShape{header.shape[1], header.shape[2], 1};
  if (header.shape.size() == 4) data.image = ImageShape{header.shape[1], header.shape[2], header.shape[3]};
}

// A NaN or Inf input trains to NaN weights (or, under a norm constraint, to a silent nonsense model), so the
// first one is an error naming the file, the example (file row) and the column.
void check_finite(const std::vector<double>& values, const std::string& path, const char* what, Index cols,
                  const char* element, const std::vector<Index>* rows = nullptr) {
  // Stored as float32: a larger double would become inf there (and train or evaluate on it without a word).
  constexpr double kLargest = std::numeric_limits<float>::max();
  const auto bad = std::find_if(values.begin(), values.end(), [](double v) { return !(std::abs(v) <= kLargest); });
  if (bad == values.end()) return;
  const auto at = static_cast<Index>(bad - values.begin());
  const Index row = rows != nullptr ? (*rows)[static_cast<std::size_t>(at / cols)] : at / cols;
  NS_FAIL(
      "{} '{}': {} {} of example {} is {}; expected finite values within float32's range (|x| <= {:.7g}), as "
      "normscale stores them; hint: replace or drop missing values before saving (numpy.nan_to_num, or "
      "numpy.isfinite(X).all(axis=1) to find the rows), and rescale values beyond float32",
      what, path, element, at % cols, row, *bad, kLargest);
}

// Labels (or targets) of every row of the file, and the class count from all of them.
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
      // Bounded here, before any class count is taken from them: a damaged label must not size the model.
      NS_CHECK(label >= 0 && label < static_cast<double>(kMaxClasses),
               "npy labels file '{}': label {} of example {} is outside [0, {}), the class labels normscale "
               "accepts; hint: class labels are 0, 1, ..., C - 1 with C at most {}; is the file damaged?",
               path, label, i, kMaxClasses, kMaxClasses);
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
  check_finite(array.values, path, "npy labels file", data.target_cols, "regression target");
  data.targets.assign(array.values.begin(), array.values.end());
}

// load_npy_rows, or every row when `rows` is null.
Dataset load_npy_selection(const std::string& features_path, const std::string& labels_path,
                           const std::vector<Index>* rows) {
  Dataset all;  // every row's labels, no features
  describe_features(read_npy_header(features_path), features_path, all);
  const NpyArray labels = read_npy(labels_path);
  NS_CHECK(!labels.shape.empty() && labels.shape[0] == all.rows,
           "npy features file '{}' holds {} examples but labels file '{}' has shape {}; expected {} labels; hint: "
           "both files must belong to the same split",
           features_path, all.rows, labels_path, shape_text(labels.shape), all.rows);
  load_labels(labels, labels_path, all);

  std::vector<Index> every;
  if (rows == nullptr) {
    every.resize(static_cast<std::size_t>(all.rows));
    std::iota(every.begin(), every.end(), Index{0});
    rows = &every;
  }
  const NpyArray features = read_npy_rows(features_path, *rows);
  // Only the rows read are checked (a part does not read the others); integer dtypes are finite anyway.
  if (!features.is_integer) {
    check_finite(features.values, features_path, "npy features file", all.cols, "feature", rows);
  }
  Dataset data;
  data.name = features_path;
  data.rows = static_cast<Index>(rows->size());
  data.total_rows = data.rows;
  data.cols = all.cols;
  data.image = all.image;
  data.num_classes = all.num_classes;
  data.target_cols = all.target_cols;
  data.features.assign(features.values.begin(), features.values.end());
  for (const Index r : *rows) {
    if (!all.labels.empty()) data.labels.push_back(all.labels[static_cast<std::size_t>(r)]);
    if (!all.targets.empty()) {
      const auto first = all.targets.begin() + static_cast<std::ptrdiff_t>(r * all.target_cols);
      data.targets.insert(data.targets.end(), first, first + static_cast<std::ptrdiff_t>(all.target_cols));
    }
  }
  return data;
}

}  // namespace

Dataset load_npy_dataset(const std::string& features_path, const std::string& labels_path) {
  return load_npy_selection(features_path, labels_path, nullptr);
}

Dataset load_npy_rows(const std::string& features_path, const std::string& labels_path,
                      const std::vector<Index>& rows) {
  return load_npy_selection(features_path, labels_path, &rows);
}

}  // namespace normscale
