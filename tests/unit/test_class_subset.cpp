// data.classes: the pure selection, and load_data keeping and relabelling the listed classes of IDX, CIFAR-10,
// npy and generated sets before the validation split (Fashion-MNIST's two-class subset when installed).
#include "normscale/core/error.hpp"
#include "normscale/data/cifar_reader.hpp"
#include "normscale/data/class_subset.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/data/idx_reader.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/data/split.hpp"
#include "support/data_files.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::Bytes;
using testing::error_of;

TEST(SelectClasses, KeepsListedClassesInFileOrderRelabelledByListPosition) {
  const std::vector<std::int32_t> labels = {0, 3, 5, 3, 1, 5, 2};
  // [5, 3]: class 5 becomes 0 (negative), class 3 becomes 1 (positive).
  const ClassSubset subset = select_classes({5, 3}, labels, 6, "file", true);
  EXPECT_EQ(subset.rows, (std::vector<Index>{1, 2, 3, 5}));
  EXPECT_EQ(subset.labels, (std::vector<std::int32_t>{1, 0, 1, 0}));
  EXPECT_EQ(subset.num_classes, 2);
  const ClassSubset three = select_classes({3, 5, 0}, labels, 6, "file", true);
  EXPECT_EQ(three.rows, (std::vector<Index>{0, 1, 2, 3, 5}));
  EXPECT_EQ(three.labels, (std::vector<std::int32_t>{2, 0, 1, 0, 1}));
  EXPECT_EQ(three.num_classes, 3);
}

TEST(SelectClasses, BadListsAreErrors) {
  const std::vector<std::int32_t> labels = {0, 3, 5, 3, 1, 5};
  EXPECT_THAT(error_of([&] { select_classes({3}, labels, 6, "f", true); }),
              AllOf(HasSubstr("data.classes = [3]"), HasSubstr("at least 2")));
  EXPECT_THAT(error_of([&] { select_classes({}, labels, 6, "f", true); }), HasSubstr("at least 2"));
  EXPECT_THAT(error_of([&] { select_classes({3, 5, 3}, labels, 6, "f", true); }),
              AllOf(HasSubstr("data.classes = [3, 5, 3]"), HasSubstr("class 3 twice")));
  EXPECT_THAT(error_of([&] { select_classes({3, 6}, labels, 6, "the file", true); }),
              AllOf(HasSubstr("data.classes[1] = 6 is out of range"), HasSubstr("'the file' has 6 classes")));
  EXPECT_THAT(error_of([&] { select_classes({-1, 3}, labels, 6, "f", true); }), HasSubstr("data.classes[0] = -1"));
  // Class 4 is in range but has no example: an error for a training file, allowed for a test file.
  EXPECT_THAT(error_of([&] { select_classes({3, 4}, labels, 6, "train file", true); }),
              AllOf(HasSubstr("data.classes[1] = 4"), HasSubstr("'train file' has no example of class 4")));
  const ClassSubset test = select_classes({3, 4}, labels, 6, "test file", false);
  EXPECT_EQ(test.rows, (std::vector<Index>{1, 3}));
  EXPECT_EQ(test.num_classes, 2);
}

// Files of 40 training and 20 test examples: IDX (2 x 2 images) or CIFAR-10; byte 0 of example i is i and its
// label is i % 7 (test: i % 5), so kept rows can be recognised.
class ClassSubsetFiles : public testing::TempDirTest {
 protected:
  static constexpr Index kTrain = 40;
  static constexpr Index kTest = 20;

  ClassSubsetFiles() : TempDirTest("normscale_subset_") {}

  static std::uint8_t train_label(Index i) { return static_cast<std::uint8_t>(i % 7); }
  static std::uint8_t test_label(Index i) { return static_cast<std::uint8_t>(i % 5); }

  void write(const std::string& name, const Bytes& bytes) const { testing::write_bytes(dir_ / name, bytes); }

  DataConfig write_idx() const {
    const auto images = [](Index count) {
      Bytes pixels;
      for (Index i = 0; i < count; ++i) {
        for (Index k = 0; k < 4; ++k) pixels.push_back(static_cast<std::uint8_t>(k == 0 ? i : 3 * i + k));
      }
      return testing::idx::images_file(static_cast<std::uint32_t>(count), 2, 2, pixels);
    };
    const auto labels = [](Index count, std::uint8_t (*label)(Index)) {
      Bytes bytes;
      for (Index i = 0; i < count; ++i) bytes.push_back(label(i));
      return testing::idx::labels_file(bytes);
    };
    write("train-images-idx3-ubyte", images(kTrain));
    write("train-labels-idx1-ubyte", labels(kTrain, train_label));
    write("t10k-images-idx3-ubyte", images(kTest));
    write("t10k-labels-idx1-ubyte", labels(kTest, test_label));
    return config_for("idx");
  }

