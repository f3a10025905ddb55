// Sharded loading: every part of 1, 2 and 4 reads only its virtual shards, and the parts put together are the
// unsharded splits row for row, with global classes, shapes and preprocessing statistics.
#include "normscale/core/error.hpp"
#include "normscale/data/cifar_reader.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/data/idx_reader.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/data/preprocess.hpp"
#include "normscale/data/split.hpp"
#include "normscale/train/sampler.hpp"
#include "support/data_files.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Bytes;
using testing::error_of;

constexpr Index kVirtualShards = 8;
// Odd sizes, so that shards and parts differ in size and rounding matters.
constexpr Index kTrainFileRows = 103;
constexpr Index kTestFileRows = 29;
constexpr Index kValidation = 17;
constexpr Index kImageHeight = 3;
constexpr Index kImageWidth = 4;

// Pixel k of image i: the first pixel is the image number, so every row can be recognised; the rest vary.
std::uint8_t pixel(Index i, Index k) {
  return static_cast<std::uint8_t>(k == 0 ? i : (i * 31 + k * 17 + i * k * 7) % 256);
}

// Label of training image i: 0..5, except image 1, the only 9, so that only the part holding it (if any) could
// see 10 classes by itself.
std::uint8_t train_label(Index i) { return static_cast<std::uint8_t>(i == 1 ? 9 : (i * 5) % 6); }

Bytes images_file(Index count, Index first_pixel_offset) {
  Bytes pixels;
  for (Index i = 0; i < count; ++i) {
    for (Index k = 0; k < kImageHeight * kImageWidth; ++k) pixels.push_back(pixel(i + first_pixel_offset, k));
  }
  return testing::idx::images_file(static_cast<std::uint32_t>(count), static_cast<std::uint32_t>(kImageHeight),
                                   static_cast<std::uint32_t>(kImageWidth), pixels);
}

using testing::idx::labels_file;

enum class Format { kIdxRaw, kIdxGzip, kNpy, kCifar };

std::string format_name(Format format) {
  switch (format) {
    case Format::kIdxRaw:
      return "IdxRaw";
    case Format::kIdxGzip:
      return "IdxGzip";
    case Format::kCifar:
      return "Cifar";
    default:
      return "Npy";
  }
}

// A fresh folder per test with the four files of one format, removed afterwards.
class ShardFiles {
 public:
  ShardFiles(const std::string& test_name, Format format) : temp_("normscale_shard_", test_name), format_(format) {
    if (format == Format::kNpy) {
      write_npy_files();
    } else if (format == Format::kCifar) {
      write_cifar_files();
    } else {
      write_idx_files(format == Format::kIdxGzip);
    }
  }
  ShardFiles(const ShardFiles&) = delete;
  ShardFiles& operator=(const ShardFiles&) = delete;

  DataConfig config() const {
    DataConfig config;
    config.source = format_ == Format::kNpy ? "npy" : format_ == Format::kCifar ? "cifar10" : "idx";
    config.path = dir().string();
    config.validation = kValidation;
    config.split_seed = 77;
    config.preprocess = "none";
    // The npy test labels reach class 7, which the training labels lack: the class count comes from the training
    // labels alone (#12), so these files need it stated.
    if (format_ == Format::kNpy) config.num_classes = 8;
    return config;
  }
  const fs::path& dir() const { return temp_.path(); }
  // The classes every part must report: IDX from the largest training label, npy from data.num_classes.
  Index classes() const { return format_ == Format::kNpy ? 8 : 10; }
  ImageShape image() const {
    return format_ == Format::kCifar ? kCifarImageShape : ImageShape{kImageHeight, kImageWidth, 1};
  }

 private:
  void write(const std::string& name, const Bytes& bytes, bool gzip) const {
    if (gzip) {
      testing::write_gzip(dir() / (name + ".gz"), bytes);
    } else {
      testing::write_bytes(dir() / name, bytes);
    }
  }

  void write_idx_files(bool gzip) const {
    Bytes train_labels, test_labels;
    for (Index i = 0; i < kTrainFileRows; ++i) train_labels.push_back(train_label(i));
    for (Index i = 0; i < kTestFileRows; ++i) test_labels.push_back(static_cast<std::uint8_t>(i % 10));
    write("train-images-idx3-ubyte", images_file(kTrainFileRows, 0), gzip);
    write("train-labels-idx1-ubyte", labels_file(train_labels), gzip);
    write("t10k-images-idx3-ubyte", images_file(kTestFileRows, 1000), gzip);
    write("t10k-labels-idx1-ubyte", labels_file(test_labels), gzip);
  }

