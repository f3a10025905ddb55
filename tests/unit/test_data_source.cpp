// Row selection, the validation split and load_data for every kind of source (Fashion-MNIST when installed).
#include "normscale/core/error.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/data/split.hpp"
#include "support/data_files.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::Bytes;
using testing::error_of;

// Row r has features {10 r, 10 r + 1} and label r % 3, so every row can be recognised after selection.
Dataset numbered_rows(Index rows) {
  Dataset data;
  data.name = "numbered";
  data.rows = rows;
  data.cols = 2;
  data.num_classes = 3;
  data.first_id = 100;
  data.image = ImageShape{1, 2, 1};
  for (Index r = 0; r < rows; ++r) {
    data.features.push_back(static_cast<float>(10 * r));
    data.features.push_back(static_cast<float>(10 * r + 1));
    data.labels.push_back(static_cast<std::int32_t>(r % 3));
  }
  return data;
}

// The original row number of row i of a set built from numbered_rows.
Index original_row(const Dataset& data, Index i) { return static_cast<Index>(data.row(i)[0]) / 10; }

TEST(DatasetRows, SliceKeepsRowsMetadataAndShiftsFirstId) {
  const Dataset data = numbered_rows(6);
  const Dataset slice = slice_rows(data, 2, 3);
  EXPECT_EQ(slice.rows, 3);
  EXPECT_EQ(slice.first_id, 102);
  EXPECT_EQ(slice.features, (std::vector<float>{20, 21, 30, 31, 40, 41}));
  EXPECT_EQ(slice.labels, (std::vector<std::int32_t>{2, 0, 1}));
  EXPECT_EQ(slice.num_classes, 3);
  EXPECT_EQ(slice.name, "numbered");
  EXPECT_EQ(slice.image.width, 2);
  EXPECT_THROW(slice_rows(data, 4, 3), Error);
  EXPECT_THROW(slice_rows(data, -1, 1), Error);
  EXPECT_EQ(slice_rows(data, 6, 0).rows, 0);
}

TEST(DatasetRows, SelectGathersInTheGivenOrder) {
  const Dataset data = numbered_rows(5);
  const Dataset picked = select_rows(data, {4, 0, 4});
  EXPECT_EQ(picked.rows, 3);
  EXPECT_EQ(picked.first_id, 0);
  EXPECT_EQ(picked.features, (std::vector<float>{40, 41, 0, 1, 40, 41}));
  EXPECT_EQ(picked.labels, (std::vector<std::int32_t>{1, 0, 1}));
  EXPECT_EQ(picked.cols, 2);
  EXPECT_EQ(picked.num_classes, 3);
  EXPECT_THROW(select_rows(data, {5}), Error);
}

TEST(DatasetRows, TargetsTravelWithTheirRows) {
  Dataset data;
  data.rows = 3;
  data.cols = 1;
  data.target_cols = 2;
  data.features = {1, 2, 3};
  data.targets = {10, 11, 20, 21, 30, 31};
  const Dataset picked = select_rows(data, {2, 0});
  EXPECT_EQ(picked.targets, (std::vector<float>{30, 31, 10, 11}));
  EXPECT_EQ(picked.target_cols, 2);
  EXPECT_TRUE(picked.labels.empty());
  EXPECT_EQ(slice_rows(data, 1, 1).targets, (std::vector<float>{20, 21}));
}

TEST(ValidationSplit, DisjointCoveringAndInFileOrder) {
  Dataset train = numbered_rows(100);
  const Dataset validation = carve_validation(train, 30, 12345);
  EXPECT_EQ(validation.rows, 30);
  EXPECT_EQ(train.rows, 70);
  EXPECT_EQ(train.first_id, 0);
  EXPECT_EQ(validation.num_classes, 3);
  std::vector<Index> seen;
  const std::vector<const Dataset*> parts = {&train, &validation};
  for (const Dataset* part : parts) {
    for (Index i = 0; i < part->rows; ++i) {
      seen.push_back(original_row(*part, i));
      // Labels and the second feature still belong to the same original row.
      EXPECT_EQ(part->labels[static_cast<std::size_t>(i)], seen.back() % 3);
      EXPECT_EQ(part->row(i)[1], static_cast<float>(10 * seen.back() + 1));
      if (i > 0) {
        EXPECT_LT(original_row(*part, i - 1), seen.back()) << "not in file order";
      }
    }
  }
  std::sort(seen.begin(), seen.end());
  std::vector<Index> all(100);
  for (Index r = 0; r < 100; ++r) all[static_cast<std::size_t>(r)] = r;
  EXPECT_EQ(seen, all);
}

