// load_data: picks the reader or generator for data.source, then applies split, limits, sharding and preprocessing.
#include "normscale/data/data_source.hpp"

#include "normscale/core/error.hpp"
#include "normscale/data/cifar_reader.hpp"
#include "normscale/data/class_subset.hpp"
#include "normscale/data/idx_reader.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/data/npy_dataset.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/data/split.hpp"
#include "normscale/data/synthetic.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>

namespace normscale {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSources =
    "\"fashion-mnist\", \"idx\", \"npy\", \"cifar10\", \"linear-chain\", \"two-point\", \"separable-2d\", \"student-teacher\", "
    "\"sinusoid\"";

// Fig. 2's points keep this distance from the separating line (the square is [-1, 1]^2).
constexpr double kSeparableMargin = 0.1;

std::string or_default(const std::string& configured, const char* fallback) {
  return configured.empty() ? std::string(fallback) : configured;
}

// IDX files ship both gzip'ed and raw: accept the configured name with or without ".gz".
std::string resolve_idx_file(const fs::path& folder, const std::string& name, const char* key) {
  const bool gzipped = name.size() > 3 && name.ends_with(".gz");
  const fs::path given = folder / name;
  const fs::path other = folder / (gzipped ? name.substr(0, name.size() - 3) : name + ".gz");
  std::error_code ec;
  if (fs::exists(given, ec)) return given.string();
  if (fs::exists(other, ec)) return other.string();
  NS_FAIL("data.{}: neither '{}' nor '{}' exists; hint: check data.path and data.{}", key, given.string(),
          other.string(), key);
}

void check_same_columns(const Dataset& train, const Dataset& test) {
  NS_CHECK(train.cols == test.cols,
           "the training set '{}' has {} features per example but the test set '{}' has {}; expected the same",
           train.name, train.cols, test.name, test.cols);
}

// One split's file pair: its example count (from the headers) and how to read chosen rows of it. The file
// sources differ only in this; the split, limits and sharding are the same for all of them.
struct FilePair {
  std::string name;  // the features file, for messages
  Index rows = 0;
  Index num_classes = 0;  // IDX and CIFAR-10: of the whole labels file; npy: 0 (known once read)
  std::function<Dataset(const std::vector<Index>& rows)> read;  // strictly ascending file rows
  // The class label of every row of the file (cheap: labels only); empty for regression targets.
  std::function<std::vector<std::int32_t>()> labels;
};

struct SourceFiles {
  FilePair train;
  std::optional<FilePair> test;  // npy test files are optional
  // Checks and settings that need both splits (class count, same columns, same task).
  std::function<void(DataSplits&)> reconcile;
};

FilePair idx_pair(const std::string& images, const std::string& labels, Index num_classes) {
  FilePair pair;
  pair.name = images;
  pair.rows = read_idx_images_header(images).count;
  if (num_classes == 0) {
    // The classes of the whole labels file (small, read whole), whichever rows a part keeps.
    const std::vector<std::uint8_t> all = read_idx_labels(labels);
    num_classes = Index{*std::max_element(all.begin(), all.end())} + 1;
  }
  pair.num_classes = num_classes;
  pair.read = [images, labels, num_classes](const std::vector<Index>& rows) {
    return load_idx_rows(images, labels, num_classes, rows);
  };
  pair.labels = [labels] {
    const std::vector<std::uint8_t> bytes = read_idx_labels(labels);
    return std::vector<std::int32_t>(bytes.begin(), bytes.end());
  };
  return pair;
}

FilePair npy_pair(const std::string& features, const std::string& labels) {
  // Reading no rows checks both files (shapes, dtypes, labels) without reading features.
  load_npy_rows(features, labels, {});
  FilePair pair;
  pair.name = features;
  pair.rows = read_npy_header(features).shape[0];
  pair.read = [features, labels](const std::vector<Index>& rows) { return load_npy_rows(features, labels, rows); };
  if (read_npy_header(labels).is_integer) {
    pair.labels = [labels] {
      const NpyArray array = read_npy(labels);  // checked as labels by load_npy_rows above
      return std::vector<std::int32_t>(array.values.begin(), array.values.end());
    };
  }
  return pair;
}

SourceFiles open_idx_folder(const DataConfig& config, const fs::path& folder, Index num_classes) {
  const auto file = [&](const std::string& configured, const char* fallback, const char* key) {
    return resolve_idx_file(folder, or_default(configured, fallback), key);
  };
  // Resolved one by one (not as call arguments) so a missing file is reported in a fixed order.
  const std::string train_images = file(config.train_features, "train-images-idx3-ubyte.gz", "train_features");
  const std::string train_labels = file(config.train_labels, "train-labels-idx1-ubyte.gz", "train_labels");
  const std::string test_images = file(config.test_features, "t10k-images-idx3-ubyte.gz", "test_features");
  const std::string test_labels = file(config.test_labels, "t10k-labels-idx1-ubyte.gz", "test_labels");
  SourceFiles files;
  files.train = idx_pair(train_images, train_labels, num_classes);
  // The test labels must fit the classes the training set defines.
  files.test = idx_pair(test_images, test_labels, files.train.num_classes);
  files.reconcile = [](DataSplits& splits) { check_same_columns(splits.train, splits.test); };
  return files;
}

SourceFiles open_fashion_mnist(const DataConfig& config) {
  const std::string folder = config.path.empty() ? std::string(NORMSCALE_FASHION_MNIST_DIR) : config.path;
  std::error_code ec;
  NS_CHECK(fs::is_directory(folder, ec),
           "the Fashion-MNIST folder '{}' does not exist; hint: install Debian's dataset-fashion-mnist package "
           "(apt-get install dataset-fashion-mnist) or run launch/setup.sh, or set data.path to a folder with the "
           "four IDX files",
           folder);
  return open_idx_folder(config, folder, 10);
}

SourceFiles open_idx(const DataConfig& config) {
  std::error_code ec;
  NS_CHECK(!config.path.empty() && fs::is_directory(config.path, ec),
           "data.source = \"idx\" needs data.path to be the folder of the IDX files, got '{}'", config.path);
  return open_idx_folder(config, config.path, 0);
}

SourceFiles open_npy(const DataConfig& config) {
  std::error_code ec;
  NS_CHECK(!config.path.empty() && fs::is_directory(config.path, ec),
           "data.source = \"npy\" needs data.path to be the folder of the .npy files, got '{}'", config.path);
  const fs::path folder = config.path;
  const auto file = [&](const std::string& configured, const char* fallback) {
    return (folder / or_default(configured, fallback)).string();
  };
  SourceFiles files;
  const std::string train_labels = file(config.train_labels, "y_train.npy");
  files.train = npy_pair(file(config.train_features, "X_train.npy"), train_labels);

  // The test set is optional, but only when neither file was named and neither default file exists.
  const std::string test_features = file(config.test_features, "X_test.npy");
  const std::string test_labels = file(config.test_labels, "y_test.npy");
  const bool named = !config.test_features.empty() || !config.test_labels.empty();
  if (named || fs::exists(test_features, ec) || fs::exists(test_labels, ec)) {
    files.test = npy_pair(test_features, test_labels);
  }
  files.reconcile = [train_labels, test_labels, has_test = files.test.has_value()](DataSplits& splits) {
    if (!has_test) return;
    check_same_columns(splits.train, splits.test);
    NS_CHECK(splits.train.is_classification() == splits.test.is_classification() &&
                 splits.train.target_cols == splits.test.target_cols,
             "the training labels '{}' and the test labels '{}' describe different tasks (classes vs {} and {} "
             "regression targets); expected the same kind of labels",
             train_labels, test_labels, splits.train.target_cols, splits.test.target_cols);
    // A class may be missing from one split; every split must still count all of them.
    const Index classes = std::max(splits.train.num_classes, splits.test.num_classes);
    for (Dataset* part : {&splits.train, &splits.validation, &splits.test}) part->num_classes = classes;
  };
  return files;
}

FilePair cifar_pair(const std::vector<std::string>& paths, const std::string& name) {
  FilePair pair;
  pair.name = name;
  for (const std::string& path : paths) pair.rows += read_cifar_record_count(path);
  pair.num_classes = kCifarClasses;
  pair.read = [paths, name](const std::vector<Index>& rows) {
    Dataset data = load_cifar_rows(paths, rows);
    data.name = name;
    return data;
  };
  pair.labels = [paths] {
    const std::vector<std::uint8_t> bytes = read_cifar_labels(paths);
    return std::vector<std::int32_t>(bytes.begin(), bytes.end());
  };
  return pair;
}

SourceFiles open_cifar10(const DataConfig& config) {
  std::error_code ec;
  NS_CHECK(!config.path.empty() && fs::is_directory(config.path, ec),
           "data.source = \"cifar10\" needs data.path to be the folder of the CIFAR-10 binary batches "
           "(cifar-10-batches-bin, or the folder holding it), got '{}'",
           config.path);
  // The batch files have fixed names; a file name option would be silently ignored, so it is an error.
  for (const auto& [key, value] : {std::pair{"train_features", &config.train_features},
                                   std::pair{"train_labels", &config.train_labels},
                                   std::pair{"test_features", &config.test_features},
                                   std::pair{"test_labels", &config.test_labels}}) {
    NS_CHECK(value->empty(),
             "data.{} = '{}' is not used by data.source = \"cifar10\" (its files are data_batch_1.bin … "
             "data_batch_5.bin and test_batch.bin in data.path); expected it empty",
             key, *value);
  }
  const std::string folder = find_cifar10_folder(config.path);
  const std::vector<std::string> train = cifar10_train_files(folder);
  SourceFiles files;
  files.train = cifar_pair(train, (fs::path(folder) / "data_batch_{1..5}.bin").string());
  const std::string test = cifar10_test_file(folder);
  files.test = cifar_pair({test}, test);
  files.reconcile = [](DataSplits&) {};
  return files;
}

SourceFiles open_source_files(const DataConfig& config) {
  if (config.source == "fashion-mnist") return open_fashion_mnist(config);
  if (config.source == "idx") return open_idx(config);
  if (config.source == "cifar10") return open_cifar10(config);
  return open_npy(config);
}

// The class count the labels of a file pair allow: the pair's own, or (npy) the largest label + 1.
Index classes_of(const FilePair& pair, const std::vector<std::int32_t>& labels) {
  if (pair.num_classes > 0 || labels.empty()) return pair.num_classes;
  return Index{*std::max_element(labels.begin(), labels.end())} + 1;
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
           "data.classes = [{}] but the training labels of '{}' are regression targets; expected data.classes = [] "
           "for regression",
           fmt::join(classes, ", "), files.train.name);
  const std::vector<std::int32_t> train_labels = files.train.labels();
  Index source_classes = classes_of(files.train, train_labels);
  std::vector<std::int32_t> test_labels;
  if (files.test && files.test->labels) {
    test_labels = files.test->labels();
    // npy: a class may be missing from one split, as in the unrestricted load.
    source_classes = std::max(source_classes, classes_of(*files.test, test_labels));
  }
  restrict_to_classes(files.train, train_labels, source_classes, classes, true);
  if (files.test && files.test->labels) restrict_to_classes(*files.test, test_labels, source_classes, classes, false);
}