  // The training rows spread over the five batches in uneven files (a run of rows crosses file boundaries),
  // the pixels of record i are pixel(i, k) as for IDX, labels as for IDX.
  void write_cifar_files() const {
    const auto records = [](Index first, Index count, Index offset, const std::function<std::uint8_t(Index)>& label) {
      return testing::cifar::records(first, count, label, [offset](Index i, Index k) { return pixel(i + offset, k); });
    };
    const Index sizes[5] = {21, 20, 25, 17, 20};  // kTrainFileRows in all
    Index first = 0;
    for (int batch = 0; batch < 5; ++batch) {
      write("data_batch_" + std::to_string(batch + 1) + ".bin", records(first, sizes[batch], 0, train_label), false);
      first += sizes[batch];
    }
    ASSERT_EQ(first, kTrainFileRows);
    write("test_batch.bin", records(0, kTestFileRows, 1000, [](Index i) { return static_cast<std::uint8_t>(i % 10); }),
          false);
  }

  // Float features of N x 3 x 4 images (non-integer values, so summation order shows in the statistics);
  // training labels 0..5, test labels up to 7: with data.num_classes = 8 every split must count 8 classes.
  void write_npy_files() const {
    const auto features = [](Index rows, Index offset) {
      std::vector<float> x;
      for (Index i = 0; i < rows; ++i) {
        for (Index k = 0; k < kImageHeight * kImageWidth; ++k) {
          x.push_back(k == 0 ? static_cast<float>(i + offset)
                             : static_cast<float>(std::sin(0.37 * static_cast<double>((i + offset) * 13 + k)) *
                                                  (1.0 + 0.1 * static_cast<double>(k)) + 0.25 * k));
        }
      }
      return x;
    };
    std::vector<std::int64_t> train_y, test_y;
    for (Index i = 0; i < kTrainFileRows; ++i) train_y.push_back((i * 5) % 6);
    for (Index i = 0; i < kTestFileRows; ++i) test_y.push_back(i % 8);
    const std::vector<float> train_x = features(kTrainFileRows, 0);
    const std::vector<float> test_x = features(kTestFileRows, 1000);
    write_npy((dir() / "X_train.npy").string(), {kTrainFileRows, kImageHeight, kImageWidth}, train_x.data());
    write_npy((dir() / "y_train.npy").string(), {kTrainFileRows}, train_y.data());
    write_npy((dir() / "X_test.npy").string(), {kTestFileRows, kImageHeight, kImageWidth}, test_x.data());
    write_npy((dir() / "y_test.npy").string(), {kTestFileRows}, test_y.data());
  }

  testing::TempDir temp_;
  Format format_;
};

// The rows a part must hold of a split of `total` rows, from train/sampler's virtual_shard (not DataShard's
// own arithmetic).
ShardRange expected_rows(Index total, Index part, Index parts) {
  const Index per_part = kVirtualShards / parts;
  return {virtual_shard(total, kVirtualShards, part * per_part).begin,
          virtual_shard(total, kVirtualShards, (part + 1) * per_part - 1).end};
}

// One part of one split against the whole split: position, global facts, and the rows themselves.
void expect_part_of(const Dataset& part, const Dataset& whole, Index index, Index parts, const char* split) {
  SCOPED_TRACE(std::string(split) + " part " + std::to_string(index) + " of " + std::to_string(parts));
  const ShardRange range = expected_rows(whole.rows, index, parts);
  ASSERT_EQ(part.rows, range.size());
  EXPECT_EQ(part.first_id, range.begin);
  EXPECT_EQ(part.total_rows, whole.rows);
  EXPECT_EQ(part.cols, whole.cols);
  EXPECT_EQ(part.num_classes, whole.num_classes);
  EXPECT_EQ(part.image.height, whole.image.height);
  EXPECT_EQ(part.image.width, whole.image.width);
  EXPECT_EQ(part.image.channels, whole.image.channels);
  EXPECT_EQ(part.is_classification(), whole.is_classification());
  // Resident rows: what the part holds in memory is its shards' rows and nothing more.
  EXPECT_EQ(part.features.size(), static_cast<std::size_t>(range.size() * whole.cols));
  EXPECT_EQ(part.labels.size(), static_cast<std::size_t>(range.size()));
  for (Index r = 0; r < part.rows; ++r) {
    for (Index j = 0; j < whole.cols; ++j) {
      ASSERT_EQ(part.row(r)[j], whole.row(range.begin + r)[j]) << "row " << r << " feature " << j;
    }
    ASSERT_EQ(part.labels[static_cast<std::size_t>(r)], whole.labels[static_cast<std::size_t>(range.begin + r)]);
  }
}