std::vector<float> validation_features(Index count, std::uint64_t seed) {
  Dataset train = numbered_rows(200);
  return carve_validation(train, count, seed).features;
}

TEST(ValidationSplit, SeedDecidesTheSplit) {
  EXPECT_EQ(validation_features(50, 1), validation_features(50, 1));
  EXPECT_NE(validation_features(50, 1), validation_features(50, 2));
  // Not simply the first or last rows.
  const std::vector<float> picked = validation_features(50, 1);
  EXPECT_NE(picked, slice_rows(numbered_rows(200), 0, 50).features);
  EXPECT_NE(picked, slice_rows(numbered_rows(200), 150, 50).features);
}

TEST(ValidationSplit, EdgeCountsAndErrors) {
  Dataset train = numbered_rows(5);
  const Dataset none = carve_validation(train, 0, 1);
  EXPECT_EQ(none.rows, 0);
  EXPECT_EQ(none.cols, 2);
  EXPECT_EQ(train.rows, 5);
  const std::string message = error_of([&] { carve_validation(train, 6, 1); });
  EXPECT_THAT(message, HasSubstr("data.validation"));
  EXPECT_THAT(message, HasSubstr("5 rows"));
  const Dataset all = carve_validation(train, 5, 1);
  EXPECT_EQ(all.rows, 5);
  EXPECT_EQ(train.rows, 0);
}

// A fresh folder per test, removed afterwards.
class DataSourceFiles : public testing::TempDirTest {
 protected:
  DataSourceFiles() : TempDirTest("normscale_source_") {}

  // IDX files of `count` 2 x 2 images: image i has pixels {i, 2i, 3i, 4i} * 5 and label i % 4.
  void write_idx_pair(const std::string& images, const std::string& labels, std::uint8_t count) const {
    Bytes pixels, label_bytes;
    for (int i = 0; i < count; ++i) {
      for (int k = 1; k <= 4; ++k) pixels.push_back(static_cast<std::uint8_t>(5 * k * i));
      label_bytes.push_back(static_cast<std::uint8_t>(i % 4));
    }
    testing::write_bytes(dir_ / images, testing::idx::images_file(count, 2, 2, pixels));
    testing::write_bytes(dir_ / labels, testing::idx::labels_file(label_bytes));
  }
};

TEST_F(DataSourceFiles, IdxFolderWithRawFilesSplitLimitAndScale) {
  // Default names end in .gz; the raw files without the suffix must be found too.
  write_idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12);
  write_idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 6);
  DataConfig config;
  config.source = "idx";
  config.path = dir_.string();
  config.validation = 3;
  config.train_limit = 5;
  config.test_limit = 4;
  config.preprocess = "scale01";
  const DataSplits splits = load_data(config);
  EXPECT_EQ(splits.train.rows, 5);
  EXPECT_EQ(splits.validation.rows, 3);
  EXPECT_EQ(splits.test.rows, 4);
  EXPECT_EQ(splits.train.cols, 4);
  EXPECT_EQ(splits.train.num_classes, 4);
  EXPECT_EQ(splits.test.num_classes, 4);
  EXPECT_EQ(splits.train.image.height, 2);
  // scale01 divides by the largest value of the rows actually trained on (after split and limit).
  float train_max = 0;
  for (const float v : splits.train.features) train_max = std::max(train_max, v);
  EXPECT_FLOAT_EQ(train_max, 1.0f);
  // Test row i is i * {5, 10, 15, 20}, scaled by the same factor as train: the ratios survive.
  for (Index i = 1; i < splits.test.rows; ++i) {
    EXPECT_FLOAT_EQ(splits.test.row(i)[3], 4 * splits.test.row(i)[0]);
    EXPECT_FLOAT_EQ(splits.test.row(i)[0], static_cast<float>(i) * splits.test.row(1)[0]);
    EXPECT_EQ(splits.test.labels[static_cast<std::size_t>(i)], i % 4);
  }
}

