// The data-source registry and the built-in sources, listed in one place: the IDX (Fashion-MNIST and
// MNIST-format), npy and CIFAR-10 file openers and the papers' generated problems.
#include "normscale/data/data_source_registry.hpp"

#include "normscale/core/error.hpp"
#include "normscale/data/cifar_reader.hpp"
#include "normscale/data/idx_reader.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/data/npy_dataset.hpp"
#include "normscale/data/synthetic.hpp"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace normscale {

namespace {

namespace fs = std::filesystem;

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
  // As many pixels in another shape (14x56 against 28x28) would go through the convolutions as 28x28.
  const auto shape = [](const ImageShape& s) { return fmt::format("{}x{}x{}", s.height, s.width, s.channels); };
  NS_CHECK(!train.image.valid() || !test.image.valid() ||
               (train.image.height == test.image.height && train.image.width == test.image.width &&
                train.image.channels == test.image.channels),
           "the training set '{}' holds images of {} (height x width x channels) but the test set '{}' holds {}; "
           "expected the same",
           train.name, shape(train.image), test.name, shape(test.image));
}

FilePair idx_pair(const std::string& images, const std::string& labels, Index num_classes) {
  FilePair pair;
  pair.name = images;
  pair.labels_name = labels;
  // The labels file is small and read whole here: its bytes, which exist, confirm the images header's count
  // before anything (the validation split, row lists) is sized by it.
  const std::vector<std::uint8_t> all = read_idx_labels(labels);
  pair.rows = read_idx_images_header(images).count;
  NS_CHECK(pair.rows == static_cast<Index>(all.size()),
           "IDX images file '{}' holds {} images but labels file '{}' holds {} labels; hint: both files must "
           "belong to the same split (train or test)",
           images, pair.rows, labels, all.size());
  // The classes of the whole labels file, whichever rows a part keeps.
  if (num_classes == 0) num_classes = Index{*std::max_element(all.begin(), all.end())} + 1;
  pair.num_classes = num_classes;
  pair.read = [images, labels, num_classes](const std::vector<Index>& rows) {
    return load_idx_rows(images, labels, num_classes, rows);
  };
  pair.labels = [labels] {
    const std::vector<std::uint8_t> bytes = read_idx_labels(labels);
    return std::vector<std::int32_t>(bytes.begin(), bytes.end());
  };
  pair.paths = {images, labels};
  return pair;
}

FilePair npy_pair(const std::string& features, const std::string& labels) {
  // Reading no rows checks both files (shapes, dtypes, labels) without reading features.
  load_npy_rows(features, labels, {});
  FilePair pair;
  pair.name = features;
  pair.labels_name = labels;
  pair.rows = read_npy_header(features).shape[0];
  pair.read = [features, labels](const std::vector<Index>& rows) { return load_npy_rows(features, labels, rows); };
  if (read_npy_header(labels).is_integer) {
    pair.labels = [labels] {
      const NpyArray array = read_npy(labels);  // checked as labels by load_npy_rows above
      return std::vector<std::int32_t>(array.values.begin(), array.values.end());
    };
  }
  pair.paths = {features, labels};
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
  return open_idx_folder(config, folder, config.num_classes > 0 ? config.num_classes : 10);
}

SourceFiles open_idx(const DataConfig& config) {
  std::error_code ec;
  NS_CHECK(!config.path.empty() && fs::is_directory(config.path, ec),
           "data.source = \"idx\" needs data.path to be the folder of the IDX files, got '{}'", config.path);
  return open_idx_folder(config, config.path, config.num_classes);
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
    const auto kind = [](const Dataset& d) {
      return d.is_classification() ? std::string("class labels")
                                   : fmt::format("{} regression target column(s)", d.target_cols);
    };
    NS_CHECK(splits.train.is_classification() == splits.test.is_classification() &&
                 splits.train.target_cols == splits.test.target_cols,
             "the training labels '{}' hold {} but the test labels '{}' hold {}; expected the same kind of labels",
             train_labels, kind(splits.train), test_labels, kind(splits.test));
    // The class count is the training set's (load_data checked the test labels against it).
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
  pair.paths = paths;
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

DataSourceEntry file_source(std::string name, std::string description,
                            std::function<SourceFiles(const DataConfig&)> open) {
  return {std::move(name), std::move(description), std::move(open), {}};
}

DataSourceEntry generated_source(std::string name, std::string description,
                                 std::function<DataSplits(const DataConfig&)> generate) {
  return {std::move(name), std::move(description), {}, std::move(generate)};
}

void add_builtins(DataSourceRegistry& registry) {
  registry.add(file_source("fashion-mnist", "Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist, or data.path)",
                           open_fashion_mnist));
  registry.add(file_source("idx", "MNIST-format IDX files in data.path (gzip'ed or raw)", open_idx));
  registry.add(file_source("npy", "X_train.npy / y_train.npy (and optional test files) in data.path", open_npy));
  registry.add(file_source("cifar10", "CIFAR-10 binary batches in data.path", open_cifar10));
  registry.add(generated_source("linear-chain", "one example x = y = 1 for the chain y = w2 w1 x (paper §3.2)",
                                [](const DataConfig&) { return make_linear_chain(); }));
  registry.add(generated_source("two-point", "two points +-(1, 1)/sqrt(2), one per class (paper §3.3)",
                                [](const DataConfig&) { return make_two_point(); }));
  registry.add(generated_source(
      "separable-2d", "linearly separable points in [-1, 1]^2 (paper Fig. 2; data.synthetic_examples, _seed)",
      [](const DataConfig& c) { return make_separable_2d(c.synthetic_examples, kSeparableMargin, c.synthetic_seed).data; }));
  registry.add(generated_source(
      "student-teacher", "linear teacher with noise (paper §3.4; data.synthetic_examples, _dim, _snr, _seed)",
      [](const DataConfig& c) {
        return make_student_teacher(c.synthetic_examples, c.synthetic_dim, c.synthetic_snr, c.synthetic_seed).data;
      }));
  registry.add(generated_source("sinusoid", "sin(pi x) at points uniform in [-1, 1] (paper Fig. 1)",
                                [](const DataConfig& c) { return make_sinusoid(c.synthetic_examples, c.synthetic_seed); }));
  registry.add(generated_source(
      "polynomial-sine",
      "sin(2 pi 4 x) on monomial features of degree data.degree at data.nodes (Theory III Fig. 5-7)",
      [](const DataConfig& c) {
        return make_polynomial_sine(c.synthetic_examples, c.degree, c.nodes == "chebyshev", c.synthetic_seed);
      }));
}

void check_entry(const DataSourceEntry& entry) {
  NS_CHECK(static_cast<bool>(entry.open_files) != static_cast<bool>(entry.generate),
           "data source '{}' is registered with {}; expected exactly one of open_files and generate", entry.name,
           entry.open_files ? "both open_files and generate" : "neither open_files nor generate");
}

}  // namespace

DataSourceRegistry& data_source_registry() {
  static DataSourceRegistry registry("data.source", "data source", check_entry, add_builtins);
  return registry;
}

}  // namespace normscale
