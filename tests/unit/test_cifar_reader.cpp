// CIFAR-10 binary reader: small files written byte by byte in the real format, the planar layout, row
// selection across batch files, load_data's "cifar10" source, and one test per kind of bad input.
#include "normscale/core/error.hpp"
#include "normscale/data/cifar_reader.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/train/config_io.hpp"
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

// Byte k of the image of record `id` (k = channel * 1024 + y * 32 + x); byte 0 is the id, so records can be
// recognised, and the channel shows in the rest.
std::uint8_t pixel(Index id, Index k) {
  return static_cast<std::uint8_t>(k == 0 ? id : (id * 31 + k * 7 + (k / 1024) * 50) % 256);
}

// Records with the given labels; record j has id first_id + j.
Bytes records(const std::vector<int>& labels, Index first_id) {
  const auto label = [&](Index id) { return labels[static_cast<std::size_t>(id - first_id)]; };
  return testing::cifar::records(first_id, static_cast<Index>(labels.size()), label, pixel);
}

// A fresh folder per test, removed afterwards.
class CifarReaderTest : public testing::TempDirTest {
 protected:
  CifarReaderTest() : TempDirTest("normscale_cifar_") {}

  std::string write(const std::string& name, const Bytes& bytes) const {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    testing::write_bytes(path, bytes);
    return path.string();
  }

  // The six files of a data set in `sub` (batch b holds 3 + b records, ids 100 b + j; the test batch 4 records,
  // ids 200 + j); labels (id % 10).
  void write_data_set(const std::string& sub) const {
    for (int b = 1; b <= 5; ++b) {
      std::vector<int> labels;
      for (int j = 0; j < 3 + b; ++j) labels.push_back((10 * b + j) % 10);
      write(sub + "/data_batch_" + std::to_string(b) + ".bin", records(labels, 10 * b));
    }
    write(sub + "/test_batch.bin", records({0, 1, 2, 3}, 200));
  }

  DataConfig config(const std::string& path) const {
    DataConfig config;
    config.source = "cifar10";
    config.path = path;
    config.validation = 5;
    config.preprocess = "none";
    return config;
  }
};

TEST_F(CifarReaderTest, FeaturesAreThePlanarBytesAsFloatWithImageShape32x32x3) {
  // Record 0: red plane 10, green 20, blue 30, except pixel (y = 1, x = 2) = (200, 201, 202).
  Bytes bytes = {7};
  for (int channel = 0; channel < 3; ++channel) {
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) {
        bytes.push_back(static_cast<std::uint8_t>(y == 1 && x == 2 ? 200 + channel : 10 * (channel + 1)));
      }
    }
  }
  const Bytes more = records({0, 9}, 1);
  bytes.insert(bytes.end(), more.begin(), more.end());
  const std::string path = write("data_batch_1.bin", bytes);

  const Dataset data = load_cifar_dataset({path});
  EXPECT_EQ(data.name, path);
  ASSERT_EQ(data.rows, 3);
  EXPECT_EQ(data.cols, 3072);
  EXPECT_EQ(data.first_id, 0);
  EXPECT_EQ(data.total_rows, 3);
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_EQ(data.image.height, 32);
  EXPECT_EQ(data.image.width, 32);
  EXPECT_EQ(data.image.channels, 3);
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{7, 0, 9}));
  ASSERT_EQ(data.features.size(), std::size_t{3 * 3072});
  for (Index c = 0; c < 3; ++c) {
    EXPECT_EQ(data.row(0)[c * 1024 + 1 * 32 + 2], static_cast<float>(200 + c)) << "channel " << c;
    EXPECT_EQ(data.row(0)[c * 1024], static_cast<float>(10 * (c + 1))) << "channel " << c;
    EXPECT_EQ(data.row(0)[c * 1024 + 1023], static_cast<float>(10 * (c + 1))) << "channel " << c;
  }
  for (Index r = 1; r < 3; ++r) {
    for (Index k = 0; k < kCifarImageBytes; ++k) {
      ASSERT_EQ(data.row(r)[k], static_cast<float>(pixel(r, k))) << "record " << r << " byte " << k;
    }
  }
}

