// IDX reader: small hand-written files (raw and gzip'ed) and one test per kind of bad input.
#include "normscale/core/error.hpp"
#include "normscale/data/idx_reader.hpp"
#include "support/data_files.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

using testing::Bytes;
using testing::error_of;
using testing::idx::images_file;
using testing::idx::labels_file;

// A fresh folder per test, removed afterwards.
class IdxReaderTest : public testing::TempDirTest {
 protected:
  IdxReaderTest() : TempDirTest("normscale_idx_") {}

  std::string write_raw(const std::string& name, const Bytes& bytes) const {
    testing::write_bytes(path(name), bytes);
    return path(name);
  }

  std::string write_gzip(const std::string& name, const Bytes& bytes) const {
    testing::write_gzip(path(name), bytes);
    return path(name);
  }
};

// Three images of 2 x 3 pixels with distinct values covering 0 and 255.
Bytes three_images_pixels() { return {0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 60, 255, 254, 128, 127, 7, 9}; }

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

// Ten images of 2 x 3 pixels; pixel k of image i is 10 i + k, so each image is recognisable.
Bytes ten_images_pixels() {
  Bytes pixels;
  for (int i = 0; i < 10; ++i) {
    for (int k = 0; k < 6; ++k) pixels.push_back(static_cast<std::uint8_t>(10 * i + k));
  }
  return pixels;
}

Bytes pixels_of_rows(const std::vector<Index>& rows) {
  const Bytes all = ten_images_pixels();
  Bytes out;
  for (const Index r : rows) out.insert(out.end(), all.begin() + 6 * r, all.begin() + 6 * (r + 1));
  return out;
}

TEST_F(IdxReaderTest, ReadsChosenRowsOfRawAndGzipFiles) {
  const Bytes file = images_file(10, 2, 3, ten_images_pixels());
  for (const std::string& images : {write_raw("images", file), write_gzip("images.gz", file)}) {
    SCOPED_TRACE(images);
    const IdxImages header = read_idx_images_header(images);
    EXPECT_EQ(header.count, 10);
    EXPECT_EQ(header.rows, 2);
    EXPECT_EQ(header.cols, 3);
    EXPECT_TRUE(header.pixels.empty());
    for (const std::vector<Index>& rows : std::vector<std::vector<Index>>{
             {}, {0}, {9}, {1, 2, 3, 7}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {4, 6, 8}}) {
      const IdxImages read = read_idx_image_rows(images, rows);
      EXPECT_EQ(read.count, static_cast<Index>(rows.size()));
      EXPECT_EQ(read.rows, 2);
      EXPECT_EQ(read.cols, 3);
      EXPECT_EQ(read.pixels, pixels_of_rows(rows));
    }
  }
}

TEST_F(IdxReaderTest, RowsMustBeAscendingAndInside) {
  const auto images = write_raw("images", images_file(10, 2, 3, ten_images_pixels()));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(images, {3, 2}); }), HasSubstr("ascending"));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(images, {3, 3}); }), HasSubstr("ascending"));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(images, {10}); }), HasSubstr("[0, 10)"));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(images, {-1}); }), HasSubstr("image -1"));
}

TEST_F(IdxReaderTest, TruncationIsSeenWhicheverRowsAreRead) {
  Bytes pixels = ten_images_pixels();
  pixels.resize(pixels.size() - 4);  // the last image is incomplete
  const auto raw = write_raw("images", images_file(10, 2, 3, pixels));
  for (const std::vector<Index>& rows : std::vector<std::vector<Index>>{{}, {0, 1}, {9}}) {
    const std::string message = error_of([&] { read_idx_image_rows(raw, rows); });
    EXPECT_THAT(message, HasSubstr(raw));
    EXPECT_THAT(message, HasSubstr("truncated"));
    EXPECT_THAT(message, HasSubstr("expected 60 bytes"));
    EXPECT_THAT(message, HasSubstr("got 56"));
  }
  // A cut gzip stream, too.
  Bytes big(4000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>((i * 7919) % 251);
  const auto gz = write_gzip("images.gz", images_file(10, 20, 20, big));
  fs::resize_file(gz, fs::file_size(gz) / 2);
  const std::string message = error_of([&] { read_idx_image_rows(gz, {0}); });
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("expected 4000 bytes"));
}

// A gzip member of `data`'s first `prefix` bytes, then a block that cannot be inflated (type 3, reserved), then a
// trailer giving the whole of `data`'s size: complete to a reader of its trailer, damaged to one who inflates it all.
Bytes gzip_with_a_damaged_tail(const Bytes& data, std::size_t prefix) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&stream, prefix) + 16);
  stream.next_in = const_cast<Bytes::value_type*>(data.data());
  stream.avail_in = static_cast<uInt>(prefix);
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FULL_FLUSH), Z_OK);  // byte-aligned, the stream not ended
  out.resize(stream.total_out);
  deflateEnd(&stream);
  out.push_back(0x07);  // BFINAL = 1, BTYPE = 11
  const uLong crc = crc32(0L, data.data(), static_cast<uInt>(data.size()));
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(crc >> shift));
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(data.size() >> shift));
  return out;
}

