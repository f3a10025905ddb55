// NumPy .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// magic, version, a Python-dict header padded to 64 bytes, then the raw elements.
#include "normscale/data/npy.hpp"

#include "normscale/core/error.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace normscale {

// Elements are copied byte for byte, which is right only on a little-endian host.
static_assert(std::endian::native == std::endian::little, "the npy reader/writer assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<Index> shape;
};

// Position just after `'key':` (single or double quotes) in the header dict, or npos.
std::size_t find_key(const std::string& header, const std::string& key) {
  for (const char quote : {'\'', '"'}) {
    const std::string quoted = std::string(1, quote) + key + std::string(1, quote);
    std::size_t at = header.find(quoted);
    if (at == std::string::npos) continue;
    at = header.find(':', at + quoted.size());
    if (at != std::string::npos) return at + 1;
  }
  return std::string::npos;
}

std::size_t skip_spaces(const std::string& s, std::size_t at) {
  while (at < s.size() && (s[at] == ' ' || s[at] == '\t')) ++at;
  return at;
}

// Parses the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
NpyHeader parse_header(const std::string& header, const std::string& path) {
  const auto malformed = [&](const char* what) {
    // On one line: the header's closing newline (and any other) written as \n.
    std::string shown;
    for (const char c : header) shown += c == '\n' ? std::string("\\n") : std::string(1, c);
    NS_FAIL("npy file '{}' has a malformed header ({}): {}; hint: write it with numpy.save", path, what, shown);
  };
  NpyHeader out;
  // Each key once: numpy would take a repeated key's last value, this reader its first.
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    std::size_t seen = 0;
    for (const char quote : {'\'', '"'}) {
      const std::string quoted = std::string(1, quote) + key + std::string(1, quote);
      for (auto at = header.find(quoted); at != std::string::npos; at = header.find(quoted, at + 1)) ++seen;
    }
    if (seen > 1) malformed(fmt::format("'{}' given {} times", key, seen).c_str());
  }

  std::size_t at = find_key(header, "descr");
  if (at == std::string::npos) malformed("no 'descr'");
  at = skip_spaces(header, at);
  if (at < header.size() && header[at] == '[') {
    NS_FAIL(
        "npy file '{}' holds a structured dtype; expected a plain numeric dtype (f4, f8, i1..i8, u1..u8, b1); "
        "hint: save a plain array, e.g. numpy.save(path, arr.astype('<f4'))",
        path);
  }
  if (at >= header.size() || (header[at] != '\'' && header[at] != '"')) malformed("'descr' is not a string");
  const std::size_t end = header.find(header[at], at + 1);
  if (end == std::string::npos) malformed("unterminated 'descr'");
  out.descr = header.substr(at + 1, end - at - 1);

  at = find_key(header, "fortran_order");
  if (at == std::string::npos) malformed("no 'fortran_order'");
  at = skip_spaces(header, at);
  std::size_t after = at;
  if (header.compare(at, 4, "True") == 0) {
    out.fortran_order = true;
    after = at + 4;
  } else if (header.compare(at, 5, "False") == 0) {
    after = at + 5;
  }
  after = skip_spaces(header, after);
  if (after == at || after >= header.size() || (header[after] != ',' && header[after] != '}')) {
    malformed("'fortran_order' is neither True nor False");  // "Falsey" too
  }

  at = find_key(header, "shape");
  if (at == std::string::npos) malformed("no 'shape'");
  at = skip_spaces(header, at);
  if (at >= header.size() || header[at] != '(') malformed("'shape' is not a tuple");
  ++at;
  while (true) {
    at = skip_spaces(header, at);
    if (at < header.size() && header[at] == ')') break;
    std::size_t digits = at;
    Index dim = 0;
    while (digits < header.size() && header[digits] >= '0' && header[digits] <= '9') {
      if (dim > (std::numeric_limits<Index>::max() - 9) / 10) malformed("a dimension is too large");
      dim = dim * 10 + (header[digits] - '0');
      ++digits;
    }
    if (digits == at) malformed("'shape' holds something other than non-negative integers");
    out.shape.push_back(dim);
    at = skip_spaces(header, digits);
    if (at < header.size() && header[at] == ',') ++at;
  }
  return out;
}

// What the reader understands of a dtype string such as "<f4".
struct DtypeInfo {
  char kind = 0;         // 'f', 'i', 'u' or 'b'
  std::size_t size = 0;  // bytes per element
};

