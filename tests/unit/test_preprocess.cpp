// Preprocessing modes on tiny hand-made splits, with the expected values worked out by hand.
#include "normscale/core/error.hpp"
#include "normscale/data/preprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace normscale {
namespace {

using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

Dataset make_set(const std::string& name, Index cols, std::vector<float> features) {
  Dataset data;
  data.name = name;
  data.cols = cols;
  data.rows = static_cast<Index>(features.size()) / cols;
  data.features = std::move(features);
  return data;
}

DataSplits make_splits(Index cols, std::vector<float> train, std::vector<float> validation,
                       std::vector<float> test) {
  DataSplits splits;
  splits.train = make_set("train", cols, std::move(train));
  splits.validation = make_set("validation", cols, std::move(validation));
  splits.test = make_set("test", cols, std::move(test));
  return splits;
}

TEST(Preprocess, NoneLeavesFeatures) {
  DataSplits splits = make_splits(2, {1, 200, -3, 4}, {5, 6}, {7, 8});
  preprocess(splits, "none");
  EXPECT_EQ(splits.train.features, (std::vector<float>{1, 200, -3, 4}));
  EXPECT_EQ(splits.validation.features, (std::vector<float>{5, 6}));
  EXPECT_EQ(splits.test.features, (std::vector<float>{7, 8}));
}

TEST(Preprocess, Scale01DividesEverySplitByTheTrainingMaximum) {
  DataSplits splits = make_splits(3, {0, 51, 255, 102, 0, 25.5f}, {255, 0, 127.5f}, {510, 51, 0});
  preprocess(splits, "scale01");
  EXPECT_THAT(splits.train.features, Pointwise(FloatNear(1e-7f), std::vector<float>{0, 0.2f, 1, 0.4f, 0, 0.1f}));
  EXPECT_THAT(splits.validation.features, Pointwise(FloatNear(1e-7f), std::vector<float>{1, 0, 0.5f}));
  // The test set is scaled by the training maximum, not its own.
  EXPECT_THAT(splits.test.features, Pointwise(FloatNear(1e-7f), std::vector<float>{2, 0.2f, 0}));
}

TEST(Preprocess, Scale01UsesTheLargestAbsoluteValue) {
  DataSplits splits = make_splits(2, {-4, 2}, {}, {1, -1});
  preprocess(splits, "scale01");
  EXPECT_EQ(splits.train.features, (std::vector<float>{-1, 0.5f}));
  EXPECT_EQ(splits.test.features, (std::vector<float>{0.25f, -0.25f}));
}

TEST(Preprocess, UnitNormScalesEachRowAndKeepsZeroRows) {
  DataSplits splits = make_splits(2, {3, 4, 0, 0, -5, 12}, {0, 2}, {1, 1});
  preprocess(splits, "unit-norm");
  EXPECT_THAT(splits.train.features,
              Pointwise(FloatNear(1e-7f), std::vector<float>{0.6f, 0.8f, 0, 0, -5.0f / 13, 12.0f / 13}));
  EXPECT_THAT(splits.validation.features, Pointwise(FloatNear(1e-7f), std::vector<float>{0, 1}));
  const auto half_root2 = static_cast<float>(std::sqrt(0.5));
  EXPECT_THAT(splits.test.features, Pointwise(FloatNear(1e-7f), std::vector<float>{half_root2, half_root2}));
}

TEST(Preprocess, StandardizeUsesTrainingStatistics) {
  // Column 0 of train: {1, 3} -> mean 2, (population) sd 1. Column 1: {5, 5} -> constant, only centred.
  DataSplits splits = make_splits(2, {1, 5, 3, 5}, {0, 6}, {2, 7});
  preprocess(splits, "standardize");
  EXPECT_THAT(splits.train.features, Pointwise(FloatNear(1e-6f), std::vector<float>{-1, 0, 1, 0}));
  EXPECT_THAT(splits.validation.features, Pointwise(FloatNear(1e-6f), std::vector<float>{-2, 1}));
  EXPECT_THAT(splits.test.features, Pointwise(FloatNear(1e-6f), std::vector<float>{0, 2}));
}

TEST(Preprocess, StandardizeMakesTrainingColumnsZeroMeanUnitVariance) {
  DataSplits splits = make_splits(2, {1, 10, 2, 20, 4, 40, 9, 90}, {}, {});
  preprocess(splits, "standardize");
  for (Index j = 0; j < 2; ++j) {
    double sum = 0, squares = 0;
    for (Index r = 0; r < 4; ++r) {
      sum += splits.train.row(r)[j];
      squares += splits.train.row(r)[j] * splits.train.row(r)[j];
    }
    EXPECT_NEAR(sum / 4, 0.0, 1e-6);
    EXPECT_NEAR(squares / 4, 1.0, 1e-5);
  }
}

TEST(Preprocess, StandardizeOnlyCentresAFeatureConstantUpToRounding) {
  // 0.1f is not a binary fraction, so sums of it round; the feature must still count as constant.
  std::vector<float> train;
  for (int r = 0; r < 1000; ++r) {
    train.push_back(0.1f);
    train.push_back(static_cast<float>(r % 2));
  }
  DataSplits splits = make_splits(2, train, {}, {0.1f, 0.5f});
  preprocess(splits, "standardize");
  for (Index r = 0; r < splits.train.rows; ++r) {
    EXPECT_NEAR(splits.train.row(r)[0], 0.0f, 1e-6f);
    EXPECT_NEAR(std::abs(splits.train.row(r)[1]), 1.0f, 1e-6f);
  }
  EXPECT_NEAR(splits.test.row(0)[0], 0.0f, 1e-6f);
  EXPECT_NEAR(splits.test.row(0)[1], 0.0f, 1e-6f);
}

TEST(PreprocessStats, SumsOfTheModeFlatAndBack) {
  const Dataset train = make_set("train", 2, {1, -5, 3, 2});
  const PreprocessStats standardize = local_preprocess_stats(train, "standardize");
  EXPECT_EQ(standardize.to_vector(), (std::vector<double>{2, 4, -3, 10, 29}));
  const PreprocessStats back = PreprocessStats::from_vector(standardize.to_vector(), 7);
  EXPECT_EQ(back.count, 2);
  EXPECT_EQ(back.sum, (std::vector<double>{4, -3}));
  EXPECT_EQ(back.sum_squares, (std::vector<double>{10, 29}));
  EXPECT_EQ(back.max_abs, 7);

  const PreprocessStats scale = local_preprocess_stats(train, "scale01");
  EXPECT_EQ(scale.to_vector(), std::vector<double>{2});
  EXPECT_EQ(scale.max_abs, 5);
  EXPECT_EQ(local_preprocess_stats(train, "unit-norm").to_vector(), std::vector<double>{2});
  // A part with no rows still gives sums of the right length, so every part's vector has one size.
  EXPECT_EQ(local_preprocess_stats(make_set("none", 2, {}), "standardize").to_vector(),
            (std::vector<double>{0, 0, 0, 0, 0}));
  EXPECT_THROW(PreprocessStats::from_vector(std::vector<double>{1, 2}, 0), Error);
  EXPECT_THROW(local_preprocess_stats(train, "zca"), Error);
}

TEST(PreprocessStats, CombinedPartsPreprocessLikeTheWhole) {
  const std::vector<float> rows = {1, 10, 2, 20, 4, 40, 9, 90, -3, 7};
  for (const char* mode : {"scale01", "standardize"}) {
    SCOPED_TRACE(mode);
    DataSplits whole = make_splits(2, rows, {5, 5}, {1, -1});
    preprocess(whole, mode);
    // Two parts of the training set, rows 0-1 and 2-4; validation and test split between them too.
    DataSplits first = make_splits(2, {rows.begin(), rows.begin() + 4}, {5, 5}, {});
    DataSplits second = make_splits(2, {rows.begin() + 4, rows.end()}, {}, {1, -1});
    PreprocessStats global = local_preprocess_stats(first.train, mode);
    global.combine(local_preprocess_stats(second.train, mode));
    apply_preprocess(first, mode, global);
    apply_preprocess(second, mode, global);
    std::vector<float> train = first.train.features;
    train.insert(train.end(), second.train.features.begin(), second.train.features.end());
    EXPECT_THAT(train, Pointwise(FloatNear(1e-6f), whole.train.features));
    EXPECT_THAT(first.validation.features, Pointwise(FloatNear(1e-6f), whole.validation.features));
    EXPECT_THAT(second.test.features, Pointwise(FloatNear(1e-6f), whole.test.features));
  }
}

TEST(Preprocess, UnknownModeNamesTheSettingAndTheValidValues) {
  DataSplits splits = make_splits(1, {1}, {}, {});
  try {
    preprocess(splits, "whiten");
    FAIL() << "expected normscale::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("data.preprocess"));
    EXPECT_THAT(message, HasSubstr("whiten"));
    for (const char* mode : {"none", "scale01", "unit-norm", "standardize"}) EXPECT_THAT(message, HasSubstr(mode));
  }
  EXPECT_THROW(check_preprocess_mode("Scale01"), Error);
  EXPECT_NO_THROW(check_preprocess_mode("unit-norm"));
}

TEST(Preprocess, MismatchedColumnsAreAnError) {
  DataSplits splits = make_splits(2, {1, 2}, {}, {});
  splits.test = make_set("test", 3, {1, 2, 3});
  try {
    preprocess(splits, "scale01");
    FAIL() << "expected normscale::Error";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("'test' has 3 features"));
  }
}

}  // namespace
}  // namespace normscale
