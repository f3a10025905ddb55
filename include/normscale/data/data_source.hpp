// The front door of the data layer: turns the data section of a run's configuration into splits.
#pragma once

#include "normscale/data/data_shard.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/data/data_config.hpp"

#include <string>

namespace normscale {

// Loads data.source (a registered source, data_source_registry.hpp: "fashion-mnist", "idx", "npy", "cifar10", a
// synthetic problem, or one an extension added), keeps the class subset data.classes if given (examples of
// classes[j] relabelled j, num_classes = classes.size(); select_classes in class_subset.hpp), then for file
// sources carves data.validation rows from train (seed data.split_seed), applies data.train_limit and
// data.test_limit (first N rows), and preprocesses (data.preprocess). All of these act on the subset: its rows
// are numbered 0, 1, ... in file order before the split. Synthetic (generated) problems are generated at the
// paper's scale with their own test sets: they get no validation split and no "scale01" (meant for raw pixel
// bytes); the other preprocessing modes apply to them as configured. An unknown source is an error listing the
// registered ones.
// Throws if the training set ends up empty. The one-process path: load_data(config, DataShard{}), then
// finish_loading with this set's own statistics.
DataSplits load_data(const DataConfig& config);

// This part's rows of every split, NOT preprocessed (the statistics must first be combined over all parts):
// train holds the global ids shard.rows_of(N) of the N training rows (the virtual shards
// [first_shard, last_shard)); validation and test hold the same share of theirs. Global ids are row numbers
// after the validation split and the limits (for train: file order of the rows that are not validation rows).
// Every Dataset has first_id = its first global id and total_rows = the split's global size, and the global
// num_classes, columns and image shape, even when it holds no rows. num_classes is that of the class subset, else
// data.num_classes, else the source's own count (10 for Fashion-MNIST and CIFAR-10), else the largest label of
// the whole training labels file + 1; it is at most kMaxClasses (class_count.hpp), and a test label outside it
// is an error naming the file, the example and the value. File sources read only this part's rows (labels
// whole, they are small: the class subset is chosen from them before any feature is read); synthetic problems
// are generated whole and sliced. Every part of one configuration gets the same errors, except non-finite npy
// features, which each part finds in the rows it reads.
//
// Sharded use (the caller communicates):
//   DataSplits data = load_data(config.data, shard);
//   PreprocessStats stats = local_preprocess_stats(data.train, config.data.preprocess);
//   std::vector<double> sums = stats.to_vector();  double max_abs = stats.max_abs;
//   (allreduce sums with a sum, max_abs with a max)
//   finish_loading(data, config.data, PreprocessStats::from_vector(sums, max_abs));
DataSplits load_data(const DataConfig& config, const DataShard& shard);

// Preprocesses loaded splits as load_data(config) does, with the statistics of the whole training set (skipped
// for "scale01" on synthetic sources).
void finish_loading(DataSplits& splits, const DataConfig& config, const PreprocessStats& global);

// True for a registered generated source ("linear-chain", "two-point", "separable-2d", "student-teacher",
// "sinusoid", "polynomial-sine", or one an extension added); false for file sources and unknown names.
bool is_synthetic_source(const std::string& source);

}  // namespace normscale
