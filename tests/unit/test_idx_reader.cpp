// IDX reader: small hand-written files (raw and gzip'ed) and one test per kind of bad input.
#include "normscale/core/error.hpp"
#include "normscale/data/idx_reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using Bytes = std::vector<std::uint8_t>;

// A fresh folder per test, removed afterwards.
class IdxReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("normscale_idx_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write_raw(const std::string& name, const Bytes& bytes) const {
    std::ofstream out(path(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path(name);
  }

  std::string write_gzip(const std::string& name, const Bytes& bytes) const {
    gzFile file = gzopen(path(name).c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(file);
    return path(name);
  }

  fs::path dir_;
};

void put_u32(Bytes& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

Bytes images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels,
                  std::uint32_t magic = 0x00000803) {
  Bytes bytes;
  put_u32(bytes, magic);
  put_u32(bytes, count);
  put_u32(bytes, rows);
  put_u32(bytes, cols);
  bytes.insert(bytes.end(), pixels.begin(), pixels.end());
  return bytes;
}

Bytes labels_file(const Bytes& labels, std::uint32_t count, std::uint32_t magic = 0x00000801) {
  Bytes bytes;
  put_u32(bytes, magic);
  put_u32(bytes, count);
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  return bytes;
}

Bytes labels_file(const Bytes& labels) { return labels_file(labels, static_cast<std::uint32_t>(labels.size())); }

// Three images of 2 x 3 pixels with distinct values covering 0 and 255.
Bytes three_images_pixels() { return {0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 60, 255, 254, 128, 127, 7, 9}; }

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected normscale::Error";
  return {};
}

void expect_three_images(const Dataset& data, const std::string& images_path) {
  const Bytes pixels = three_images_pixels();
  EXPECT_EQ(data.name, images_path);
  EXPECT_EQ(data.rows, 3);
  EXPECT_EQ(data.cols, 6);
  EXPECT_EQ(data.image.height, 2);
  EXPECT_EQ(data.image.width, 3);
  EXPECT_EQ(data.image.channels, 1);
  ASSERT_EQ(data.features.size(), pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) EXPECT_EQ(data.features[i], static_cast<float>(pixels[i])) << i;
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{2, 0, 9}));
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_TRUE(data.targets.empty());
}

TEST_F(IdxReaderTest, ReadsRawFiles) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_raw("labels", labels_file({2, 0, 9}));
  expect_three_images(load_idx_dataset(images, labels, 10), images);
}

TEST_F(IdxReaderTest, ReadsGzipFiles) {
  const auto images = write_gzip("images.gz", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_gzip("labels.gz", labels_file({2, 0, 9}));
  // The gzip'ed file must really be compressed, or this test would only repeat the raw one.
  EXPECT_NE(fs::file_size(images), images_file(3, 2, 3, three_images_pixels()).size());
  expect_three_images(load_idx_dataset(images, labels, 10), images);
}

TEST_F(IdxReaderTest, ReadsImageHeader) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const IdxImages read = read_idx_images(images);
  EXPECT_EQ(read.count, 3);
  EXPECT_EQ(read.rows, 2);
  EXPECT_EQ(read.cols, 3);
  EXPECT_EQ(read.pixels, three_images_pixels());
}

TEST_F(IdxReaderTest, ZeroClassesMeansLargestLabelPlusOne) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_raw("labels", labels_file({2, 0, 4}));
  EXPECT_EQ(load_idx_dataset(images, labels, 0).num_classes, 5);
}

TEST_F(IdxReaderTest, MissingFileIsNamed) {
  const std::string missing = path("no-such-file.gz");
  const std::string message = error_of([&] { read_idx_images(missing); });
  EXPECT_THAT(message, HasSubstr(missing));
  EXPECT_THAT(message, HasSubstr("does not exist"));
}

