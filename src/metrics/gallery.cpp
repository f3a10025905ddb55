// Gallery PNG: render the grid into an 8-bit buffer, encode it in memory with libpng, write atomically.
#include "normscale/metrics/gallery.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/atomic_file.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace normscale {

namespace {

constexpr std::uint8_t kBackground = 255;

struct Grid {
  Index width = 0;   // pixels
  Index height = 0;  // pixels
  int channels = 0;
  std::vector<std::uint8_t> pixels;  // height x width x channels, interleaved (PNG order)
};

// Copies one example into its cell, min-max normalised over all channels so colours keep balance.
void draw_example(Grid& grid, const float* features, const ImageShape& shape, Index top, Index left) {
  const Index size = shape.height * shape.width * shape.channels;
  float lo = std::numeric_limits<float>::infinity();
  float hi = -lo;
  for (Index k = 0; k < size; ++k) {
    if (!std::isfinite(features[k])) continue;
    lo = std::min(lo, features[k]);
    hi = std::max(hi, features[k]);
  }
  const double scale = hi > lo ? 255.0 / (static_cast<double>(hi) - lo) : 0.0;
  for (Index c = 0; c < shape.channels; ++c) {
    for (Index y = 0; y < shape.height; ++y) {
      for (Index x = 0; x < shape.width; ++x) {
        const float v = features[(c * shape.height + y) * shape.width + x];
        const double level = std::isfinite(v) ? (static_cast<double>(v) - lo) * scale : 0.0;
        grid.pixels[static_cast<std::size_t>(((top + y) * grid.width + left + x) * grid.channels + c)] =
            static_cast<std::uint8_t>(std::lround(std::clamp(level, 0.0, 255.0)));
      }
    }
  }
}

// libpng reports errors through a callback that must not return; it records the message and jumps
// back to the setjmp in encode_png (no C++ objects live in the frames it skips).
struct PngOutput {
  std::string bytes;
  char error[256] = {};
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* output = static_cast<PngOutput*>(png_get_error_ptr(png));
  std::snprintf(output->error, sizeof output->error, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void append_png_bytes(png_structp png, png_bytep data, png_size_t length) {
  static_cast<PngOutput*>(png_get_io_ptr(png))->bytes.append(reinterpret_cast<const char*>(data), length);
}

void flush_png(png_structp) {}

// Returns false (with output.error set) when libpng fails.
bool encode_png(const Grid& grid, PngOutput& output) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &output, on_png_error, on_png_warning);
  if (png == nullptr) {
    std::snprintf(output.error, sizeof output.error, "libpng could not create a write struct");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    std::snprintf(output.error, sizeof output.error, "libpng could not create an info struct");
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  // Built before setjmp: the jump back must not skip constructing or destroying C++ objects.
  std::vector<png_bytep> rows(static_cast<std::size_t>(grid.height));
  for (Index y = 0; y < grid.height; ++y) {
    rows[static_cast<std::size_t>(y)] =
        const_cast<png_bytep>(grid.pixels.data() + y * grid.width * grid.channels);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, &output, append_png_bytes, flush_png);
  png_set_IHDR(png, info, static_cast<png_uint_32>(grid.width), static_cast<png_uint_32>(grid.height), 8,
               grid.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void write_gallery_png(const std::string& path, const Dataset& data,
                       const std::vector<Index>& row_indices, Index columns) {
  const ImageShape& shape = data.image;
  NS_CHECK(shape.valid(), "cannot write gallery '{}': data set '{}' has no image shape ({}x{}x{}); "
           "hint: galleries need image data (e.g. MNIST, CIFAR)",
           path, data.name, shape.height, shape.width, shape.channels);
  NS_CHECK(shape.channels == 1 || shape.channels == 3,
           "cannot write gallery '{}': images of data set '{}' have {} channels, expected 1 (gray) or 3 (RGB)",
           path, data.name, shape.channels);
  NS_CHECK(shape.height * shape.width * shape.channels == data.cols,
           "cannot write gallery '{}': image shape {}x{}x{} does not match the {} features of data set '{}'",
           path, shape.height, shape.width, shape.channels, data.cols, data.name);
  NS_CHECK(!row_indices.empty(), "cannot write gallery '{}': no examples were chosen", path);
  NS_CHECK(columns > 0, "cannot write gallery '{}': columns must be positive, got {}", path, columns);
  for (const Index r : row_indices) {
    NS_CHECK(r >= 0 && r < data.rows, "cannot write gallery '{}': row {} is outside data set '{}' ({} rows); "
             "hint: pass local rows (global id - first_id)", path, r, data.name, data.rows);
  }

  const Index count = static_cast<Index>(row_indices.size());
  const Index grid_columns = std::min(columns, count);
  const Index grid_rows = (count + grid_columns - 1) / grid_columns;
  Grid grid;
  grid.width = grid_columns * (shape.width + 1) - 1;
  grid.height = grid_rows * (shape.height + 1) - 1;
  grid.channels = static_cast<int>(shape.channels);
  NS_CHECK(grid.width < (1 << 24) && grid.height < (1 << 24),
           "cannot write gallery '{}': a {}x{} picture is too large; hint: show fewer examples", path,
           grid.width, grid.height);
  grid.pixels.assign(static_cast<std::size_t>(grid.width * grid.height * grid.channels), kBackground);
  for (Index k = 0; k < count; ++k) {
    draw_example(grid, data.row(row_indices[static_cast<std::size_t>(k)]), shape,
                 (k / grid_columns) * (shape.height + 1), (k % grid_columns) * (shape.width + 1));
  }

  PngOutput output;
  NS_CHECK(encode_png(grid, output), "cannot write gallery '{}': libpng failed: {}", path, output.error);
  write_file_atomically(path, output.bytes);
}

}  // namespace normscale
