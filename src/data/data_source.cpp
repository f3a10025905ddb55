// load_data: takes the registered source of data.source through the class subset, validation split, limits,
// sharding and preprocessing, the same for every file source and every generated one.
#include "normscale/data/data_source.hpp"

#include "normscale/core/error.hpp"
#include "normscale/data/class_count.hpp"
#include "normscale/data/class_subset.hpp"
#include "normscale/data/data_source_registry.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/data/split.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>

namespace normscale {

namespace {

std::string labels_file(const FilePair& pair) { return pair.labels_name.empty() ? pair.name : pair.labels_name; }

// Fixes the class count of a classification source from its training labels alone (data.num_classes, else the
// source's own count, else the largest training label + 1), bounded by kMaxClasses, and checks the test labels
// against it: a stray test label must be an error, not a larger model. Every part read gets this count.
void settle_classes(SourceFiles& files, const DataConfig& config) {
  if (!files.train.labels) {
    NS_CHECK(config.num_classes == 0,
             "data.num_classes = {} but the training labels '{}' are regression targets; expected "
             "data.num_classes = 0 for regression",
             config.num_classes, labels_file(files.train));
    return;
  }
  const Index fixed = config.num_classes > 0 ? config.num_classes : files.train.num_classes;
  const std::vector<std::int32_t> labels = files.train.labels();
  const Index classes = training_class_count(labels, fixed, labels_file(files.train));
  // One class has nothing to learn: cross-entropy reported 0% error, the square loss 100%. So has a set whose
  // labels are all one class k > 0 (its count, k + 1, held k classes without examples), unless data.num_classes
  // says so.
  const bool one_label = config.num_classes == 0 &&
                         std::adjacent_find(labels.begin(), labels.end(), std::not_equal_to<>()) == labels.end();
  NS_CHECK(classes >= 2 && !one_label,
           "the training labels '{}' give {} class ({}); expected at least 2 classes; hint: check that the labels "
           "file is the right one, or set data.num_classes",
           labels_file(files.train), one_label ? 1 : classes,
           config.num_classes > 0 ? std::string("data.num_classes = 1")
                                  : fmt::format("every label is {}", labels.empty() ? 0 : labels.front()));
  std::vector<FilePair*> pairs = {&files.train};
  if (files.test && files.test->labels) {
    check_labels_below(files.test->labels(), classes, labels_file(*files.test), "test");
    pairs.push_back(&*files.test);
  }
  for (FilePair* pair : pairs) {
    pair->num_classes = classes;
    pair->read = [read = std::move(pair->read), classes](const std::vector<Index>& rows) {
      Dataset data = read(rows);
      data.num_classes = classes;
      return data;
    };
  }
}

// Makes a file pair the class subset of data.classes: its rows are the kept file rows (so the validation split,
// limits and shards all work on the subset), reads map subset rows to file rows and relabel.
void restrict_to_classes(FilePair& pair, const std::vector<std::int32_t>& labels, Index source_classes,
                         const std::vector<std::int64_t>& classes, bool training) {
  auto subset = std::make_shared<const ClassSubset>(
      select_classes(classes, labels, source_classes, pair.name, training));
  pair.rows = static_cast<Index>(subset->rows.size());
  pair.num_classes = subset->num_classes;
  pair.read = [read = pair.read, subset](const std::vector<Index>& rows) {
    std::vector<Index> file_rows;
    file_rows.reserve(rows.size());
    for (const Index r : rows) file_rows.push_back(subset->rows[static_cast<std::size_t>(r)]);
    Dataset data = read(file_rows);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      data.labels[i] = subset->labels[static_cast<std::size_t>(rows[i])];
    }
    data.num_classes = subset->num_classes;
    return data;
  };
}

void apply_class_subset(SourceFiles& files, const std::vector<std::int64_t>& classes) {
  NS_CHECK(static_cast<bool>(files.train.labels),
           "data.classes = [{}] but the training labels '{}' are regression targets; expected data.classes = [] "
           "for regression",
           fmt::join(classes, ", "), labels_file(files.train));
  const std::vector<std::int32_t> train_labels = files.train.labels();
  // settle_classes has fixed the count from the training labels and checked the test labels against it.
  const Index source_classes = files.train.num_classes;
  std::vector<std::int32_t> test_labels;
  if (files.test && files.test->labels) test_labels = files.test->labels();
  restrict_to_classes(files.train, train_labels, source_classes, classes, true);
  if (files.test && files.test->labels) restrict_to_classes(*files.test, test_labels, source_classes, classes, false);
}

// The number of rows a limit keeps of `rows` (0: all; a limit above the size keeps all).
Index limited(Index rows, std::int64_t limit) { return limit > 0 && limit < rows ? limit : rows; }

// This part's share of a split whose global ids 0, 1, ... are the file rows `ids`: reads only those rows.
Dataset read_part(const FilePair& files, const std::vector<Index>& ids, const DataShard& shard) {
  const ShardRange range = shard.rows_of(static_cast<Index>(ids.size()));
  const std::vector<Index> rows(ids.begin() + range.begin, ids.begin() + range.end);
  Dataset part = files.read(rows);
  part.first_id = range.begin;
  part.total_rows = static_cast<Index>(ids.size());
  return part;
}

DataSplits load_file_source(const DataSourceEntry& source, const DataConfig& config, const DataShard& shard) {
  SourceFiles files = source.open_files(config);
  settle_classes(files, config);
  // The subset comes first: the validation split, the limits and the shards are taken of the kept rows.
  if (!config.classes.empty()) apply_class_subset(files, config.classes);
  ValidationRows split =
      split_validation_rows(files.train.rows, config.validation, config.split_seed, files.train.name);
  split.train.resize(static_cast<std::size_t>(limited(static_cast<Index>(split.train.size()), config.train_limit)));
  NS_CHECK(!split.train.empty(),
           "the training set '{}' is empty after taking {} rows for validation; hint: lower data.validation",
           files.train.name, split.validation.size());

  DataSplits splits;
  splits.train = read_part(files.train, split.train, shard);
  splits.validation = read_part(files.train, split.validation, shard);
  splits.validation.name += " (validation)";
  if (files.test) {
    std::vector<Index> ids(static_cast<std::size_t>(limited(files.test->rows, config.test_limit)));
    std::iota(ids.begin(), ids.end(), Index{0});
    splits.test = read_part(*files.test, ids, shard);
  } else {
    splits.test = slice_rows(splits.train, 0, 0);
    splits.test.name = "(no test set)";
    splits.test.first_id = 0;
    splits.test.total_rows = 0;
  }
  files.reconcile(splits);
  splits.files = files.train.paths;
  if (files.test) splits.files.insert(splits.files.end(), files.test->paths.begin(), files.test->paths.end());
  return splits;
}

// Keeps the first `limit` rows of a whole split.
void apply_limit(Dataset& data, std::int64_t limit) {
  data = slice_rows(data, 0, limited(data.rows, limit));
  data.total_rows = data.rows;
}

// This part's share of a split held whole.
Dataset take_part(const Dataset& whole, const DataShard& shard) {
  const ShardRange range = shard.rows_of(whole.rows);
  Dataset part = slice_rows(whole, range.begin, range.size());
  part.first_id = range.begin;
  part.total_rows = whole.rows;
  return part;
}

// data.classes on a set held whole; a split without rows only takes the new class count.
void keep_classes_of(Dataset& data, const std::vector<std::int64_t>& classes, bool training) {
  if (training || data.rows > 0) {
    data = keep_classes(data, classes, training);
  } else {
    data.num_classes = static_cast<Index>(classes.size());
  }
}

// A generated problem's values in float32, checked as the file readers check theirs: extreme options (a tiny
// data.synthetic_snr) can push them beyond its range.
void check_generated_values_finite(const Dataset& data, const DataConfig& config) {
  for (const std::vector<float>* values : {&data.features, &data.targets}) {
    const auto bad = std::find_if(values->begin(), values->end(), [](float v) { return !std::isfinite(v); });
    if (bad == values->end()) continue;
    const auto at = static_cast<Index>(bad - values->begin());
    const Index width = values == &data.features ? data.cols : data.target_cols;
    NS_FAIL(
        "data.source = \"{}\" generated a non-finite {} in '{}' (example {}, column {}); hint: its options are "
        "beyond float32's range (data.synthetic_snr = {}, data.synthetic_dim = {}, data.degree = {})",
        config.source, values == &data.features ? "feature" : "target", data.name, at / width, at % width,
        config.synthetic_snr, config.synthetic_dim, config.degree);
  }
}

DataSplits load_generated(const DataSourceEntry& source, const DataConfig& config, const DataShard& shard) {
  DataSplits whole = source.generate(config);
  for (const Dataset* split : {&whole.train, &whole.validation, &whole.test})
    check_generated_values_finite(*split, config);
  if (!config.classes.empty()) {
    keep_classes_of(whole.train, config.classes, true);
    keep_classes_of(whole.validation, config.classes, false);
    keep_classes_of(whole.test, config.classes, false);
  }
  apply_limit(whole.train, config.train_limit);
  apply_limit(whole.test, config.test_limit);
  NS_CHECK(whole.train.rows > 0, "the training set '{}' is empty; hint: raise data.synthetic_examples",
           whole.train.name);
  DataSplits splits;
  splits.train = take_part(whole.train, shard);
  splits.validation = take_part(whole.validation, shard);
  splits.test = take_part(whole.test, shard);
  return splits;
}

}  // namespace