  DataConfig write_cifar() const {
    const auto records = [](Index first, Index count, std::uint8_t (*label)(Index)) {
      return testing::cifar::records(first, count, label, [](Index i, Index k) { return k == 0 ? i : i + k; });
    };
    for (Index b = 0; b < 5; ++b) write("data_batch_" + std::to_string(b + 1) + ".bin", records(8 * b, 8, train_label));
    write("test_batch.bin", records(0, kTest, test_label));
    return config_for("cifar10");
  }

  DataConfig config_for(const char* source) const {
    DataConfig config;
    config.source = source;
    config.path = dir_.string();
    config.validation = 4;
    config.preprocess = "none";
    return config;
  }

  // The whole load of data.classes = classes: train and validation are the split of the kept training rows, in
  // file order, relabelled; test the kept test rows.
  static void expect_subset(const DataSplits& data, const DataConfig& config) {
    const std::vector<std::int64_t>& classes = config.classes;
    const auto position = [&](Index label) -> std::int32_t {
      for (std::size_t j = 0; j < classes.size(); ++j) {
        if (classes[j] == label) return static_cast<std::int32_t>(j);
      }
      return -1;
    };
    std::vector<Index> kept_train, kept_test;
    for (Index i = 0; i < kTrain; ++i) {
      if (position(train_label(i)) >= 0) kept_train.push_back(i);
    }
    for (Index i = 0; i < kTest; ++i) {
      if (position(test_label(i)) >= 0) kept_test.push_back(i);
    }
    const ValidationRows split = split_validation_rows(static_cast<Index>(kept_train.size()), config.validation,
                                                       config.split_seed, "train");
    const auto check = [&](const Dataset& set, const std::vector<Index>& file_rows, std::uint8_t (*label)(Index),
                           const char* name) {
      SCOPED_TRACE(name);
      ASSERT_EQ(set.rows, static_cast<Index>(file_rows.size()));
      EXPECT_EQ(set.total_rows, set.rows);
      EXPECT_EQ(set.num_classes, static_cast<Index>(classes.size()));
      for (Index r = 0; r < set.rows; ++r) {
        const Index file_row = file_rows[static_cast<std::size_t>(r)];
        EXPECT_EQ(set.row(r)[0], static_cast<float>(file_row)) << "row " << r;
        EXPECT_EQ(set.labels[static_cast<std::size_t>(r)], position(label(file_row))) << "row " << r;
      }
    };
    std::vector<Index> train_rows, validation_rows;
    for (const Index s : split.train) train_rows.push_back(kept_train[static_cast<std::size_t>(s)]);
    for (const Index s : split.validation) validation_rows.push_back(kept_train[static_cast<std::size_t>(s)]);
    check(data.train, train_rows, train_label, "train");
    check(data.validation, validation_rows, train_label, "validation");
    check(data.test, kept_test, test_label, "test");
  }
};

TEST_F(ClassSubsetFiles, IdxKeepsAndRelabelsTheListedClasses) {
  DataConfig config = write_idx();
  config.classes = {3, 5};
  const DataSplits data = load_data(config, DataShard{});
  // Classes 3 and 5 of 40 examples labelled i % 7: 6 + 5, of which 4 go to validation.
  EXPECT_EQ(data.train.rows + data.validation.rows, 11);
  EXPECT_EQ(data.test.rows, 4);  // test labels i % 5: class 3 four times, class 5 absent (allowed in a test file)
  expect_subset(data, config);
  config.classes = {6, 0, 2};
  expect_subset(load_data(config, DataShard{}), config);
}

TEST_F(ClassSubsetFiles, CifarKeepsAndRelabelsTheListedClasses) {
  DataConfig config = write_cifar();
  config.classes = {5, 3};
  const DataSplits data = load_data(config, DataShard{});
  EXPECT_EQ(data.train.rows + data.validation.rows, 11);
  EXPECT_EQ(data.train.image.channels, 3);
  expect_subset(data, config);
  config.classes = {0, 1, 2, 4};
  config.train_limit = 10;
  const DataSplits limited = load_data(config, DataShard{});
  EXPECT_EQ(limited.train.rows, 10);
  EXPECT_EQ(limited.train.num_classes, 4);
}

TEST_F(ClassSubsetFiles, BadSubsetsNameDataClassesAndTheFile) {
  DataConfig config = write_cifar();
  config.classes = {3, 10};
  EXPECT_THAT(error_of([&] { load_data(config, DataShard{}); }),
              AllOf(HasSubstr("data.classes[1] = 10 is out of range"), HasSubstr("10 classes")));
  config.classes = {3, 8};  // in range for CIFAR-10, but no training example is labelled 8
  EXPECT_THAT(error_of([&] { load_data(config, DataShard{}); }),
              AllOf(HasSubstr("no example of class 8"), HasSubstr("data_batch_")));
  config.classes = {3, 3};
  EXPECT_THAT(error_of([&] { load_data(config, DataShard{}); }), HasSubstr("twice"));
  config.classes = {3};
  EXPECT_THAT(error_of([&] { load_data(config, DataShard{}); }), HasSubstr("at least 2"));
  // IDX derives its class count from the largest training label: 7 classes here.
  DataConfig idx = write_idx();
  idx.classes = {0, 7};
  EXPECT_THAT(error_of([&] { load_data(idx, DataShard{}); }),
              AllOf(HasSubstr("data.classes[1] = 7"), HasSubstr("7 classes")));
}

