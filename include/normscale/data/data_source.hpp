// The front door of the data layer: turns the data section of a run's configuration into splits.
#pragma once

#include "normscale/data/dataset.hpp"
#include "normscale/train/config.hpp"

#include <string>

namespace normscale {

// Loads data.source ("fashion-mnist", "idx", "npy" or a synthetic problem), then for file sources
// carves data.validation rows from train (seed data.split_seed), applies data.train_limit and
// data.test_limit (first N rows), and preprocesses (data.preprocess). Synthetic problems are
// generated at the paper's scale with their own test sets: they get no validation split and no
// "scale01" (meant for raw pixel bytes); the other preprocessing modes apply to them as configured.
// Throws if the training set ends up empty.
DataSplits load_data(const DataConfig& config);

// True for the generated problems ("linear-chain", "two-point", "separable-2d", "student-teacher",
// "sinusoid").
bool is_synthetic_source(const std::string& source);

}  // namespace normscale
