// load_data: picks the reader or generator for data.source, then applies split, limits and preprocessing.
#include "normscale/data/data_source.hpp"

#include "normscale/core/error.hpp"
#include "normscale/data/idx_reader.hpp"
#include "normscale/data/npy_dataset.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/data/split.hpp"
#include "normscale/data/synthetic.hpp"

#include <algorithm>
#include <filesystem>

namespace normscale {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSources =
    "\"fashion-mnist\", \"idx\", \"npy\", \"linear-chain\", \"two-point\", \"separable-2d\", \"student-teacher\", "
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

DataSplits load_idx_folder(const DataConfig& config, const fs::path& folder, Index num_classes) {
  const auto file = [&](const std::string& configured, const char* fallback, const char* key) {
    return resolve_idx_file(folder, or_default(configured, fallback), key);
  };
  // Resolved one by one (not as call arguments) so a missing file is reported in a fixed order.
  const std::string train_images = file(config.train_features, "train-images-idx3-ubyte.gz", "train_features");
  const std::string train_labels = file(config.train_labels, "train-labels-idx1-ubyte.gz", "train_labels");
  const std::string test_images = file(config.test_features, "t10k-images-idx3-ubyte.gz", "test_features");
  const std::string test_labels = file(config.test_labels, "t10k-labels-idx1-ubyte.gz", "test_labels");
  DataSplits splits;
  splits.train = load_idx_dataset(train_images, train_labels, num_classes);
  // The test labels must fit the classes the training set defines.
  splits.test = load_idx_dataset(test_images, test_labels, splits.train.num_classes);
  check_same_columns(splits.train, splits.test);
  return splits;
}

DataSplits load_fashion_mnist(const DataConfig& config) {
  const std::string folder = config.path.empty() ? std::string(NORMSCALE_FASHION_MNIST_DIR) : config.path;
  std::error_code ec;
  NS_CHECK(fs::is_directory(folder, ec),
           "the Fashion-MNIST folder '{}' does not exist; hint: install Debian's dataset-fashion-mnist package "
           "(apt-get install dataset-fashion-mnist) or run launch/setup.sh, or set data.path to a folder with the "
           "four IDX files",
           folder);
  return load_idx_folder(config, folder, 10);
}

DataSplits load_idx(const DataConfig& config) {
  std::error_code ec;
  NS_CHECK(!config.path.empty() && fs::is_directory(config.path, ec),
           "data.source = \"idx\" needs data.path to be the folder of the IDX files, got '{}'", config.path);
  return load_idx_folder(config, config.path, 0);
}

DataSplits load_npy(const DataConfig& config) {
  std::error_code ec;
  NS_CHECK(!config.path.empty() && fs::is_directory(config.path, ec),
           "data.source = \"npy\" needs data.path to be the folder of the .npy files, got '{}'", config.path);
  const fs::path folder = config.path;
  const auto file = [&](const std::string& configured, const char* fallback) {
    return (folder / or_default(configured, fallback)).string();
  };
  DataSplits splits;
  splits.train =
      load_npy_dataset(file(config.train_features, "X_train.npy"), file(config.train_labels, "y_train.npy"));

  // The test set is optional, but only when neither file was named and neither default file exists.
  const std::string test_features = file(config.test_features, "X_test.npy");
  const std::string test_labels = file(config.test_labels, "y_test.npy");
  const bool named = !config.test_features.empty() || !config.test_labels.empty();
  if (!named && !fs::exists(test_features, ec) && !fs::exists(test_labels, ec)) {
    splits.test = slice_rows(splits.train, 0, 0);
    splits.test.name = "(no test set)";
    return splits;
  }
  splits.test = load_npy_dataset(test_features, test_labels);
  check_same_columns(splits.train, splits.test);
  NS_CHECK(splits.train.is_classification() == splits.test.is_classification() &&
               splits.train.target_cols == splits.test.target_cols,
           "the training labels '{}' and the test labels '{}' describe different tasks (classes vs {} and {} "
           "regression targets); expected the same kind of labels",
           file(config.train_labels, "y_train.npy"), test_labels, splits.train.target_cols,
           splits.test.target_cols);
  // A class may be missing from one split; both must still count all of them.
  const Index classes = std::max(splits.train.num_classes, splits.test.num_classes);
  splits.train.num_classes = splits.test.num_classes = classes;
  return splits;
}

DataSplits load_source(const DataConfig& config) {
  const std::string& source = config.source;
  if (source == "fashion-mnist") return load_fashion_mnist(config);
  if (source == "idx") return load_idx(config);
  if (source == "npy") return load_npy(config);
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
  if (source == "sinusoid") return make_sinusoid(config.synthetic_examples, config.synthetic_seed);
  NS_FAIL("data.source = \"{}\" is not a data source; expected one of {}", source, kSources);
}

// Keeps the first `limit` rows (0: all; a limit above the size keeps all).
void apply_limit(Dataset& data, std::int64_t limit, const char* key) {
  NS_CHECK(limit >= 0, "data.{} = {}; expected >= 0 (0: use all rows)", key, limit);
  if (limit > 0 && limit < data.rows) data = slice_rows(data, 0, limit);
}

}  // namespace

bool is_synthetic_source(const std::string& source) {
  return source == "linear-chain" || source == "two-point" || source == "separable-2d" ||
         source == "student-teacher" || source == "sinusoid";
}

DataSplits load_data(const DataConfig& config) {
  // Settings are checked before minutes of loading, not after.
  check_preprocess_mode(config.preprocess);
  NS_CHECK(config.validation >= 0, "data.validation = {}; expected >= 0", config.validation);
  const bool synthetic = is_synthetic_source(config.source);

  DataSplits splits = load_source(config);
  if (!synthetic) splits.validation = carve_validation(splits.train, config.validation, config.split_seed);
  apply_limit(splits.train, config.train_limit, "train_limit");
  apply_limit(splits.test, config.test_limit, "test_limit");
  NS_CHECK(splits.train.rows > 0,
           "the training set '{}' is empty after taking {} rows for validation; hint: lower data.validation",
           splits.train.name, splits.validation.rows);
  if (!(synthetic && config.preprocess == "scale01")) preprocess(splits, config.preprocess);
  return splits;
}

}  // namespace normscale