TEST_F(ClassSubsetFiles, SubsetOfARegressionSetIsAnError) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const std::vector<float> y = {0.5f, 1.5f, 2.5f};
  write_npy((dir_ / "X_train.npy").string(), {3, 2}, x.data());
  write_npy((dir_ / "y_train.npy").string(), {3}, y.data());
  DataConfig config = config_for("npy");
  config.validation = 0;
  config.classes = {0, 1};
  EXPECT_THAT(error_of([&] { load_data(config, DataShard{}); }),
              AllOf(HasSubstr("data.classes = [0, 1]"), HasSubstr("regression")));
}

TEST_F(ClassSubsetFiles, NpyClassesAreSelectedToo) {
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (Index i = 0; i < kTrain; ++i) {
    x.push_back(static_cast<float>(i));
    y.push_back(train_label(i));
  }
  write_npy((dir_ / "X_train.npy").string(), {kTrain, 1}, x.data());
  write_npy((dir_ / "y_train.npy").string(), {kTrain}, y.data());
  DataConfig config = config_for("npy");
  config.classes = {1, 4};
  const DataSplits data = load_data(config, DataShard{});
  EXPECT_EQ(data.train.rows + data.validation.rows, 12);
  EXPECT_EQ(data.train.num_classes, 2);
  for (Index r = 0; r < data.train.rows; ++r) {
    const auto file_row = static_cast<Index>(data.train.row(r)[0]);
    EXPECT_EQ(data.train.labels[static_cast<std::size_t>(r)], train_label(file_row) == 1 ? 0 : 1);
  }
}

TEST(ClassSubsetSynthetic, GeneratedClassesCanBeSwapped) {
  DataConfig config;
  config.source = "separable-2d";
  config.synthetic_examples = 30;
  config.preprocess = "none";
  const DataSplits plain = load_data(config);
  config.classes = {1, 0};
  const DataSplits swapped = load_data(config);
  ASSERT_EQ(swapped.train.rows, plain.train.rows);
  EXPECT_EQ(swapped.train.num_classes, 2);
  for (Index r = 0; r < plain.train.rows; ++r) {
    EXPECT_EQ(swapped.train.labels[static_cast<std::size_t>(r)], 1 - plain.train.labels[static_cast<std::size_t>(r)]);
  }
  config.source = "sinusoid";
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("regression"));
}

TEST(ClassSubsetFashionMnist, TShirtsAndShirtsAre12000Examples) {
  if (!fs::is_directory(NORMSCALE_FASHION_MNIST_DIR)) {
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << NORMSCALE_FASHION_MNIST_DIR
                 << " (Debian package dataset-fashion-mnist, or launch/setup.sh)";
  }
  DataConfig config;
  config.classes = {0, 6};  // T-shirt/top (negative, 0) against shirt (positive, 1)
  config.validation = 0;
  const DataSplits all = load_data(config, DataShard{});
  EXPECT_EQ(all.train.rows, 12000);
  EXPECT_EQ(all.test.rows, 2000);
  EXPECT_EQ(all.train.num_classes, 2);
  Index positives = 0;
  for (const std::int32_t label : all.train.labels) positives += label;
  EXPECT_EQ(positives, 6000);

  // The split is carved from the 12000 subset rows, and the shards from what is left.
  config.validation = 2000;
  const DataSplits split = load_data(config, DataShard{});
  EXPECT_EQ(split.train.rows, 10000);
  EXPECT_EQ(split.validation.rows, 2000);
  for (Index p = 0; p < 4; ++p) {
    const DataSplits part = load_data(config, DataShard{p, 4, 64});
    EXPECT_EQ(part.train.rows, 2500);
    EXPECT_EQ(part.train.first_id, 2500 * p);
    EXPECT_EQ(part.train.total_rows, 10000);
    for (Index r : {Index{0}, Index{2499}}) {
      for (Index j = 0; j < part.train.cols; ++j) {
        ASSERT_EQ(part.train.row(r)[j], split.train.row(2500 * p + r)[j]);
      }
      EXPECT_EQ(part.train.labels[static_cast<std::size_t>(r)],
                split.train.labels[static_cast<std::size_t>(2500 * p + r)]);
    }
  }
}

}  // namespace
}  // namespace normscale
