// Row selection on data sets: contiguous slices (limits, shards) and gathered rows (validation split).
#include "normscale/data/dataset.hpp"

#include "normscale/core/error.hpp"

namespace normscale {

namespace {

// Everything except the rows themselves, so a selection keeps its task, classes and image shape.
Dataset empty_like(const Dataset& data) {
  Dataset out;
  out.name = data.name;
  out.cols = data.cols;
  out.num_classes = data.num_classes;
  out.target_cols = data.target_cols;
  out.image = data.image;
  return out;
}

// Appends row `r` of `data` to `out` (features and whichever of labels/targets the set has).
void append_row(const Dataset& data, Index r, Dataset& out) {
  const auto* f = data.features.data() + r * data.cols;
  out.features.insert(out.features.end(), f, f + data.cols);
  if (!data.labels.empty()) out.labels.push_back(data.labels[static_cast<std::size_t>(r)]);
  if (!data.targets.empty()) {
    const auto* t = data.targets.data() + r * data.target_cols;
    out.targets.insert(out.targets.end(), t, t + data.target_cols);
  }
  ++out.rows;
}

}  // namespace

Dataset slice_rows(const Dataset& data, Index begin, Index count) {
  NS_CHECK(begin >= 0 && count >= 0 && begin + count <= data.rows,
           "slice_rows of '{}': rows [{}, {}) requested but the set has {} rows", data.name, begin, begin + count,
           data.rows);
  Dataset out = empty_like(data);
  out.first_id = data.first_id + begin;
  out.total_rows = data.global_rows();
  out.features.reserve(static_cast<std::size_t>(count * data.cols));
  for (Index r = begin; r < begin + count; ++r) append_row(data, r, out);
  return out;
}

Dataset select_rows(const Dataset& data, const std::vector<Index>& indices) {
  Dataset out = empty_like(data);
  out.features.reserve(indices.size() * static_cast<std::size_t>(data.cols));
  for (Index r : indices) {
    NS_CHECK(r >= 0 && r < data.rows, "select_rows of '{}': row {} requested but the set has {} rows", data.name,
             r, data.rows);
    append_row(data, r, out);
  }
  out.total_rows = out.rows;
  return out;
}

}  // namespace normscale
