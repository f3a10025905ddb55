// IDX reader: zlib's gzread reads gzip'ed and raw files alike, so one code path serves both.
#include "normscale/data/idx_reader.hpp"

#include "normscale/core/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>

namespace normscale {

namespace {

// Deflate emits at least about 2 bits per 258-byte match, so a stream inflates to at most 1032 times its size.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

// Owns a zlib file handle; every failure names the file.
class IdxFile {
 public:
  IdxFile(const std::string& path, const char* what) : path_(path), what_(what) {
    std::error_code ec;
    NS_CHECK(std::filesystem::exists(path, ec), "{} '{}' does not exist; hint: check data.path and the file names",
             what_, path_);
    NS_CHECK(std::filesystem::is_regular_file(path, ec), "{} '{}' is not a regular file (a directory, a device or a pipe?)", what_,
             path_);
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    NS_CHECK(file_ != nullptr, "cannot open {} '{}': {}; hint: check the file's permissions", what_, path_,
             errno != 0 ? std::strerror(errno) : "out of memory");
    file_bytes_ = std::filesystem::file_size(path, ec);
    NS_CHECK(!ec, "cannot read the size of {} '{}': {}", what_, path_, ec.message());
  }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;
  ~IdxFile() { gzclose(file_); }

  // Reads up to n bytes into dst and returns how many arrived (fewer only at the end of the data).
  std::size_t read_some(std::uint8_t* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      // gzread takes an unsigned int length, so large reads go in pieces.
      const unsigned piece = static_cast<unsigned>(std::min<std::size_t>(n - done, std::size_t{1} << 30));
      const int got = gzread(file_, dst + done, piece);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        NS_FAIL("{} '{}' cannot be read (zlib: {}); hint: the file is damaged, download it again", what_, path_,
                message);
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    position_ += done;
    return done;
  }

  // Moves forward to byte `offset` of the (uncompressed) data. zlib skips lazily, so an offset past the end
  // shows up as a short read afterwards, where it is reported as truncation.
  void skip_to(std::uint64_t offset) {
    if (offset == position_) return;
    NS_CHECK(offset > position_, "{} '{}': internal error, a backward seek from byte {} to {}", what_, path_,
             position_, offset);
    const z_off_t reached = gzseek(file_, static_cast<z_off_t>(offset), SEEK_SET);
    if (reached < 0) {
      int code = 0;
      const char* message = gzerror(file_, &code);
      NS_FAIL("{} '{}' cannot be read (seeking to byte {}: zlib: {}); hint: the file is damaged, download it again",
              what_, path_, offset, message);
    }
    position_ = offset;
  }

  // Bytes of data after the first `skip` bytes: counted by reading from the start, so only for error messages.
  // Returns nullopt when the file cannot be reread.
  std::optional<std::uint64_t> bytes_after(std::uint64_t skip) {
    if (gzrewind(file_) != 0) return std::nullopt;
    position_ = 0;
    std::vector<std::uint8_t> scratch(std::size_t{1} << 20);
    std::uint64_t total = 0;
    for (std::size_t got = 1; got > 0; total += got) {
      got = read_some(scratch.data(), scratch.size());
    }
    return total >= skip ? total - skip : 0;
  }

  // Reads exactly n bytes of `part` (e.g. "header", "pixel data") or fails with expected vs got.
  void read_exact(std::uint8_t* dst, std::size_t n, const char* part) {
    const std::size_t got = read_some(dst, n);
    NS_CHECK(got == n,
             "{} '{}' is truncated: expected {} bytes of {}, got {}{}; hint: the file is incomplete, "
             "download it again",
             what_, path_, n, part, got, zlib_note());
  }

  // The IDX header stores sizes as big-endian 32-bit unsigned integers.
  std::uint32_t read_u32(const char* part) {
    std::uint8_t b[4];
    read_exact(b, 4, part);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

  // Reads `n` bytes of payload in bounded chunks, so a corrupt header claiming terabytes fails on
  // the missing data instead of on one giant allocation.
  std::vector<std::uint8_t> read_payload(std::uint64_t n, const char* part) {
    constexpr std::uint64_t kChunk = std::uint64_t{64} << 20;
    std::vector<std::uint8_t> out;
    while (out.size() < n) {
      const std::size_t old = out.size();
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - old));
      out.resize(old + want);
      const std::size_t got = read_some(out.data() + old, want);
      NS_CHECK(got == want,
               "{} '{}' is truncated: expected {} bytes of {}, got {}{}; hint: the file is incomplete, "
               "download it again",
               what_, path_, n, part, old + got, zlib_note());
    }
    return out;
  }