// The parts put together, in order, are the whole split.
void expect_concatenation(const std::vector<DataSplits>& parts, Dataset DataSplits::*split, const Dataset& whole) {
  std::vector<float> features;
  std::vector<std::int32_t> labels;
  Index next_id = 0;
  for (const DataSplits& part : parts) {
    const Dataset& piece = part.*split;
    EXPECT_EQ(piece.first_id, next_id);
    next_id += piece.rows;
    features.insert(features.end(), piece.features.begin(), piece.features.end());
    labels.insert(labels.end(), piece.labels.begin(), piece.labels.end());
  }
  EXPECT_EQ(next_id, whole.rows);
  EXPECT_EQ(features, whole.features);
  EXPECT_EQ(labels, whole.labels);
}

std::vector<DataSplits> load_parts(const DataConfig& config, Index parts) {
  std::vector<DataSplits> out;
  for (Index p = 0; p < parts; ++p) out.push_back(load_data(config, DataShard{p, parts, kVirtualShards}));
  return out;
}

// (file format, parts, with limits)
class ShardedLoading : public ::testing::TestWithParam<std::tuple<Format, Index, bool>> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    files_ = std::make_unique<ShardFiles>(name, std::get<0>(GetParam()));
    config_ = files_->config();
    if (std::get<2>(GetParam())) {
      config_.train_limit = 70;
      config_.test_limit = 23;
    }
  }
  Index parts() const { return std::get<1>(GetParam()); }

  std::unique_ptr<ShardFiles> files_;
  DataConfig config_;
};

TEST_P(ShardedLoading, PartsPutTogetherAreTheUnshardedSplits) {
  const DataSplits whole = load_data(config_, DataShard{});
  const Index train_rows = std::get<2>(GetParam()) ? 70 : kTrainFileRows - kValidation;
  ASSERT_EQ(whole.train.rows, train_rows);
  ASSERT_EQ(whole.validation.rows, kValidation);
  ASSERT_EQ(whole.test.rows, std::get<2>(GetParam()) ? 23 : kTestFileRows);
  EXPECT_EQ(whole.train.total_rows, whole.train.rows);
  EXPECT_EQ(whole.train.num_classes, files_->classes());
  EXPECT_EQ(whole.train.image.height, files_->image().height);
  EXPECT_EQ(whole.train.image.width, files_->image().width);
  EXPECT_EQ(whole.train.image.channels, files_->image().channels);

  // The unsharded raw set is the file's rows without the validation rows, in file order.
  const ValidationRows split = split_validation_rows(kTrainFileRows, kValidation, config_.split_seed, "train");
  for (Index r = 0; r < whole.train.rows; ++r) {
    ASSERT_EQ(whole.train.row(r)[0], static_cast<float>(split.train[static_cast<std::size_t>(r)]));
  }
  for (Index r = 0; r < whole.validation.rows; ++r) {
    ASSERT_EQ(whole.validation.row(r)[0], static_cast<float>(split.validation[static_cast<std::size_t>(r)]));
  }

  const std::vector<DataSplits> parts = load_parts(config_, this->parts());
  for (Index p = 0; p < this->parts(); ++p) {
    const DataSplits& part = parts[static_cast<std::size_t>(p)];
    expect_part_of(part.train, whole.train, p, this->parts(), "train");
    expect_part_of(part.validation, whole.validation, p, this->parts(), "validation");
    expect_part_of(part.test, whole.test, p, this->parts(), "test");
    for (const Dataset* piece : {&part.train, &part.validation, &part.test}) {
      EXPECT_EQ(piece->num_classes, files_->classes()) << piece->name;
    }
    // N / parts up to the rounding of the shard boundaries.
    EXPECT_LE(std::abs(part.train.rows * this->parts() - whole.train.rows), this->parts());
  }
  expect_concatenation(parts, &DataSplits::train, whole.train);
  expect_concatenation(parts, &DataSplits::validation, whole.validation);
  expect_concatenation(parts, &DataSplits::test, whole.test);
}

