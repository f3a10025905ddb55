// Gallery PNGs read back with libpng: picture size, separators and the pixels of constructed images.
#include "normscale/metrics/gallery.hpp"

#include "normscale/core/error.hpp"

#include <gtest/gtest.h>
#include <png.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;

fs::path temp_path(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("normscale_test_gallery_" + name);
  fs::remove(p);
  return p;
}

struct Picture {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;
  int at(int y, int x, int c = 0) const { return pixels[static_cast<std::size_t>((y * width + x) * channels + c)]; }
};

// Reads with libpng's simplified API in the file's own format (gray or RGB, no alpha added).
Picture read_png(const fs::path& p) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_file(&image, p.c_str())) << image.message;
  Picture picture;
  picture.width = static_cast<int>(image.width);
  picture.height = static_cast<int>(image.height);
  picture.channels = static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(image.format));
  EXPECT_TRUE(image.format == PNG_FORMAT_GRAY || image.format == PNG_FORMAT_RGB) << image.format;
  picture.pixels.resize(PNG_IMAGE_SIZE(image));
  EXPECT_TRUE(png_image_finish_read(&image, nullptr, picture.pixels.data(), 0, nullptr)) << image.message;
  return picture;
}

// Three 2x3 gray images: a ramp 0..5, a dark image with one bright pixel, and a constant image.
Dataset gray_images() {
  Dataset d;
  d.name = "gray";
  d.rows = 3;
  d.cols = 6;
  d.image = {2, 3, 1};
  d.features = {0, 1, 2, 3, 4, 5,             //
                10, 10, 10, 10, 10, 20,       //
                -4, -4, -4, -4, -4, -4};
  d.labels = {0, 1, 2};
  d.num_classes = 3;
  return d;
}

TEST(Gallery, GrayGridHasSeparatorsAndNormalisedPixels) {
  const fs::path p = temp_path("gray.png");
  write_gallery_png(p.string(), gray_images(), {0, 1, 2}, 2);
  const Picture pic = read_png(p);
  ASSERT_EQ(pic.channels, 1);
  ASSERT_EQ(pic.width, 2 * 3 + 1);   // two columns of width 3, one separator
  ASSERT_EQ(pic.height, 2 * 2 + 1);  // two rows of height 2, one separator
  // Cell (0,0): the ramp 0..5 mapped to 0, 51, ..., 255.
  const int ramp[2][3] = {{0, 51, 102}, {153, 204, 255}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(pic.at(y, x), ramp[y][x]) << y << "," << x;
  // Cell (0,1) starts at x = 4: black except its last pixel.
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(pic.at(y, 4 + x), (y == 1 && x == 2) ? 255 : 0);
  // Cell (1,0) starts at y = 3: a constant image is black.
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(pic.at(3 + y, x), 0);
  // Separator column x = 3, separator row y = 2, and the empty cell (1,1) are white.
  for (int y = 0; y < pic.height; ++y) EXPECT_EQ(pic.at(y, 3), 255);
  for (int x = 0; x < pic.width; ++x) EXPECT_EQ(pic.at(2, x), 255);
  for (int y = 3; y < 5; ++y)
    for (int x = 4; x < 7; ++x) EXPECT_EQ(pic.at(y, x), 255);
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
}

TEST(Gallery, RowOrderFollowsTheIndicesAndColumnsShrinkToTheCount) {
  const fs::path p = temp_path("order.png");
  write_gallery_png(p.string(), gray_images(), {1, 0}, 8);
  const Picture pic = read_png(p);
  ASSERT_EQ(pic.width, 7);
  ASSERT_EQ(pic.height, 2);
  EXPECT_EQ(pic.at(1, 2), 255);  // image 1's bright pixel, first cell
  EXPECT_EQ(pic.at(0, 4), 0);    // image 0's ramp starts at 0 in the second cell
  EXPECT_EQ(pic.at(1, 6), 255);
}

TEST(Gallery, RgbUsesThePlanarChannelLayout) {
  Dataset d;
  d.name = "rgb";
  d.rows = 1;
  d.cols = 6;
  d.image = {1, 2, 3};
  // Planar: R of (0,0), R of (0,1), G of (0,0), G of (0,1), B of (0,0), B of (0,1).
  d.features = {0, 1, 2, 3, 4, 5};
  const fs::path p = temp_path("rgb.png");
  write_gallery_png(p.string(), d, {0}, 4);
  const Picture pic = read_png(p);
  ASSERT_EQ(pic.channels, 3);
  ASSERT_EQ(pic.width, 2);
  ASSERT_EQ(pic.height, 1);
  EXPECT_EQ(pic.at(0, 0, 0), 0);
  EXPECT_EQ(pic.at(0, 0, 1), 102);
  EXPECT_EQ(pic.at(0, 0, 2), 204);
  EXPECT_EQ(pic.at(0, 1, 0), 51);
  EXPECT_EQ(pic.at(0, 1, 1), 153);
  EXPECT_EQ(pic.at(0, 1, 2), 255);
}

void expect_error_mentions(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    for (const auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Gallery, NonImageDataIsAnErrorNamingTheFileAndTheReason) {
  const std::string p = temp_path("bad.png").string();
  Dataset d = gray_images();
  d.image = {};
  expect_error_mentions([&] { write_gallery_png(p, d, {0}, 1); }, {p, "no image shape"});
  d.image = {2, 3, 2};
  d.cols = 12;
  expect_error_mentions([&] { write_gallery_png(p, d, {0}, 1); }, {p, "2 channels"});
  d = gray_images();
  d.image = {3, 3, 1};
  expect_error_mentions([&] { write_gallery_png(p, d, {0}, 1); }, {p, "does not match"});
  d = gray_images();
  expect_error_mentions([&] { write_gallery_png(p, d, {3}, 1); }, {p, "row 3"});
  expect_error_mentions([&] { write_gallery_png(p, d, {}, 1); }, {p});
  expect_error_mentions([&] { write_gallery_png(p, d, {0}, 0); }, {p});
  EXPECT_FALSE(fs::exists(p));
}

TEST(Gallery, UnwritablePathIsAnErrorNamingIt) {
  const std::string p = (fs::temp_directory_path() / "normscale_no_such_dir" / "g.png").string();
  expect_error_mentions([&] { write_gallery_png(p, gray_images(), {0}, 1); }, {p});
}

}  // namespace
}  // namespace normscale