bool is_synthetic_source(const std::string& source) {
  const DataSourceEntry* entry = data_source_registry().find(source);
  return entry != nullptr && !entry->reads_files();
}

DataSplits load_data(const DataConfig& config, const DataShard& shard) {
  // Settings are checked before minutes of loading, not after.
  check_preprocess_mode(config.preprocess);
  check_data_shard(shard);
  NS_CHECK(config.validation >= 0, "data.validation = {}; expected >= 0", config.validation);
  NS_CHECK(config.train_limit >= 0, "data.train_limit = {}; expected >= 0 (0: use all rows)", config.train_limit);
  NS_CHECK(config.test_limit >= 0, "data.test_limit = {}; expected >= 0 (0: use all rows)", config.test_limit);
  NS_CHECK(config.num_classes >= 0 && config.num_classes <= kMaxClasses,
           "data.num_classes = {}; expected an integer in [0, {}] (0: from the training labels)", config.num_classes,
           kMaxClasses);
  const DataSourceEntry& source = data_source_registry().get(config.source);
  NS_CHECK(source.reads_files() || config.num_classes == 0,
           "data.num_classes = {} is not used by the generated problem data.source = \"{}\" (it makes its own "
           "classes); expected data.num_classes = 0",
           config.num_classes, config.source);
  return source.reads_files() ? load_file_source(source, config, shard) : load_generated(source, config, shard);
}

void finish_loading(DataSplits& splits, const DataConfig& config, const PreprocessStats& global) {
  // "scale01" is meant for raw pixel bytes; the generated problems are already on their natural scale.
  if (is_synthetic_source(config.source) && config.preprocess == "scale01") return;
  apply_preprocess(splits, config.preprocess, global);
}

DataSplits load_data(const DataConfig& config) {
  DataSplits splits = load_data(config, DataShard{});
  finish_loading(splits, config, local_preprocess_stats(splits.train, config.preprocess));
  return splits;
}

}  // namespace normscale