TEST_F(CifarReaderTest, RowsAcrossFilesReadOnlyThoseRecords) {
  const std::string a = write("a.bin", records({1, 2, 3}, 0));
  const std::string b = write("b.bin", records({4, 5, 6, 7}, 3));
  EXPECT_EQ(read_cifar_record_count(a), 3);
  EXPECT_EQ(read_cifar_record_count(b), 4);
  EXPECT_EQ(read_cifar_labels({a, b}), (Bytes{1, 2, 3, 4, 5, 6, 7}));

  const Dataset all = load_cifar_dataset({a, b});
  ASSERT_EQ(all.rows, 7);
  // A run crossing the file boundary (2, 3, 4) and single records at both ends.
  const std::vector<Index> rows = {0, 2, 3, 4, 6};
  const Dataset some = load_cifar_rows({a, b}, rows);
  ASSERT_EQ(some.rows, 5);
  EXPECT_EQ(some.total_rows, 5);
  EXPECT_EQ(some.labels, (std::vector<std::int32_t>{1, 3, 4, 5, 7}));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (Index k = 0; k < kCifarImageBytes; ++k) {
      ASSERT_EQ(some.row(static_cast<Index>(i))[k], all.row(rows[i])[k]) << "row " << i << " byte " << k;
    }
  }
  const Dataset none = load_cifar_rows({a, b}, {});
  EXPECT_EQ(none.rows, 0);
  EXPECT_EQ(none.cols, 3072);
  EXPECT_EQ(none.num_classes, 10);

  EXPECT_THAT(error_of([&] { load_cifar_rows({a, b}, {3, 2}); }), HasSubstr("out of order"));
  EXPECT_THAT(error_of([&] { load_cifar_rows({a, b}, {7}); }), HasSubstr("outside [0, 7)"));
}

TEST_F(CifarReaderTest, MissingFileIsNamed) {
  const std::string path = (dir_ / "data_batch_1.bin").string();
  for (const std::string& message : {error_of([&] { load_cifar_dataset({path}); }),
                                     error_of([&] { read_cifar_labels({path}); })}) {
    EXPECT_THAT(message, AllOf(HasSubstr(path), HasSubstr("does not exist"), HasSubstr("hint")));
  }
}

TEST_F(CifarReaderTest, EmptyFileIsNamed) {
  const std::string path = write("data_batch_1.bin", {});
  EXPECT_THAT(error_of([&] { load_cifar_dataset({path}); }),
              AllOf(HasSubstr(path), HasSubstr("is empty"), HasSubstr("3073 bytes")));
}

TEST_F(CifarReaderTest, TruncatedRecordIsNamedWithItsNumberAndBytes) {
  Bytes bytes = records({1, 2, 3}, 0);
  bytes.resize(bytes.size() - 3073 + 100);  // record 2 keeps 100 of its bytes
  const std::string path = write("data_batch_3.bin", bytes);
  const std::string message = error_of([&] { read_cifar_record_count(path); });
  EXPECT_THAT(message, AllOf(HasSubstr(path), HasSubstr("truncated"), HasSubstr("record 2 has only 100 of its 3073 "
                                                                                "bytes")));
  EXPECT_EQ(error_of([&] { load_cifar_rows({path}, {0}); }), message);
  EXPECT_EQ(error_of([&] { read_cifar_labels({path}); }), message);
}

TEST_F(CifarReaderTest, LabelAboveNineIsNamedWithRecordAndValue) {
  const std::string good = write("data_batch_1.bin", records({0, 1}, 0));
  const std::string bad = write("data_batch_2.bin", records({3, 10, 4}, 2));
  for (const std::string& message : {error_of([&] { read_cifar_labels({good, bad}); }),
                                     error_of([&] { load_cifar_rows({good, bad}, {0}); })}) {
    EXPECT_THAT(message, AllOf(HasSubstr(bad), HasSubstr("record 1 has label 10"), HasSubstr("0..9")));
  }
}

TEST_F(CifarReaderTest, FolderIsThePathOrItsCifar10BatchesBinSubfolder) {
  write_data_set("cifar-10-batches-bin");
  const std::string inner = (dir_ / "cifar-10-batches-bin").string();
  EXPECT_EQ(find_cifar10_folder(inner), inner);
  EXPECT_EQ(find_cifar10_folder(dir_.string()), inner);
  EXPECT_EQ(cifar10_train_files(inner).size(), 5u);
  EXPECT_EQ(cifar10_train_files(inner)[4], (fs::path(inner) / "data_batch_5.bin").string());
  EXPECT_EQ(cifar10_test_file(inner), (fs::path(inner) / "test_batch.bin").string());
  const std::string empty = (dir_ / "cifar-10-batches-bin" / "nothing").string();
  fs::create_directories(empty);
  EXPECT_THAT(error_of([&] { find_cifar10_folder(empty); }),
              AllOf(HasSubstr((fs::path(empty) / "data_batch_1.bin").string()),
                    HasSubstr((fs::path(empty) / "cifar-10-batches-bin" / "data_batch_1.bin").string())));
}