TEST_F(DataSourceFiles, IdxFolderMissingFileNamesBothSpellings) {
  write_idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 4);
  DataConfig config;
  config.source = "idx";
  config.path = dir_.string();
  config.validation = 1;
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr("data.test_features"));
  EXPECT_THAT(message, HasSubstr("t10k-images-idx3-ubyte.gz"));
  EXPECT_THAT(message, HasSubstr((dir_ / "t10k-images-idx3-ubyte").string() + "'"));
}

TEST_F(DataSourceFiles, IdxSourceNeedsAPath) {
  DataConfig config;
  config.source = "idx";
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("data.path"));
}

TEST_F(DataSourceFiles, NpyFolderWithoutTestFiles) {
  const std::vector<float> x = {3, 4, 0, 2, 6, 8, 1, 0};
  const std::vector<std::int64_t> y = {0, 1, 1, 0};
  write_npy((dir_ / "X_train.npy").string(), {4, 2}, x.data());
  write_npy((dir_ / "y_train.npy").string(), {4}, y.data());
  DataConfig config;
  config.source = "npy";
  config.path = dir_.string();
  config.validation = 1;
  config.preprocess = "unit-norm";
  const DataSplits splits = load_data(config);
  EXPECT_EQ(splits.train.rows + splits.validation.rows, 4);
  EXPECT_EQ(splits.validation.rows, 1);
  EXPECT_EQ(splits.test.rows, 0);
  EXPECT_EQ(splits.test.cols, 2);
  EXPECT_EQ(splits.train.num_classes, 2);
  for (const Dataset* part : {&splits.train, &splits.validation}) {
    for (Index i = 0; i < part->rows; ++i) EXPECT_NEAR(std::hypot(part->row(i)[0], part->row(i)[1]), 1.0, 1e-6);
  }
}

TEST_F(DataSourceFiles, NpyNamedTestFilesMustExist) {
  const std::vector<float> x = {1, 2};
  const std::vector<std::int32_t> y = {0, 1};
  write_npy((dir_ / "X_train.npy").string(), {2, 1}, x.data());
  write_npy((dir_ / "y_train.npy").string(), {2}, y.data());
  DataConfig config;
  config.source = "npy";
  config.path = dir_.string();
  config.validation = 0;
  config.test_features = "X_holdout.npy";
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("X_holdout.npy"));
}

// Training and test labels of different kinds are named as what each holds.
TEST_F(DataSourceFiles, NpyTrainAndTestLabelsOfDifferentKindsSayWhatEachHolds) {
  const std::vector<float> x = {1, 2, 3, 4}, targets3 = {1, 2, 3, 4, 5, 6}, targets2 = {1, 2, 3, 4};
  const std::vector<std::int32_t> classes = {0, 1};
  write_npy((dir_ / "X_train.npy").string(), {2, 2}, x.data());
  write_npy((dir_ / "y_train.npy").string(), {2, 3}, targets3.data());
  write_npy((dir_ / "X_test.npy").string(), {2, 2}, x.data());
  write_npy((dir_ / "y_test.npy").string(), {2, 2}, targets2.data());
  DataConfig config;
  config.source = "npy";
  config.path = dir_.string();
  config.validation = 0;
  EXPECT_THAT(error_of([&] { load_data(config); }),
              HasSubstr("y_train.npy' hold 3 regression target column(s) but the test labels '" +
                        (dir_ / "y_test.npy").string() + "' hold 2 regression target column(s)"));
  write_npy((dir_ / "y_test.npy").string(), {2}, classes.data());
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("y_test.npy' hold class labels"));
}

TEST_F(DataSourceFiles, TooLargeValidationNamesTheSetting) {
  const std::vector<float> x = {1, 2};
  const std::vector<std::int32_t> y = {0, 1};
  write_npy((dir_ / "X_train.npy").string(), {2, 1}, x.data());
  write_npy((dir_ / "y_train.npy").string(), {2}, y.data());
  DataConfig config;
  config.source = "npy";
  config.path = dir_.string();  // default validation = 10000 rows
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("data.validation"));
  config.validation = 2;  // everything goes to validation: no training rows left
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("empty"));
}