TEST_P(ShardedLoading, CombinedStatisticsPreprocessLikeTheUnshardedLoad) {
  for (const char* mode : {"scale01", "standardize", "unit-norm", "none"}) {
    SCOPED_TRACE(mode);
    config_.preprocess = mode;
    const DataSplits whole = load_data(config_);  // the one-process path: loaded and preprocessed
    std::vector<DataSplits> parts = load_parts(config_, this->parts());

    // The allreduces, done by hand: sums of to_vector() and the maximum of max_abs; and the same by combine().
    std::vector<double> sums;
    double max_abs = 0;
    PreprocessStats combined;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      const PreprocessStats local = local_preprocess_stats(parts[p].train, mode);
      const std::vector<double> flat = local.to_vector();
      if (p == 0) {
        sums.assign(flat.size(), 0.0);
        combined = local;
      } else {
        combined.combine(local);
      }
      ASSERT_EQ(flat.size(), sums.size());
      for (std::size_t k = 0; k < flat.size(); ++k) sums[k] += flat[k];
      max_abs = std::max(max_abs, local.max_abs);
    }
    const PreprocessStats global = PreprocessStats::from_vector(sums, max_abs);
    EXPECT_EQ(global.count, static_cast<double>(whole.train.rows));
    EXPECT_EQ(combined.to_vector(), global.to_vector());
    EXPECT_EQ(combined.max_abs, global.max_abs);

    for (DataSplits& part : parts) finish_loading(part, config_, global);
    for (std::size_t p = 0; p < parts.size(); ++p) {
      const auto check = [&](const Dataset& piece, const Dataset& full, const char* split) {
        SCOPED_TRACE(std::string(split) + " part " + std::to_string(p));
        ASSERT_EQ(piece.total_rows, full.rows);
        for (Index r = 0; r < piece.rows; ++r) {
          for (Index j = 0; j < full.cols; ++j) {
            ASSERT_NEAR(piece.row(r)[j], full.row(piece.first_id + r)[j], 1e-6) << "row " << r << " feature " << j;
          }
        }
      };
      check(parts[p].train, whole.train, "train");
      check(parts[p].validation, whole.validation, "validation");
      check(parts[p].test, whole.test, "test");
    }
  }
}

// data.classes is taken before the validation split and the shards: the parts of a sharded subset put together
// are the unsharded subset, and that is the file's rows of the listed classes, relabelled by list position.
TEST_P(ShardedLoading, ClassSubsetPartsPutTogetherAreTheUnshardedSubset) {
  config_.classes = {4, 1, 3};
  const DataSplits whole = load_data(config_, DataShard{});
  EXPECT_EQ(whole.train.num_classes, 3);
  // The subset's file rows, numbered 0, 1, ... before the split; the split is the ordinary one of that many rows.
  std::vector<Index> kept;
  for (Index i = 0; i < kTrainFileRows; ++i) {
    const Index label = (i * 5) % 6;  // train_label and the npy labels agree on these classes
    if (i != 1 && (label == 4 || label == 1 || label == 3)) kept.push_back(i);
  }
  const ValidationRows split =
      split_validation_rows(static_cast<Index>(kept.size()), kValidation, config_.split_seed, "train");
  const Index train_rows = std::get<2>(GetParam()) ? 70 : static_cast<Index>(split.train.size());
  ASSERT_EQ(whole.train.rows, std::min<Index>(train_rows, static_cast<Index>(split.train.size())));
  ASSERT_EQ(whole.validation.rows, kValidation);
  const auto new_label = [](Index file_row) { return file_row * 5 % 6 == 4 ? 0 : file_row * 5 % 6 == 1 ? 1 : 2; };
  for (Index r = 0; r < whole.train.rows; ++r) {
    const Index file_row = kept[static_cast<std::size_t>(split.train[static_cast<std::size_t>(r)])];
    ASSERT_EQ(whole.train.row(r)[0], static_cast<float>(file_row));
    ASSERT_EQ(whole.train.labels[static_cast<std::size_t>(r)], new_label(file_row));
  }
  for (Index r = 0; r < whole.validation.rows; ++r) {
    const Index file_row = kept[static_cast<std::size_t>(split.validation[static_cast<std::size_t>(r)])];
    ASSERT_EQ(whole.validation.row(r)[0], static_cast<float>(file_row));
  }
  for (const std::int32_t label : whole.test.labels) {
    EXPECT_GE(label, 0);
    EXPECT_LT(label, 3);
  }
  EXPECT_GT(whole.test.rows, 0);

  const std::vector<DataSplits> parts = load_parts(config_, this->parts());
  for (Index p = 0; p < this->parts(); ++p) {
    const DataSplits& part = parts[static_cast<std::size_t>(p)];
    expect_part_of(part.train, whole.train, p, this->parts(), "train");
    expect_part_of(part.validation, whole.validation, p, this->parts(), "validation");
    expect_part_of(part.test, whole.test, p, this->parts(), "test");
  }
  expect_concatenation(parts, &DataSplits::train, whole.train);
  expect_concatenation(parts, &DataSplits::validation, whole.validation);
  expect_concatenation(parts, &DataSplits::test, whole.test);
}