TEST_F(IdxReaderTest, DirectoryIsNotAFile) {
  const std::string message = error_of([&] { read_idx_labels(dir_.string()); });
  EXPECT_THAT(message, HasSubstr(dir_.string()));
  EXPECT_THAT(message, HasSubstr("not a regular file"));
}

TEST_F(IdxReaderTest, WrongMagicShowsFoundAndExpectedInHex) {
  const auto bad = write_raw("bad", images_file(3, 2, 3, three_images_pixels(), 0x00000903));
  const std::string message = error_of([&] { read_idx_images(bad); });
  EXPECT_THAT(message, HasSubstr(bad));
  EXPECT_THAT(message, HasSubstr("0x00000903"));
  EXPECT_THAT(message, HasSubstr("expected 0x00000803"));
}

TEST_F(IdxReaderTest, SwappedFilesAreRecognised) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_raw("labels", labels_file({2, 0, 9}));
  const std::string message = error_of([&] { load_idx_dataset(labels, images, 10); });
  EXPECT_THAT(message, HasSubstr(labels));
  EXPECT_THAT(message, HasSubstr("0x00000801"));
  EXPECT_THAT(message, HasSubstr("swapped"));
}

TEST_F(IdxReaderTest, TruncatedPixelsSayExpectedAndGot) {
  Bytes pixels = three_images_pixels();
  pixels.resize(10);
  const auto images = write_raw("images", images_file(3, 2, 3, pixels));
  const std::string message = error_of([&] { read_idx_images(images); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("expected 18 bytes"));
  EXPECT_THAT(message, HasSubstr("got 10"));
}

TEST_F(IdxReaderTest, TruncatedHeaderIsReported) {
  const auto labels = write_raw("labels", Bytes{0, 0, 8, 1, 0, 0});
  const std::string message = error_of([&] { read_idx_labels(labels); });
  EXPECT_THAT(message, HasSubstr(labels));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("got 2"));
}

TEST_F(IdxReaderTest, CutGzipStreamIsAnError) {
  Bytes pixels(4000);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 7919) % 251);
  const auto images = write_gzip("images.gz", images_file(10, 20, 20, pixels));
  fs::resize_file(images, fs::file_size(images) / 2);
  const std::string message = error_of([&] { read_idx_images(images); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("expected 4000 bytes"));
}

TEST_F(IdxReaderTest, CountMismatchNamesBothFilesAndCounts) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_raw("labels", labels_file({2, 0}));
  const std::string message = error_of([&] { load_idx_dataset(images, labels, 10); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr(labels));
  EXPECT_THAT(message, HasSubstr("3 images"));
  EXPECT_THAT(message, HasSubstr("2 labels"));
}

TEST_F(IdxReaderTest, LabelOutOfRangeNamesIndexValueAndRange) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_raw("labels", labels_file({2, 7, 1}));
  const std::string message = error_of([&] { load_idx_dataset(images, labels, 5); });
  EXPECT_THAT(message, HasSubstr(labels));
  EXPECT_THAT(message, HasSubstr("label 7 of example 1"));
  EXPECT_THAT(message, HasSubstr("[0, 5)"));
}

TEST_F(IdxReaderTest, EmptyImagesFileIsAnError) {
  const auto images = write_raw("images", images_file(0, 28, 28, {}));
  const std::string message = error_of([&] { read_idx_images(images); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr("holds 0 images"));
}

TEST_F(IdxReaderTest, EmptyLabelsFileIsAnError) {
  const auto labels = write_gzip("labels.gz", labels_file({}));
  const std::string message = error_of([&] { read_idx_labels(labels); });
  EXPECT_THAT(message, HasSubstr(labels));
  EXPECT_THAT(message, HasSubstr("holds 0 labels"));
}

TEST_F(IdxReaderTest, ZeroSizedImagesAreAnError) {
  const auto images = write_raw("images", images_file(3, 0, 3, {}));
  const std::string message = error_of([&] { read_idx_images(images); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr("0 x 3 pixels"));
}

}  // namespace
}  // namespace normscale