// Reading a gzip file's first rows does not inflate the rest to check the file's last byte: its trailer gives the
// file's size. A cut file's does not, and is read to its end as before (TruncationIsSeenWhicheverRowsAreRead).
TEST_F(IdxReaderTest, TheFirstRowsOfACompleteGzipFileAreReadWithoutInflatingTheRest) {
  Bytes pixels(256 * 28 * 28);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>((i * 7919) % 251);
  const Bytes file = images_file(256, 28, 28, pixels);
  const std::string gz = path("images.gz");
  testing::write_bytes(gz, gzip_with_a_damaged_tail(file, 16 + 128 * 28 * 28));  // the first 128 images intact
  const IdxImages two = read_idx_image_rows(gz, {0, 1});
  EXPECT_EQ(two.count, 2);
  EXPECT_EQ(two.pixels, Bytes(pixels.begin(), pixels.begin() + 2 * 28 * 28));
  EXPECT_THAT(error_of([&] { read_idx_images(gz); }), AllOf(HasSubstr(gz), HasSubstr("cannot be read")))
      << "the rest is damaged: inflating it to the last byte would have failed";
}

// Data after what the header claims (counts too small, or a file appended) is an error, not left out unseen: raw
// files by their size, gzip files where a second member follows; whichever rows are read.
TEST_F(IdxReaderTest, DataAfterWhatTheHeaderClaimsIsAnError) {
  Bytes images = images_file(3, 2, 3, three_images_pixels());
  Bytes labels = labels_file({2, 0, 9});
  const std::string good_labels = write_raw("labels", labels);
  Bytes longer = images;
  longer.insert(longer.end(), {1, 2, 3});
  const std::string raw = write_raw("images_longer", longer);
  EXPECT_THAT(error_of([&] { load_idx_dataset(raw, good_labels, 10); }),
              AllOf(HasSubstr(raw), HasSubstr("holds 3 bytes after the pixel data its header claims")));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(raw, {0}); }), HasSubstr("holds 3 bytes after"));
  // Two gzip members: the second one's bytes continue the data.
  const std::string appended = path("images_appended.gz");
  testing::write_gzip(appended, images);
  testing::write_gzip(path("more.gz"), Bytes{9, 9, 9, 9, 9, 9});
  {
    std::ofstream out(appended, std::ios::binary | std::ios::app);
    std::ifstream more(path("more.gz"), std::ios::binary);
    out << more.rdbuf();
  }
  EXPECT_THAT(error_of([&] { read_idx_images(appended); }),
              AllOf(HasSubstr(appended), HasSubstr("holds more data after the pixel data")));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(appended, {0}); }), HasSubstr("holds more data after"));
  const std::string labels_appended = path("labels_appended.gz");
  testing::write_gzip(labels_appended, labels);
  {
    std::ofstream out(labels_appended, std::ios::binary | std::ios::app);
    std::ifstream more(path("more.gz"), std::ios::binary);
    out << more.rdbuf();
  }
  EXPECT_THAT(error_of([&] { read_idx_labels(labels_appended); }), HasSubstr("holds more data after the label data"));
}