TEST_F(CifarReaderTest, LoadDataReadsTheFiveBatchesInOrderAndTheTestBatch) {
  write_data_set("cifar-10-batches-bin");
  // data.path may name the folder of the .bin files or the one holding cifar-10-batches-bin.
  for (const fs::path& path : {dir_, dir_ / "cifar-10-batches-bin"}) {
    SCOPED_TRACE(path.string());
    DataConfig cfg = config(path.string());
    cfg.validation = 0;
    const DataSplits data = load_data(cfg, DataShard{});
    ASSERT_EQ(data.train.rows, 4 + 5 + 6 + 7 + 8);
    ASSERT_EQ(data.test.rows, 4);
    EXPECT_EQ(data.validation.rows, 0);
    // Ids in file order: batch b holds ids 10 b .. 10 b + 2 + b.
    std::vector<float> first_bytes;
    for (Index r = 0; r < data.train.rows; ++r) first_bytes.push_back(data.train.row(r)[0]);
    std::vector<float> expected;
    for (int b = 1; b <= 5; ++b) {
      for (int j = 0; j < 3 + b; ++j) expected.push_back(static_cast<float>(10 * b + j));
    }
    EXPECT_EQ(first_bytes, expected);
    EXPECT_EQ(data.train.labels[5], (10 * 2 + 1) % 10);
    EXPECT_EQ(data.test.row(3)[0], 203.0f);
    EXPECT_EQ(data.test.labels, (std::vector<std::int32_t>{0, 1, 2, 3}));
    for (const Dataset* split : {&data.train, &data.validation, &data.test}) {
      EXPECT_EQ(split->num_classes, 10);
      EXPECT_EQ(split->cols, 3072);
      EXPECT_EQ(split->image.channels, 3);
    }
  }

  // The validation split, limits and preprocessing as for every file source.
  DataConfig cfg = config(dir_.string());
  cfg.train_limit = 10;
  cfg.test_limit = 3;
  cfg.preprocess = "scale01";
  const DataSplits data = load_data(cfg);
  EXPECT_EQ(data.train.rows, 10);
  EXPECT_EQ(data.validation.rows, 5);
  EXPECT_EQ(data.test.rows, 3);
  float largest = 0;
  for (const float v : data.train.features) largest = std::max(largest, v);
  EXPECT_FLOAT_EQ(largest, 1.0f);
}

TEST_F(CifarReaderTest, LoadDataErrorsNameTheFolderOrFile) {
  EXPECT_THAT(error_of([&] { load_data(config(""), DataShard{}); }),
              AllOf(HasSubstr("data.source = \"cifar10\""), HasSubstr("data.path")));
  EXPECT_THAT(error_of([&] { load_data(config(dir_.string()), DataShard{}); }),
              AllOf(HasSubstr((dir_ / "data_batch_1.bin").string()), HasSubstr("does not exist")));
  write_data_set("set");
  const std::string folder = (dir_ / "set").string();
  DataConfig named = config(folder);
  named.train_features = "data_batch_1.bin";
  EXPECT_THAT(error_of([&] { load_data(named, DataShard{}); }),
              AllOf(HasSubstr("data.train_features"), HasSubstr("not used")));

  fs::remove(dir_ / "set" / "data_batch_4.bin");
  EXPECT_THAT(error_of([&] { load_data(config(folder), DataShard{}); }),
              AllOf(HasSubstr((dir_ / "set" / "data_batch_4.bin").string()), HasSubstr("does not exist")));
  write_data_set("set");
  write("set/test_batch.bin", records({0, 11}, 0));
  EXPECT_THAT(error_of([&] { load_data(config(folder), DataShard{}); }),
              AllOf(HasSubstr((dir_ / "set" / "test_batch.bin").string()), HasSubstr("record 1 has label 11")));
}

TEST(CifarConfig, Cifar10IsADataSourceOfTheOptionTable) {
  TrainConfig config;
  config.data.source = "cifar10";
  EXPECT_NO_THROW(validate(config));
  EXPECT_THAT(describe_options(config), HasSubstr("cifar10"));
}

}  // namespace
}  // namespace normscale