  void check_magic(std::uint32_t expected, const char* meaning) {
    const std::uint32_t found = read_u32("header (magic number)");
    if (found == expected) return;
    std::string hint = "hint: is this an IDX file of the MNIST format?";
    if (found == kIdxImagesMagic) hint = "hint: this is an images file; are the images and labels swapped?";
    if (found == kIdxLabelsMagic) hint = "hint: this is a labels file; are the images and labels swapped?";
    NS_FAIL("{} '{}' has magic number 0x{:08x}, expected 0x{:08x} ({}); {}", what_, path_, found, expected,
            meaning, hint);
  }

  // Checks that the file can hold the `payload` bytes its header claims after `header` bytes, before anything
  // is allocated for them: a raw file must have them, and a gzip stream cannot inflate to more than
  // kMaxDeflateRatio times its size. Reading still verifies the bytes arrive; this only stops a corrupt header
  // from sizing allocations (row lists, splits) by a claim the file cannot back.
  void check_claim(std::uint64_t header, std::uint64_t payload, const std::string& claim, const char* part) {
    const bool gzipped = gzdirect(file_) == 0;
    const std::uint64_t data_bytes = gzipped ? file_bytes_ * kMaxDeflateRatio : file_bytes_;
    if (header <= data_bytes && payload <= data_bytes - header) {
      // A raw file longer than its header says: counts too small (the rest would be left out unseen), or another
      // file's bytes appended.
      NS_CHECK(gzipped || header + payload == file_bytes_,
               "{} '{}' holds {} bytes after the {} its header claims ({}); hint: a header whose counts are too "
               "small, or a damaged or concatenated file",
               what_, path_, file_bytes_ - header - payload, part, claim);
      return;
    }
    if (!gzipped) {
      NS_FAIL("{} '{}' is truncated or its header is corrupt: the header claims {}, expected {} bytes of {}, got {} "
              "(the file has {} bytes in all); hint: the file is incomplete or damaged, download it again",
              what_, path_, claim, payload, part, file_bytes_ - std::min(header, file_bytes_), file_bytes_);
    }
    NS_FAIL("{} '{}' is truncated or its header is corrupt: the header claims {}, expected {} bytes of {}, but a "
            "gzip file of {} bytes inflates to at most {} bytes (deflate compresses at most {}:1); hint: the file "
            "is incomplete or damaged, download it again",
            what_, path_, claim, payload, part, file_bytes_, data_bytes, kMaxDeflateRatio);
  }

  // Whether this is a gzip file whose trailer gives its data's size as `bytes` (ISIZE, the size modulo 2^32), read
  // from the file's last four bytes without inflating anything. A cut file ends in compressed bytes instead, which
  // give that size by chance only (1 in 2^32); a file of several gzip members gives the last one's size alone.
  bool gzip_trailer_gives_size(std::uint64_t bytes) const {
    if (gzdirect(file_) != 0 || file_bytes_ < 4) return false;
    std::ifstream raw(path_, std::ios::binary);
    std::array<unsigned char, 4> b{};
    if (!raw.seekg(-4, std::ios::end) || !raw.read(reinterpret_cast<char*>(b.data()), 4)) return false;
    const std::uint32_t size = std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 |
                               std::uint32_t{b[3]} << 24;
    return size == static_cast<std::uint32_t>(bytes);
  }

  // The data ends at byte `end`, where the header says (the reader is there): a byte after it is a header whose counts
  // are too small, or a second gzip member appended. (zlib ignores bytes after a gzip stream that do not begin
  // another, as gzip itself does.)
  void expect_end(std::uint64_t end, const char* part) {
    skip_to(end);
    std::uint8_t extra = 0;
    NS_CHECK(read_some(&extra, 1) == 0,
             "{} '{}' holds more data after the {} its header claims (which end at byte {}); hint: a header whose "
             "counts are too small, or another file appended to it",
             what_, path_, part, end);
  }