// ---- The class count comes from the training labels, bounded; evaluation labels stay inside it (#12, #18).

TEST_F(DataSourceFiles, IdxTestLabelOutsideTheTrainingClassesNamesFileExampleAndValue) {
  write_idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12);  // labels 0..3: 4 classes
  write_idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 6);
  testing::write_bytes(dir_ / "t10k-labels-idx1-ubyte", testing::idx::labels_file({0, 1, 2, 3, 0, 7}));
  DataConfig config;
  config.source = "idx";
  config.path = dir_.string();
  config.validation = 2;
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr((dir_ / "t10k-labels-idx1-ubyte").string()));
  EXPECT_THAT(message, HasSubstr("label 7 of example 5"));
  EXPECT_THAT(message, HasSubstr("[0, 4)"));
}

// A test set of as many pixels in another shape went through the convolutions as if it were the training shape.
TEST_F(DataSourceFiles, TestImagesOfAnotherShapeAreRefused) {
  write_idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12);  // 2 x 2
  write_idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 6);
  testing::write_bytes(dir_ / "t10k-images-idx3-ubyte", testing::idx::images_file(6, 1, 4, Bytes(24, 7)));
  DataConfig config;
  config.source = "idx";
  config.path = dir_.string();
  config.validation = 2;
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr("holds images of 2x2x1 (height x width x channels) but the test set '" +
                                 (dir_ / "t10k-images-idx3-ubyte").string() + "' holds 1x4x1"));
}

// Labels of one class: cross-entropy reported 0% error and the square loss 100%, without a word.
TEST_F(DataSourceFiles, TrainingLabelsOfOneClassAreRefused) {
  write_idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12);
  write_idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 6);
  testing::write_bytes(dir_ / "train-labels-idx1-ubyte", testing::idx::labels_file(Bytes(12, 0)));
  testing::write_bytes(dir_ / "t10k-labels-idx1-ubyte", testing::idx::labels_file(Bytes(6, 0)));
  DataConfig config;
  config.source = "idx";
  config.path = dir_.string();
  config.validation = 2;
  EXPECT_THAT(error_of([&] { load_data(config); }),
              HasSubstr("give 1 class (every label is 0); expected at least 2 classes"));
  config.num_classes = 1;
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("give 1 class (data.num_classes = 1)"));
  config.num_classes = 2;  // a class missing from the labels, named by the count
  EXPECT_EQ(load_data(config).train.num_classes, 2);

  // Every label 3: one class too, not a 4-class set with three classes of no example.
  testing::write_bytes(dir_ / "train-labels-idx1-ubyte", testing::idx::labels_file(Bytes(12, 3)));
  testing::write_bytes(dir_ / "t10k-labels-idx1-ubyte", testing::idx::labels_file(Bytes(6, 3)));
  config.num_classes = 0;
  EXPECT_THAT(error_of([&] { load_data(config); }),
              HasSubstr("give 1 class (every label is 3); expected at least 2 classes"));
  config.num_classes = 5;  // said deliberately
  EXPECT_EQ(load_data(config).train.num_classes, 5);
}

TEST_F(DataSourceFiles, IdxImagesHeaderClaiming2To28ImagesFailsBeforeTheSplit) {
  // Once this took 20 s and 4.4 GB (a validation split of 2^28 rows) before the count mismatch was seen.
  write_idx_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 12);
  write_idx_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 6);
  testing::write_bytes(dir_ / "train-images-idx3-ubyte",
                       testing::idx::images_file(std::uint32_t{1} << 28, 28, 28, Bytes(300000)));
  DataConfig config;
  config.source = "idx";
  config.path = dir_.string();
  config.validation = 2;
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr((dir_ / "train-images-idx3-ubyte").string()));
  EXPECT_THAT(message, HasSubstr("claims 268435456 images of 28 x 28 pixels"));
}