INSTANTIATE_TEST_SUITE_P(FormatsAndParts, ShardedLoading,
                         ::testing::Combine(::testing::Values(Format::kIdxRaw, Format::kIdxGzip, Format::kNpy,
                                                              Format::kCifar),
                                            ::testing::Values(Index{1}, Index{2}, Index{4}), ::testing::Bool()),
                         [](const auto& param_info) {
                           return format_name(std::get<0>(param_info.param)) + "_parts" +
                                  std::to_string(std::get<1>(param_info.param)) +
                                  (std::get<2>(param_info.param) ? "_limited" : "_all");
                         });

TEST(DataShard, RowsOfIsTheSpanOfTheOwnedVirtualShards) {
  for (const Index total : {0, 1, 7, 8, 50000, 60001}) {
    for (const Index shards : {8, 64}) {
      for (const Index parts : {1, 2, 4, 8}) {
        Index next = 0;
        for (Index part = 0; part < parts; ++part) {
          const DataShard shard{part, parts, shards};
          EXPECT_NO_THROW(check_data_shard(shard));
          EXPECT_EQ(shard.last_shard() - shard.first_shard(), shards / parts);
          const ShardRange rows = shard.rows_of(total);
          EXPECT_EQ(rows.begin, virtual_shard(total, shards, shard.first_shard()).begin);
          EXPECT_EQ(rows.end, virtual_shard(total, shards, shard.last_shard() - 1).end);
          EXPECT_EQ(rows.begin, next);
          next = rows.end;
        }
        EXPECT_EQ(next, total);
      }
    }
  }
  const DataShard everything;
  EXPECT_TRUE(everything.everything());
  EXPECT_EQ(everything.rows_of(103).begin, 0);
  EXPECT_EQ(everything.rows_of(103).end, 103);
}

TEST(DataShard, BadShardsAreErrors) {
  EXPECT_THAT(error_of([] { check_data_shard(DataShard{0, 3, 8}); }),
              HasSubstr("3 ranks cannot share virtual_shards = 8"));
  EXPECT_THAT(error_of([] { check_data_shard(DataShard{0, 3, 8}); }), HasSubstr("Valid rank counts: 1, 2, 4, 8"));
  // More ranks than virtual shards.
  EXPECT_THAT(error_of([] { check_data_shard(DataShard{0, 128, 64}); }), HasSubstr("Valid rank counts: 1, 2, 4"));
  EXPECT_THAT(error_of([] { check_data_shard(DataShard{4, 4, 8}); }), HasSubstr("part 4 of 4"));
  EXPECT_THAT(error_of([] { check_data_shard(DataShard{-1, 4, 8}); }), HasSubstr("part -1"));
  EXPECT_THAT(error_of([] { check_data_shard(DataShard{0, 0, 8}); }), HasSubstr("parts >= 1"));
  DataConfig config;
  config.source = "two-point";
  EXPECT_THAT(error_of([&] { load_data(config, DataShard{0, 2, 3}); }), HasSubstr("virtual_shards = 3"));
}

TEST(DataShard, UnshardedLoadIsRawAndOneProcessLoadIsPreprocessed) {
  const ShardFiles files("raw_vs_preprocessed", Format::kIdxRaw);
  DataConfig config = files.config();
  config.preprocess = "scale01";
  const DataSplits raw = load_data(config, DataShard{});
  const DataSplits scaled = load_data(config);
  ASSERT_EQ(raw.train.rows, scaled.train.rows);
  float largest = 0;
  for (const float v : raw.train.features) largest = std::max(largest, v);
  EXPECT_GT(largest, 1.0f);  // raw bytes, not yet scaled
  for (std::size_t k = 0; k < raw.train.features.size(); ++k) {
    ASSERT_FLOAT_EQ(scaled.train.features[k], raw.train.features[k] / largest);
  }
}