  const std::string& path() const { return path_; }

  // A short read of a gzip file may be zlib reporting a cut-off stream; say so.
  std::string zlib_note() {
    int code = 0;
    const char* message = gzerror(file_, &code);
    return code == Z_OK ? std::string{} : fmt::format(" (zlib: {})", message);
  }

 private:

  std::string path_;
  const char* what_;
  gzFile file_ = nullptr;
  std::uint64_t position_ = 0;  // bytes of data consumed so far
  std::uint64_t file_bytes_ = 0;  // on disk (compressed, for a gzip file)
};

constexpr std::uint64_t kImagesHeaderBytes = 16;
constexpr std::uint64_t kLabelsHeaderBytes = 8;

// Reads and checks the 16-byte header of an images file.
IdxImages read_images_header(IdxFile& file) {
  const std::string& path = file.path();
  file.check_magic(kIdxImagesMagic, "unsigned-byte images, 3 dimensions");
  IdxImages images;
  images.count = file.read_u32("header (image count)");
  images.rows = file.read_u32("header (rows)");
  images.cols = file.read_u32("header (columns)");
  NS_CHECK(images.count > 0, "IDX images file '{}' holds 0 images; expected at least one", path);
  NS_CHECK(images.rows > 0 && images.cols > 0,
           "IDX images file '{}' has images of {} x {} pixels; expected both > 0", path, images.rows, images.cols);
  // Bounding the image size keeps count * rows * cols (count < 2^32) inside 64 bits.
  const auto pixels_per_image = static_cast<std::uint64_t>(images.rows) * static_cast<std::uint64_t>(images.cols);
  NS_CHECK(pixels_per_image <= (std::uint64_t{1} << 31),
           "IDX images file '{}' claims images of {} x {} pixels; expected at most 2^31 pixels per image", path,
           images.rows, images.cols);
  file.check_claim(kImagesHeaderBytes, static_cast<std::uint64_t>(images.count) * pixels_per_image,
                   fmt::format("{} images of {} x {} pixels", images.count, images.rows, images.cols), "pixel data");
  return images;
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  IdxFile file(path, "IDX images file");
  IdxImages images = read_images_header(file);
  const auto pixels_per_image = static_cast<std::uint64_t>(images.rows * images.cols);
  const std::uint64_t bytes = static_cast<std::uint64_t>(images.count) * pixels_per_image;
  images.pixels = file.read_payload(bytes, "pixel data");
  file.expect_end(kImagesHeaderBytes + bytes, "pixel data");
  return images;
}

IdxImages read_idx_images_header(const std::string& path) {
  IdxFile file(path, "IDX images file");
  return read_images_header(file);
}

IdxImages read_idx_image_rows(const std::string& path, const std::vector<Index>& rows) {
  IdxFile file(path, "IDX images file");
  IdxImages images = read_images_header(file);
  const Index count = images.count;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    NS_CHECK(rows[k] >= 0 && rows[k] < count && (k == 0 || rows[k] > rows[k - 1]),
             "IDX images file '{}': image {} (position {} of the rows asked for) is out of order or outside [0, {}); "
             "expected strictly ascending image numbers",
             path, rows[k], k, count);
  }
  const auto image_bytes = static_cast<std::uint64_t>(images.rows * images.cols);
  const std::uint64_t payload = static_cast<std::uint64_t>(count) * image_bytes;
  const auto truncated = [&] {
    const std::string note = file.zlib_note();
    const std::optional<std::uint64_t> got = file.bytes_after(kImagesHeaderBytes);
    NS_FAIL("IDX images file '{}' is truncated: expected {} bytes of pixel data, got {}{}; hint: the file is "
            "incomplete, download it again",
            path, payload, got ? fmt::format("{}", *got) : std::string("fewer"), note);
  };