DtypeInfo parse_dtype(const std::string& descr, const std::string& path) {
  const auto unsupported = [&](const char* why) {
    NS_FAIL(
        "npy file '{}' has dtype '{}', {}; expected little-endian f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 or "
        "b1; hint: convert it in Python, e.g. numpy.save(path, arr.astype('<f4'))",
        path, descr, why);
  };
  if (descr.size() < 3) unsupported("which is not a numeric dtype");
  if (descr[0] == '>') unsupported("which is big-endian");
  if (descr[0] != '<' && descr[0] != '|') unsupported("whose byte order is not '<' or '|'");
  DtypeInfo info;
  info.kind = descr[1];
  const std::string size = descr.substr(2);
  const bool ok =
      (info.kind == 'f' && (size == "4" || size == "8")) ||
      ((info.kind == 'i' || info.kind == 'u') && (size == "1" || size == "2" || size == "4" || size == "8")) ||
      (info.kind == 'b' && size == "1");
  if (!ok) unsupported("which normscale does not read");
  info.size = static_cast<std::size_t>(size[0] - '0');
  return info;
}

template <class T>
void convert(const char* bytes, std::size_t count, double* out) {
  for (std::size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
    out[i] = static_cast<double>(value);
  }
}

void convert_elements(const DtypeInfo& dtype, const char* bytes, std::size_t count, double* out) {
  switch (dtype.kind) {
    case 'f':
      dtype.size == 4 ? convert<float>(bytes, count, out) : convert<double>(bytes, count, out);
      return;
    case 'i':
      if (dtype.size == 1) convert<std::int8_t>(bytes, count, out);
      if (dtype.size == 2) convert<std::int16_t>(bytes, count, out);
      if (dtype.size == 4) convert<std::int32_t>(bytes, count, out);
      if (dtype.size == 8) convert<std::int64_t>(bytes, count, out);
      return;
    case 'u':
      if (dtype.size == 1) convert<std::uint8_t>(bytes, count, out);
      if (dtype.size == 2) convert<std::uint16_t>(bytes, count, out);
      if (dtype.size == 4) convert<std::uint32_t>(bytes, count, out);
      if (dtype.size == 8) convert<std::uint64_t>(bytes, count, out);
      return;
    default:  // 'b': numpy stores bools as one byte 0 or 1
      for (std::size_t i = 0; i < count; ++i) out[i] = bytes[i] != 0 ? 1.0 : 0.0;
  }
}

// Fortran order stores the first axis fastest; C order (what NpyArray promises) the last.
std::vector<double> fortran_to_c(const std::vector<double>& fortran, const std::vector<Index>& shape) {
  const std::size_t rank = shape.size();
  std::vector<Index> fortran_stride(rank, 1);
  for (std::size_t k = 1; k < rank; ++k) fortran_stride[k] = fortran_stride[k - 1] * shape[k - 1];
  std::vector<double> c_order(fortran.size());
  std::vector<Index> index(rank, 0);  // multi-index of the C-order position, last axis fastest
  for (std::size_t i = 0; i < c_order.size(); ++i) {
    Index offset = 0;
    for (std::size_t k = 0; k < rank; ++k) offset += index[k] * fortran_stride[k];
    c_order[i] = fortran[static_cast<std::size_t>(offset)];
    for (std::size_t k = rank; k-- > 0;) {
      if (++index[k] < shape[k]) break;
      index[k] = 0;
    }
  }
  return c_order;
}

std::string shape_text(const std::vector<Index>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

template <class T>
void write_array(const std::string& path, const std::vector<Index>& shape, const T* data, const char* descr) {
  std::size_t count = 1;
  for (const Index dim : shape) {
    NS_CHECK(dim >= 0, "write_npy '{}': shape {} has a negative dimension", path, shape_text(shape));
    count *= static_cast<std::size_t>(dim);
  }
  NS_CHECK(count == 0 || data != nullptr, "write_npy '{}': no data for shape {}", path, shape_text(shape));

  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_text(shape));
  // The spec pads the header with spaces so the data starts 64-byte aligned; version 1.0 has a 2-byte
  // header length, so only huge shapes need version 2.0's 4 bytes.
  const auto padded_length = [&](std::size_t prefix) {
    return (prefix + header.size() + 1 + 63) / 64 * 64 - prefix;
  };
  const bool version2 = padded_length(10) > 65535;
  const std::size_t padded = padded_length(version2 ? 12 : 10);
  header.append(padded - header.size() - 1, ' ');
  header.push_back('\n');

  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    NS_CHECK(out.good(), "cannot create '{}' (for '{}'): {}; hint: does the directory exist and is it writable?",
             temporary, path, std::strerror(errno));
    out.write(kMagic, kMagicSize);
    const char version[2] = {static_cast<char>(version2 ? 2 : 1), 0};
    out.write(version, 2);
    const std::uint32_t length = static_cast<std::uint32_t>(header.size());
    out.write(reinterpret_cast<const char*>(&length), version2 ? 4 : 2);  // little-endian host
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (count > 0) out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
    out.close();
    NS_CHECK(!out.fail(), "writing '{}' failed: {}; hint: is the disk full?", temporary, std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  NS_CHECK(!ec, "cannot rename '{}' to '{}': {}", temporary, path, ec.message());
}

}  // namespace