class NpySource : public DataSourceFiles {
 protected:
  // Training rows x = {r}, labels `train`; test rows likewise with `test` (none when empty).
  DataConfig write(const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& test) const {
    const auto put = [&](const std::string& x_name, const std::string& y_name, const std::vector<std::int64_t>& y) {
      std::vector<float> x(y.size());
      for (std::size_t r = 0; r < x.size(); ++r) x[r] = static_cast<float>(r);
      write_npy((dir_ / x_name).string(), {static_cast<Index>(x.size()), 1}, x.data());
      write_npy((dir_ / y_name).string(), {static_cast<Index>(y.size())}, y.data());
    };
    put("X_train.npy", "y_train.npy", train);
    if (!test.empty()) put("X_test.npy", "y_test.npy", test);
    DataConfig config;
    config.source = "npy";
    config.path = dir_.string();
    config.validation = 1;
    config.preprocess = "none";
    return config;
  }
};

TEST_F(NpySource, TestLabelsDoNotEnlargeTheModel) {
  // Before #12 the class count was the largest label of train and test together: 100000 here.
  const DataConfig config = write({0, 1, 1, 0}, {0, 1, 99999});
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr((dir_ / "y_test.npy").string()));
  EXPECT_THAT(message, HasSubstr("test labels"));
  EXPECT_THAT(message, HasSubstr("label 99999 of example 2"));
  EXPECT_THAT(message, HasSubstr("[0, 2)"));
}

TEST_F(NpySource, EverySplitHasTheTrainingClassCount) {
  const DataSplits splits = load_data(write({0, 1, 2, 0, 1}, {0, 1}));
  EXPECT_EQ(splits.train.num_classes, 3);
  EXPECT_EQ(splits.validation.num_classes, 3);
  EXPECT_EQ(splits.test.num_classes, 3);
}

TEST_F(NpySource, NumClassesOptionSetsTheCountAndBoundsEveryLabel) {
  DataConfig config = write({0, 1, 1, 0}, {0, 2});
  config.num_classes = 5;
  const DataSplits splits = load_data(config);
  EXPECT_EQ(splits.train.num_classes, 5);
  EXPECT_EQ(splits.test.num_classes, 5);
  // Below the largest training label: the training file is named with the example and the value.
  config = write({0, 1, 3, 0}, {});
  config.num_classes = 3;
  std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr((dir_ / "y_train.npy").string()));
  EXPECT_THAT(message, HasSubstr("label 3 of example 2"));
  EXPECT_THAT(message, HasSubstr("[0, 3)"));
  // Out of range, and meaningless for generated problems.
  config.num_classes = 100001;
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("data.num_classes = 100001"));
  DataConfig generated;
  generated.source = "two-point";
  generated.num_classes = 2;
  EXPECT_THAT(error_of([&] { load_data(generated); }),
              AllOf(HasSubstr("data.num_classes = 2"), HasSubstr("two-point")));
}

// A test (or training) file with no examples is refused naming it, as an IDX file of 0 images is: an empty test set
// would report a test error over nothing.
TEST_F(NpySource, AFileWithoutExamplesIsRefusedNamingIt) {
  const DataConfig config = write({0, 1, 1, 0}, {});
  const std::vector<float> none;
  const std::vector<std::int64_t> no_labels;
  write_npy((dir_ / "X_test.npy").string(), {0, 1}, none.data());
  write_npy((dir_ / "y_test.npy").string(), {0}, no_labels.data());
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr((dir_ / "X_test.npy").string()));
  EXPECT_THAT(message, HasSubstr("holds no examples"));
}

TEST_F(NpySource, HugeTrainingLabelIsAnErrorNotAGiantOutputLayer) {
  const DataConfig config = write({0, 1, 2147483646, 0}, {});
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr((dir_ / "y_train.npy").string()));
  EXPECT_THAT(message, HasSubstr("label 2147483646 of example 2"));
}