TEST(DataShard, EveryPartSeesATruncatedFile) {
  const ShardFiles files("truncated", Format::kIdxRaw);
  const fs::path images = files.dir() / "train-images-idx3-ubyte";
  fs::resize_file(images, fs::file_size(images) - 5);  // the last image loses 5 pixels
  for (Index part = 0; part < 4; ++part) {
    const std::string message =
        error_of([&] { load_data(files.config(), DataShard{part, 4, kVirtualShards}); });
    EXPECT_THAT(message, HasSubstr("truncated"));
    EXPECT_THAT(message, HasSubstr(images.string()));
    EXPECT_THAT(message, HasSubstr(fmt::format("expected {} bytes", kTrainFileRows * kImageHeight * kImageWidth)));
  }
}

TEST(DataShard, TooLargeValidationFailsOnEveryPart) {
  const ShardFiles files("validation", Format::kNpy);
  DataConfig config = files.config();
  config.validation = kTrainFileRows;
  for (Index part = 0; part < 2; ++part) {
    EXPECT_THAT(error_of([&] { load_data(config, DataShard{part, 2, kVirtualShards}); }), HasSubstr("empty"));
  }
}

TEST(DataShard, SyntheticSetsAreGeneratedWholeAndSliced) {
  DataConfig config;
  config.source = "separable-2d";
  config.synthetic_examples = 45;
  config.preprocess = "unit-norm";
  const DataSplits whole = load_data(config, DataShard{});
  std::vector<DataSplits> parts;
  for (Index p = 0; p < 4; ++p) {
    parts.push_back(load_data(config, DataShard{p, 4, kVirtualShards}));
    expect_part_of(parts.back().train, whole.train, p, 4, "train");
    expect_part_of(parts.back().test, whole.test, p, 4, "test");
    EXPECT_EQ(parts.back().validation.rows, 0);
    EXPECT_EQ(parts.back().validation.total_rows, 0);
  }
  expect_concatenation(parts, &DataSplits::train, whole.train);
  expect_concatenation(parts, &DataSplits::test, whole.test);
}

TEST(DataShard, FashionMnistInFourParts) {
  if (!fs::is_directory(NORMSCALE_FASHION_MNIST_DIR)) {
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << NORMSCALE_FASHION_MNIST_DIR
                 << " (Debian package dataset-fashion-mnist, or launch/setup.sh)";
  }
  DataConfig config;  // the paper's setup: 50000 train, 10000 validation, 10000 test
  const DataSplits whole = load_data(config, DataShard{});
  ASSERT_EQ(whole.train.rows, 50000);
  const Index cols = whole.train.cols;
  const auto expect_row = [cols](const Dataset& part, Index r, const Dataset& full, Index id) {
    for (Index j = 0; j < cols; ++j) ASSERT_EQ(part.row(r)[j], full.row(id)[j]) << "feature " << j;
    EXPECT_EQ(part.labels[static_cast<std::size_t>(r)], full.labels[static_cast<std::size_t>(id)]);
  };
  for (Index p = 0; p < 4; ++p) {
    SCOPED_TRACE("part " + std::to_string(p));
    const DataSplits part = load_data(config, DataShard{p, 4, 64});
    ASSERT_EQ(part.train.rows, 12500);
    EXPECT_EQ(part.train.first_id, 12500 * p);
    EXPECT_EQ(part.train.total_rows, 50000);
    EXPECT_EQ(part.train.features.size(), static_cast<std::size_t>(12500 * 784));
    ASSERT_EQ(part.validation.rows, 2500);
    ASSERT_EQ(part.test.rows, 2500);
    for (const Dataset* piece : {&part.train, &part.validation, &part.test}) {
      EXPECT_EQ(piece->cols, 784);
      EXPECT_EQ(piece->num_classes, 10);
      EXPECT_EQ(piece->image.height, 28);
      EXPECT_EQ(piece->image.width, 28);
    }
    expect_row(part.train, 0, whole.train, 12500 * p);
    expect_row(part.train, 12499, whole.train, 12500 * p + 12499);
    expect_row(part.validation, 0, whole.validation, 2500 * p);
    expect_row(part.validation, 2499, whole.validation, 2500 * p + 2499);
    expect_row(part.test, 0, whole.test, 2500 * p);
    expect_row(part.test, 2499, whole.test, 2500 * p + 2499);
  }
}

}  // namespace
}  // namespace normscale