Index NpyArray::size() const {
  Index n = 1;
  for (const Index dim : shape) n *= dim;
  return n;
}

namespace {

// A .npy file whose preamble and header have been read and checked; `in` stands at the first element.
struct OpenNpy {
  std::ifstream in;
  NpyHeader header;
  DtypeInfo dtype;
  std::uintmax_t count = 0;  // elements
  std::uintmax_t data_start = 0;
};

OpenNpy open_npy(const std::string& path) {
  std::error_code ec;
  NS_CHECK(std::filesystem::is_regular_file(path, ec),
           "npy file '{}' does not exist (or is not a regular file); hint: check data.path and the file names",
           path);
  OpenNpy npy;
  std::ifstream& in = npy.in;
  in.open(path, std::ios::binary);
  NS_CHECK(in.good(), "cannot open npy file '{}': {}", path, std::strerror(errno));
  const auto file_size = static_cast<std::uintmax_t>(std::filesystem::file_size(path, ec));

  char prefix[10] = {};
  in.read(prefix, 10);
  NS_CHECK(in.gcount() == 10 && std::memcmp(prefix, kMagic, kMagicSize) == 0,
           "npy file '{}' does not start with the magic string \\x93NUMPY; expected a NumPy .npy file; hint: "
           "write it with numpy.save (numpy.savez makes .npz archives, which are not read)",
           path);
  const int major = static_cast<unsigned char>(prefix[6]);
  const int minor = static_cast<unsigned char>(prefix[7]);
  NS_CHECK(major >= 1 && major <= 3, "npy file '{}' has format version {}.{}; expected 1.0, 2.0 or 3.0", path,
           major, minor);

  // Version 1.0 stores the header length in 2 little-endian bytes, 2.0 and 3.0 in 4.
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {static_cast<unsigned char>(prefix[8]), static_cast<unsigned char>(prefix[9]), 0,
                                   0};
  if (length_bytes == 4) {
    in.read(reinterpret_cast<char*>(length_field + 2), 2);
    NS_CHECK(in.gcount() == 2, "npy file '{}' is truncated: expected 12 bytes of preamble", path);
  }
  std::size_t header_length = 0;
  for (std::size_t b = length_bytes; b-- > 0;) header_length = (header_length << 8) | length_field[b];
  const std::size_t header_start = 8 + length_bytes;
  NS_CHECK(header_start + header_length <= file_size,
           "npy file '{}' is truncated: expected a header of {} bytes, the file has {} bytes in all", path,
           header_length, file_size);
  std::string header(header_length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_length));

  npy.header = parse_header(header, path);
  npy.dtype = parse_dtype(npy.header.descr, path);
  // An empty array may claim any other dimensions, but products of them (columns per row) must still fit an
  // Index: bound the product of the non-zero dimensions, in elements, by 2^62 / 8.
  std::uintmax_t nonzero = 1;
  for (const Index dim : npy.header.shape) {
    if (dim == 0) continue;
    NS_CHECK(nonzero <= (std::uintmax_t{1} << 59) / static_cast<std::uintmax_t>(dim),
             "npy file '{}' has shape {}, whose dimensions multiply to more than 2^59 elements; expected a shape "
             "that fits in memory; hint: the header is damaged, write the file again",
             path, shape_text(npy.header.shape));
    nonzero *= static_cast<std::uintmax_t>(dim);
  }
  std::uintmax_t count = 1;
  for (const Index dim : npy.header.shape) {
    // A shape whose data could not fit in the file is truncated (or corrupt); this also stops overflow.
    NS_CHECK(dim == 0 || count <= file_size / static_cast<std::uintmax_t>(dim),
             "npy file '{}' is truncated: shape {} needs more data than the file's {} bytes", path,
             shape_text(npy.header.shape), file_size);
    count *= static_cast<std::uintmax_t>(dim);
  }
  const std::uintmax_t data_bytes = count * npy.dtype.size;
  const std::uintmax_t available = file_size - header_start - header_length;
  NS_CHECK(available >= data_bytes,
           "npy file '{}' is truncated: shape {} of dtype '{}' needs {} bytes of data, got {}; hint: the file is "
           "incomplete, write it again",
           path, shape_text(npy.header.shape), npy.header.descr, data_bytes, available);
  // numpy.save writes the data and nothing after it: more is a shape too small (data left out unseen) or bytes
  // appended.
  NS_CHECK(available == data_bytes,
           "npy file '{}' holds {} bytes after the {} bytes of data its shape {} of dtype '{}' needs; hint: a shape "
           "that is too small, or bytes appended to the file; write it again with numpy.save",
           path, available - data_bytes, data_bytes, shape_text(npy.header.shape), npy.header.descr);
  npy.count = count;
  npy.data_start = header_start + header_length;
  return npy;
}