TEST(DataSource, SyntheticSourcesAtThePapersScale) {
  DataConfig config;  // default validation (10000) and preprocess (scale01) must not touch synthetic sets
  config.source = "two-point";
  const DataSplits two_point = load_data(config);
  EXPECT_EQ(two_point.train.rows, 2);
  EXPECT_EQ(two_point.validation.rows, 0);
  EXPECT_FLOAT_EQ(two_point.train.features[0], static_cast<float>(1.0 / std::sqrt(2.0)));

  config.source = "student-teacher";
  const DataSplits student = load_data(config);
  EXPECT_EQ(student.train.rows, config.synthetic_examples);
  EXPECT_EQ(student.train.cols, config.synthetic_dim);
  EXPECT_GT(student.test.rows, 0);

  config.source = "linear-chain";
  EXPECT_EQ(load_data(config).train.targets, std::vector<float>{1.0f});

  config.source = "sinusoid";
  config.synthetic_examples = 10;
  EXPECT_EQ(load_data(config).train.rows, 10);

  config.source = "separable-2d";
  config.synthetic_examples = 40;
  config.preprocess = "unit-norm";
  const DataSplits separable = load_data(config);
  EXPECT_EQ(separable.train.rows, 40);
  for (Index i = 0; i < separable.train.rows; ++i) {
    EXPECT_NEAR(std::hypot(separable.train.row(i)[0], separable.train.row(i)[1]), 1.0, 1e-6);
  }
}

TEST(DataSource, UnknownSourceListsTheValidOnes) {
  DataConfig config;
  config.source = "cifar-100";
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr("data.source"));
  EXPECT_THAT(message, HasSubstr("cifar-100"));
  for (const char* source : {"fashion-mnist", "idx", "npy", "linear-chain", "two-point", "separable-2d",
                             "student-teacher", "sinusoid"}) {
    EXPECT_THAT(message, HasSubstr(source));
  }
}

// A generated problem whose options push its values beyond float32 (noise of sd 1/sqrt(1e-300)) is refused naming
// the source and its options, as a file with such values is (the run stopped as "diverged" at step 1).
TEST(DataSource, AGeneratedProblemWithNonFiniteValuesNamesItsOptions) {
  DataConfig config;
  config.source = "student-teacher";
  config.synthetic_snr = 1e-300;
  EXPECT_THAT(error_of([&] { load_data(config); }),
              AllOf(HasSubstr("data.source = \"student-teacher\" generated a non-finite target"),
                    HasSubstr("data.synthetic_snr = 1e-300")));
  config.synthetic_snr = 1.0;
  EXPECT_NO_THROW(load_data(config));
}

TEST(DataSource, BadSettingsFailBeforeLoading) {
  DataConfig config;
  config.source = "two-point";
  config.preprocess = "zca";
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("data.preprocess"));
  config.preprocess = "none";
  config.train_limit = -1;
  EXPECT_THAT(error_of([&] { load_data(config); }), HasSubstr("data.train_limit"));
}

TEST(DataSource, MissingFashionMnistFolderSaysHowToInstall) {
  DataConfig config;
  config.path = "/nonexistent/fashion-mnist";
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr("/nonexistent/fashion-mnist"));
  EXPECT_THAT(message, HasSubstr("dataset-fashion-mnist"));
  EXPECT_THAT(message, HasSubstr("launch/setup.sh"));
}

TEST(DataSource, FashionMnistAsInThePaper) {
  if (!fs::is_directory(NORMSCALE_FASHION_MNIST_DIR)) {
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << NORMSCALE_FASHION_MNIST_DIR
                 << " (Debian package dataset-fashion-mnist, or launch/setup.sh)";
  }
  const DataSplits splits = load_data(DataConfig{});
  EXPECT_EQ(splits.train.rows, 50000);
  EXPECT_EQ(splits.validation.rows, 10000);
  EXPECT_EQ(splits.test.rows, 10000);
  for (const Dataset* part : {&splits.train, &splits.validation, &splits.test}) {
    EXPECT_EQ(part->cols, 784);
    EXPECT_EQ(part->num_classes, 10);
    EXPECT_EQ(part->image.height, 28);
    EXPECT_EQ(part->image.width, 28);
    const auto [low, high] = std::minmax_element(part->features.begin(), part->features.end());
    EXPECT_GE(*low, 0.0f);
    EXPECT_LE(*high, 1.0f);
  }
  // Fashion-MNIST has 6000 training and 1000 test images per class; the split only moves them around.
  std::vector<int> train_counts(10, 0), test_counts(10, 0);
  for (const Dataset* part : {&splits.train, &splits.validation}) {
    for (const std::int32_t label : part->labels) ++train_counts[static_cast<std::size_t>(label)];
  }
  for (const std::int32_t label : splits.test.labels) ++test_counts[static_cast<std::size_t>(label)];
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
}

}  // namespace
}  // namespace normscale