  // Runs of consecutive images are read in one piece, in bounded chunks so that the buffer grows only with
  // data that actually arrived.
  constexpr std::uint64_t kChunk = std::uint64_t{64} << 20;
  images.count = static_cast<Index>(rows.size());
  std::size_t k = 0;
  while (k < rows.size()) {
    std::size_t run = 1;
    while (k + run < rows.size() && rows[k + run] == rows[k] + static_cast<Index>(run)) ++run;
    file.skip_to(kImagesHeaderBytes + static_cast<std::uint64_t>(rows[k]) * image_bytes);
    for (std::uint64_t left = run * image_bytes; left > 0;) {
      const std::size_t want = static_cast<std::size_t>(std::min(kChunk, left));
      const std::size_t old = images.pixels.size();
      images.pixels.resize(old + want);
      if (file.read_some(images.pixels.data() + old, want) != want) truncated();
      left -= want;
    }
    k += run;
  }
  // The last byte of the file must be there even when this caller does not need it (every rank, whichever rows it
  // reads, sees the same file). A complete gzip file's trailer says so: inflating the rest to its last byte took a
  // demo trial's process 0.2-0.3 s (the whole 47 MB of Fashion-MNIST's training images, for the first 20,000).
  if (!file.gzip_trailer_gives_size(kImagesHeaderBytes + payload)) {
    if (rows.empty() || rows.back() != count - 1) {
      file.skip_to(kImagesHeaderBytes + payload - 1);
      std::uint8_t last = 0;
      if (file.read_some(&last, 1) != 1) truncated();
    }
    file.expect_end(kImagesHeaderBytes + payload, "pixel data");
  }
  return images;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  IdxFile file(path, "IDX labels file");
  file.check_magic(kIdxLabelsMagic, "unsigned-byte labels, 1 dimension");
  const std::uint32_t count = file.read_u32("header (label count)");
  NS_CHECK(count > 0, "IDX labels file '{}' holds 0 labels; expected at least one", path);
  file.check_claim(kLabelsHeaderBytes, count, fmt::format("{} labels", count), "label data");
  std::vector<std::uint8_t> labels = file.read_payload(count, "label data");
  file.expect_end(kLabelsHeaderBytes + count, "label data");
  return labels;
}

namespace {

// load_idx_rows, or every row when `rows` is null: the list of all rows is made only after the labels file
// has confirmed the count, so a corrupt header cannot ask for a giant allocation.
Dataset load_idx_selection(const std::string& images_path, const std::string& labels_path, Index num_classes,
                           const std::vector<Index>* rows) {
  NS_CHECK(num_classes >= 0, "load_idx_dataset: num_classes must be >= 0 (0: derive from labels), got {}",
           num_classes);
  const IdxImages header = read_idx_images_header(images_path);
  const std::vector<std::uint8_t> labels = read_idx_labels(labels_path);
  NS_CHECK(static_cast<Index>(labels.size()) == header.count,
           "IDX images file '{}' holds {} images but labels file '{}' holds {} labels; hint: both files must "
           "belong to the same split (train or test)",
           images_path, header.count, labels_path, labels.size());

  if (num_classes == 0) num_classes = Index{*std::max_element(labels.begin(), labels.end())} + 1;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    NS_CHECK(labels[i] < num_classes,
             "IDX labels file '{}': label {} of example {} is outside the allowed range [0, {}); hint: check the "
             "number of classes of this data set",
             labels_path, labels[i], i, num_classes);
  }

  std::vector<Index> all;
  if (rows == nullptr) {
    all.resize(labels.size());
    std::iota(all.begin(), all.end(), Index{0});
    rows = &all;
  }
  const IdxImages images = read_idx_image_rows(images_path, *rows);
  Dataset data;
  data.name = images_path;
  data.rows = images.count;
  data.total_rows = data.rows;
  data.cols = images.rows * images.cols;
  data.features.assign(images.pixels.begin(), images.pixels.end());
  data.labels.reserve(rows->size());
  for (const Index r : *rows) data.labels.push_back(labels[static_cast<std::size_t>(r)]);
  data.num_classes = num_classes;
  data.image = ImageShape{images.rows, images.cols, 1};
  return data;
}

}  // namespace

Dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, Index num_classes) {
  return load_idx_selection(images_path, labels_path, num_classes, nullptr);
}

Dataset load_idx_rows(const std::string& images_path, const std::string& labels_path, Index num_classes,
                      const std::vector<Index>& rows) {
  return load_idx_selection(images_path, labels_path, num_classes, &rows);
}

}  // namespace normscale
