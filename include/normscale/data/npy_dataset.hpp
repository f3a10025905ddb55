// A data set from a pair of .npy files: features (N x d) and labels (classes) or targets (regression).
#pragma once

#include "normscale/data/dataset.hpp"

#include <string>

namespace normscale {

// Features: N x d (or N x H x W [x C] images, flattened per example) of any supported dtype.
// Labels: a 1-D integer array of length N (classification, num_classes = largest label + 1; an
// N x 1 integer array is accepted too), or a float array of shape N or N x k (regression, k target
// columns). Errors name the files and what was expected.
Dataset load_npy_dataset(const std::string& features_path, const std::string& labels_path);

}  // namespace normscale