DataSplits generate_synthetic(const DataConfig& config) {
  const std::string& source = config.source;
  if (source == "linear-chain") return make_linear_chain();
  if (source == "two-point") return make_two_point();
  if (source == "separable-2d") {
    return make_separable_2d(config.synthetic_examples, kSeparableMargin, config.synthetic_seed).data;
  }
  if (source == "student-teacher") {
    return make_student_teacher(config.synthetic_examples, config.synthetic_dim, config.synthetic_snr,
                                config.synthetic_seed)
        .data;
  }
  return make_sinusoid(config.synthetic_examples, config.synthetic_seed);
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

DataSplits load_file_source(const DataConfig& config, const DataShard& shard) {
  SourceFiles files = open_source_files(config);
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

DataSplits load_synthetic(const DataConfig& config, const DataShard& shard) {
  DataSplits whole = generate_synthetic(config);
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
  return source == "linear-chain" || source == "two-point" || source == "separable-2d" ||
         source == "student-teacher" || source == "sinusoid";
}

DataSplits load_data(const DataConfig& config, const DataShard& shard) {
  // Settings are checked before minutes of loading, not after.
  check_preprocess_mode(config.preprocess);
  check_data_shard(shard);
  NS_CHECK(config.validation >= 0, "data.validation = {}; expected >= 0", config.validation);
  NS_CHECK(config.train_limit >= 0, "data.train_limit = {}; expected >= 0 (0: use all rows)", config.train_limit);
  NS_CHECK(config.test_limit >= 0, "data.test_limit = {}; expected >= 0 (0: use all rows)", config.test_limit);
  const std::string& source = config.source;
  if (is_synthetic_source(source)) return load_synthetic(config, shard);
  NS_CHECK(source == "fashion-mnist" || source == "idx" || source == "npy" || source == "cifar10",
           "data.source = \"{}\" is not a data source; expected one of {}", source, kSources);
  return load_file_source(config, shard);
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