TEST_F(IdxReaderTest, ChosenRowsCountClassesOfTheWholeLabelsFile) {
  const auto images = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  const auto labels = write_gzip("labels.gz", labels_file({2, 0, 9}));
  const Dataset data = load_idx_rows(images, labels, 0, {0, 1});
  EXPECT_EQ(data.rows, 2);
  EXPECT_EQ(data.total_rows, 2);
  EXPECT_EQ(data.first_id, 0);
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(data.num_classes, 10);  // from label 9, which is not among the rows kept
  EXPECT_EQ(data.cols, 6);
  EXPECT_EQ(data.features, (std::vector<float>{0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 60}));
  // No rows: the set still knows its shape and classes.
  const Dataset none = load_idx_rows(images, labels, 0, {});
  EXPECT_EQ(none.rows, 0);
  EXPECT_EQ(none.cols, 6);
  EXPECT_EQ(none.image.height, 2);
  EXPECT_EQ(none.num_classes, 10);
  EXPECT_TRUE(none.is_classification());
  // Every label is checked, not only those of the rows kept.
  EXPECT_THAT(error_of([&] { load_idx_rows(images, labels, 5, {0}); }), HasSubstr("label 9 of example 2"));
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

// ---- Headers that claim more than the file holds (#12): an error naming the file and the claim, before
// anything is sized by the claim. Each file is 300 KB, as in the issue.

constexpr std::uint32_t k2To28 = std::uint32_t{1} << 28;

// 300,000 bytes that do not compress well, so a gzip'ed copy is about as large as the raw file.
Bytes noisy_pixels(std::size_t n) {
  Bytes pixels(n);
  std::uint32_t state = 12345;
  for (auto& p : pixels) {
    state = state * 1664525u + 1013904223u;
    p = static_cast<std::uint8_t>(state >> 24);
  }
  return pixels;
}

TEST_F(IdxReaderTest, RawFileClaiming2To28ImagesIsRejectedByItsSize) {
  const auto images = write_raw("images", images_file(k2To28, 28, 28, Bytes(300000)));
  const std::string message = error_of([&] { read_idx_images_header(images); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr("claims 268435456 images of 28 x 28 pixels"));
  EXPECT_THAT(message, HasSubstr("expected 210453397504 bytes of pixel data, got 300000"));
  EXPECT_THAT(message, HasSubstr("hint:"));
  // The whole-file and chosen-row readers stop at the same check.
  EXPECT_THAT(error_of([&] { read_idx_images(images); }), HasSubstr("210453397504 bytes"));
  EXPECT_THAT(error_of([&] { read_idx_image_rows(images, {0}); }), HasSubstr("210453397504 bytes"));
}

TEST_F(IdxReaderTest, RawFileClaiming300ImagesOf4194332PixelsIsRejectedByItsSize) {
  // 4 x 1048583 = 4,194,332 pixels per image, 300 of them: 1,258,299,600 bytes claimed.
  const auto images = write_raw("images", images_file(300, 4, 1048583, Bytes(300000)));
  const std::string message = error_of([&] { read_idx_images_header(images); });
  EXPECT_THAT(message, HasSubstr(images));
  EXPECT_THAT(message, HasSubstr("claims 300 images of 4 x 1048583 pixels"));
  EXPECT_THAT(message, HasSubstr("expected 1258299600 bytes of pixel data, got 300000"));
}

TEST_F(IdxReaderTest, GzipFileClaimingMoreThanItCanInflateToIsRejectedByItsSize) {
  for (const auto& [count, rows, cols, claimed] :
       {std::tuple{k2To28, 28u, 28u, "210453397504"}, std::tuple{300u, 4u, 1048583u, "1258299600"}}) {
    const auto images = write_gzip("images.gz", images_file(count, rows, cols, noisy_pixels(300000)));
    const auto on_disk = fs::file_size(images);
    ASSERT_GT(on_disk, 290000u);  // the premise: a 300 KB file
    const std::string message = error_of([&] { read_idx_images_header(images); });
    EXPECT_THAT(message, HasSubstr(images));
    EXPECT_THAT(message, HasSubstr(fmt::format("expected {} bytes of pixel data", claimed)));
    EXPECT_THAT(message, HasSubstr(fmt::format("a gzip file of {} bytes inflates to at most {} bytes", on_disk,
                                               on_disk * 1032)));
  }
}

TEST_F(IdxReaderTest, LabelsFileClaiming2To28LabelsIsRejectedByItsSize) {
  const auto raw = write_raw("labels", labels_file(Bytes(300), k2To28));
  EXPECT_THAT(error_of([&] { read_idx_labels(raw); }),
              AllOf(HasSubstr(raw), HasSubstr("claims 268435456 labels"),
                    HasSubstr("expected 268435456 bytes of label data, got 300")));
  const auto gz = write_gzip("labels.gz", labels_file(Bytes(300), k2To28));
  EXPECT_THAT(error_of([&] { read_idx_labels(gz); }), AllOf(HasSubstr(gz), HasSubstr("inflates to at most")));
}

TEST_F(IdxReaderTest, TruncatedGzipStreamWithAPlausibleClaimFailsOnTheMissingBytes) {
  // 2^16 images of 28 x 28 (51,380,224 bytes) is within what 300 KB of gzip could inflate to, so only
  // reading can tell: the stream is cut after about 150 KB and must be reported as truncated.
  const auto images = write_gzip("images.gz", images_file(1u << 16, 28, 28, noisy_pixels(300000)));
  fs::resize_file(images, fs::file_size(images) / 2);
  EXPECT_NO_THROW(read_idx_images_header(images));
  for (const auto& read : std::vector<std::function<void()>>{[&] { read_idx_images(images); },
                                                            [&] { read_idx_image_rows(images, {0, 65535}); }}) {
    const std::string message = error_of(read);
    EXPECT_THAT(message, HasSubstr(images));
    EXPECT_THAT(message, HasSubstr("truncated"));
    EXPECT_THAT(message, HasSubstr("expected 51380224 bytes of pixel data"));
  }
}

TEST_F(IdxReaderTest, AnExactlySizedRawFileAndItsGzipCopyPassTheSizeCheck) {
  // The check must not reject a complete file: 3 images of 2 x 3 take exactly 16 + 18 bytes.
  const auto raw = write_raw("images", images_file(3, 2, 3, three_images_pixels()));
  EXPECT_EQ(read_idx_images(raw).count, 3);
  const auto gz = write_gzip("images.gz", images_file(3, 2, 3, three_images_pixels()));
  EXPECT_EQ(read_idx_images(gz).count, 3);
}

}  // namespace
}  // namespace normscale