NpyArray describe(const OpenNpy& npy) {
  NpyArray array;
  array.shape = npy.header.shape;
  array.dtype = npy.header.descr;
  array.is_integer = npy.dtype.kind != 'f';
  return array;
}

// Reads `count` elements at the stream's position and appends them, converted, to `out`.
void read_elements(OpenNpy& npy, const std::string& path, std::uintmax_t count, std::vector<double>& out) {
  const std::uintmax_t bytes_wanted = count * npy.dtype.size;
  std::vector<char> bytes(static_cast<std::size_t>(bytes_wanted));
  npy.in.read(bytes.data(), static_cast<std::streamsize>(bytes_wanted));
  NS_CHECK(static_cast<std::uintmax_t>(npy.in.gcount()) == bytes_wanted,
           "npy file '{}' could not be read: expected {} bytes of data, got {}", path, bytes_wanted,
           npy.in.gcount());
  const std::size_t old = out.size();
  out.resize(old + static_cast<std::size_t>(count));
  convert_elements(npy.dtype, bytes.data(), static_cast<std::size_t>(count), out.data() + old);
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  OpenNpy npy = open_npy(path);
  NpyArray array = describe(npy);
  array.values.reserve(static_cast<std::size_t>(npy.count));
  read_elements(npy, path, npy.count, array.values);
  if (npy.header.fortran_order && array.shape.size() > 1) array.values = fortran_to_c(array.values, array.shape);
  return array;
}

NpyArray read_npy_header(const std::string& path) { return describe(open_npy(path)); }

NpyArray read_npy_rows(const std::string& path, const std::vector<Index>& rows) {
  OpenNpy npy = open_npy(path);
  const std::vector<Index>& shape = npy.header.shape;
  NS_CHECK(!shape.empty(), "npy file '{}' holds a 0-d array; expected at least one axis to select rows from",
           path);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    NS_CHECK(rows[k] >= 0 && rows[k] < shape[0] && (k == 0 || rows[k] > rows[k - 1]),
             "npy file '{}': row {} (position {} of the rows asked for) is out of order or outside [0, {}); "
             "expected strictly ascending row numbers",
             path, rows[k], k, shape[0]);
  }
  NpyArray array = describe(npy);
  array.shape[0] = static_cast<Index>(rows.size());
  const std::uintmax_t row_elements = shape[0] == 0 ? 0 : npy.count / static_cast<std::uintmax_t>(shape[0]);

  if (npy.header.fortran_order && shape.size() > 1) {
    // Fortran order scatters a row over the file; such files are rare, so they are read whole.
    const NpyArray whole = read_npy(path);
    array.values.reserve(rows.size() * row_elements);
    const auto row_length = static_cast<std::ptrdiff_t>(row_elements);
    for (const Index r : rows) {
      const auto first = whole.values.begin() + static_cast<std::ptrdiff_t>(r) * row_length;
      array.values.insert(array.values.end(), first, first + row_length);
    }
    return array;
  }
  // C order: each run of consecutive rows is one seek and one read, of at most about 64 MiB of file bytes.
  const std::uintmax_t row_bytes = std::max<std::uintmax_t>(row_elements * npy.dtype.size, 1);
  const std::size_t longest_run = static_cast<std::size_t>(std::max<std::uintmax_t>((64u << 20) / row_bytes, 1));
  array.values.reserve(rows.size() * row_elements);
  std::size_t k = 0;
  while (k < rows.size()) {
    std::size_t run = 1;
    while (k + run < rows.size() && run < longest_run && rows[k + run] == rows[k] + static_cast<Index>(run)) ++run;
    const std::uintmax_t offset =
        npy.data_start + static_cast<std::uintmax_t>(rows[k]) * row_elements * npy.dtype.size;
    npy.in.seekg(static_cast<std::streamoff>(offset));
    NS_CHECK(npy.in.good(), "npy file '{}' could not be read: seeking to byte {} failed", path, offset);
    read_elements(npy, path, run * row_elements, array.values);
    k += run;
  }
  return array;
}

void write_npy(const std::string& path, const std::vector<Index>& shape, const float* data) {
  write_array(path, shape, data, "<f4");
}
void write_npy(const std::string& path, const std::vector<Index>& shape, const double* data) {
  write_array(path, shape, data, "<f8");
}
void write_npy(const std::string& path, const std::vector<Index>& shape, const std::int32_t* data) {
  write_array(path, shape, data, "<i4");
}
void write_npy(const std::string& path, const std::vector<Index>& shape, const std::int64_t* data) {
  write_array(path, shape, data, "<i8");
}

}  // namespace normscale
