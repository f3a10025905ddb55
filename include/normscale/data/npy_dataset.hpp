// A data set from a pair of .npy files: features (N x d) and labels (classes) or targets (regression).
#pragma once

#include "normscale/data/dataset.hpp"

#include <string>
#include <vector>

namespace normscale {

// Features: N x d (or N x H x W [x C] images, flattened per example) of any supported dtype.
// Labels: a 1-D integer array of length N (classification, num_classes = largest label + 1; an
// N x 1 integer array is accepted too), or a float array of shape N or N x k (regression, k target
// columns). Errors name the files and what was expected.
Dataset load_npy_dataset(const std::string& features_path, const std::string& labels_path);

// load_npy_dataset for the rows `rows` only (strictly ascending): features are read for those rows
// (read_npy_rows); the labels file is small and read whole, so num_classes counts every label of the file and
// every label is checked, whichever rows are kept. The result is a set of its own (first_id 0, total_rows =
// rows.size()); the caller places it in a split.
Dataset load_npy_rows(const std::string& features_path, const std::string& labels_path,
                      const std::vector<Index>& rows);

}  // namespace normscale
