// npy reader/writer: round trips of every written dtype and hand-crafted files as numpy writes them.
#include "normscale/core/error.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/data/npy_dataset.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::error_of;

// Raw little-endian bytes of a list of values of one type.
template <class T>
std::string bytes_of(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

class NpyTest : public testing::TempDirTest {
 protected:
  NpyTest() : TempDirTest("normscale_npy_") {}

  // A file laid out by hand as the spec describes: magic, version, header length, dict padded with
  // spaces and a newline to a multiple of 64 bytes, then `data`.
  std::string craft(const std::string& name, const std::string& dict, const std::string& data, int major = 1) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string file = std::string("\x93NUMPY", 6);
    file += static_cast<char>(major);
    file += '\0';
    const std::size_t length = header.size();
    file += static_cast<char>(length & 0xff);
    file += static_cast<char>((length >> 8) & 0xff);
    if (major != 1) file += std::string(2, '\0');
    file += header;
    file += data;
    std::ofstream(path(name), std::ios::binary) << file;
    return path(name);
  }
};

template <class T>
void expect_round_trip(const std::string& file, const std::vector<Index>& shape, const std::vector<T>& values,
                       const std::string& dtype, bool integer) {
  write_npy(file, shape, values.data());
  EXPECT_FALSE(fs::exists(file + ".tmp"));
  const NpyArray read = read_npy(file);
  EXPECT_EQ(read.shape, shape);
  EXPECT_EQ(read.dtype, dtype);
  EXPECT_EQ(read.is_integer, integer);
  ASSERT_EQ(read.values.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(read.values[i], static_cast<double>(values[i])) << i;
  // The spec aligns the data to 64 bytes: file size - data size is the padded header.
  EXPECT_EQ((fs::file_size(file) - values.size() * sizeof(T)) % 64, 0u);
}

TEST_F(NpyTest, RoundTripFloat32) {
  expect_round_trip<float>(path("a.npy"), {2, 3}, {1.5f, -2.25f, 0.0f, 3e-8f, 1e30f, -7.0f}, "<f4", false);
}

TEST_F(NpyTest, RoundTripFloat64) {
  expect_round_trip<double>(path("a.npy"), {4}, {0.1, -1e-300, 12345.678901234, 2.0}, "<f8", false);
}

TEST_F(NpyTest, RoundTripInt32) {
  expect_round_trip<std::int32_t>(path("a.npy"), {1, 2, 2}, {-2147483647 - 1, 2147483647, 0, -5}, "<i4", true);
}

TEST_F(NpyTest, RoundTripInt64) {
  expect_round_trip<std::int64_t>(path("a.npy"), {3, 1}, {-(std::int64_t{1} << 40), 7, std::int64_t{1} << 52},
                                  "<i8", true);
}

TEST_F(NpyTest, RoundTripScalarAndEmpty) {
  expect_round_trip<float>(path("scalar.npy"), {}, {42.0f}, "<f4", false);
  expect_round_trip<double>(path("empty.npy"), {0, 3}, {}, "<f8", false);
}

TEST_F(NpyTest, WrittenHeaderIsWhatNumpyExpects) {
  const std::vector<float> values = {1, 2, 3};
  write_npy(path("a.npy"), {3}, values.data());
  std::ifstream in(path("a.npy"), std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(file.size(), 64u);
  EXPECT_EQ(file.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t length = static_cast<unsigned char>(file[8]) | (static_cast<unsigned char>(file[9]) << 8);
  EXPECT_EQ((10 + length) % 64, 0u);
  const std::string header = file.substr(10, length);
  EXPECT_THAT(header, HasSubstr("'descr': '<f4'"));
  EXPECT_THAT(header, HasSubstr("'fortran_order': False"));
  EXPECT_THAT(header, HasSubstr("'shape': (3,)"));  // a 1-tuple needs its comma in Python
  EXPECT_EQ(header.back(), '\n');
}

TEST_F(NpyTest, ReadsFloat64FeaturesAndInt64Labels) {
  const auto features = craft("X.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
                              bytes_of<double>({0.5, 1.5, 2.5, 3.5, 4.5, 5.5}));
  const auto labels = craft("y.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                            bytes_of<std::int64_t>({2, 0, 4}));
  const Dataset data = load_npy_dataset(features, labels);
  EXPECT_EQ(data.name, features);
  EXPECT_EQ(data.rows, 3);
  EXPECT_EQ(data.cols, 2);
  EXPECT_EQ(data.features, (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{2, 0, 4}));
  EXPECT_EQ(data.num_classes, 5);
  EXPECT_TRUE(data.targets.empty());
}

TEST_F(NpyTest, FortranOrderIsTransposedToCOrder) {
  // numpy.asfortranarray([[1, 2, 3], [4, 5, 6]]) stores its columns one after the other.
  const auto file = craft("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                          bytes_of<float>({1, 4, 2, 5, 3, 6}));
  const NpyArray read = read_npy(file);
  EXPECT_EQ(read.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST_F(NpyTest, FortranOrderThreeDimensions) {
  // Element (i, j, k) of a 2 x 3 x 4 array holds 100 i + 10 j + k; Fortran order runs i fastest.
  std::vector<std::int32_t> fortran;
  for (int k = 0; k < 4; ++k) {
    for (int j = 0; j < 3; ++j) {
      for (int i = 0; i < 2; ++i) fortran.push_back(100 * i + 10 * j + k);
    }
  }
  const auto file =
      craft("f3.npy", "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", bytes_of(fortran));
  const NpyArray read = read_npy(file);
  std::vector<double> expected;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) expected.push_back(100 * i + 10 * j + k);
    }
  }
  EXPECT_EQ(read.values, expected);
}

TEST_F(NpyTest, ReadsChosenRowsOfCOrderFiles) {
  // Row i of a 6 x 2 x 2 array holds 10 i, 10 i + 1, 10 i + 2, 10 i + 3.
  std::vector<double> values;
  for (int i = 0; i < 6; ++i) {
    for (int k = 0; k < 4; ++k) values.push_back(10 * i + k);
  }
  const std::string file = path("x.npy");
  write_npy(file, {6, 2, 2}, values.data());
  const NpyArray header = read_npy_header(file);
  EXPECT_EQ(header.shape, (std::vector<Index>{6, 2, 2}));
  EXPECT_EQ(header.dtype, "<f8");
  EXPECT_TRUE(header.values.empty());
  for (const std::vector<Index>& rows :
       std::vector<std::vector<Index>>{{}, {0}, {5}, {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5}}) {
    const NpyArray read = read_npy_rows(file, rows);
    EXPECT_EQ(read.shape, (std::vector<Index>{static_cast<Index>(rows.size()), 2, 2}));
    std::vector<double> expected;
    for (const Index r : rows) expected.insert(expected.end(), values.begin() + 4 * r, values.begin() + 4 * (r + 1));
    EXPECT_EQ(read.values, expected);
  }
  EXPECT_THAT(error_of([&] { read_npy_rows(file, {2, 1}); }), HasSubstr("ascending"));
  EXPECT_THAT(error_of([&] { read_npy_rows(file, {6}); }), HasSubstr("[0, 6)"));
}

TEST_F(NpyTest, ReadsChosenRowsOfFortranOrderFiles) {
  // numpy.asfortranarray([[1, 2], [3, 4], [5, 6]]) stores its columns one after the other.
  const auto file = craft("f.npy", "{'descr': '<i4', 'fortran_order': True, 'shape': (3, 2), }",
                          bytes_of<std::int32_t>({1, 3, 5, 2, 4, 6}));
  const NpyArray read = read_npy_rows(file, {0, 2});
  EXPECT_EQ(read.shape, (std::vector<Index>{2, 2}));
  EXPECT_EQ(read.values, (std::vector<double>{1, 2, 5, 6}));
  EXPECT_TRUE(read.is_integer);
}

TEST_F(NpyTest, ChosenRowsKeepLabelsTargetsAndTheWholeFilesClasses) {
  const std::vector<float> x = {0, 1, 10, 11, 20, 21, 30, 31};
  const std::vector<std::int64_t> y = {0, 6, 1, 2};
  const std::vector<float> t = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f, 7.5f};
  write_npy(path("X.npy"), {4, 2}, x.data());
  write_npy(path("y.npy"), {4}, y.data());
  write_npy(path("t.npy"), {4, 2}, t.data());
  const Dataset data = load_npy_rows(path("X.npy"), path("y.npy"), {2, 3});
  EXPECT_EQ(data.rows, 2);
  EXPECT_EQ(data.total_rows, 2);
  EXPECT_EQ(data.features, (std::vector<float>{20, 21, 30, 31}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(data.num_classes, 7);  // label 6 is in row 1, not kept
  const Dataset regression = load_npy_rows(path("X.npy"), path("t.npy"), {0, 3});
  EXPECT_EQ(regression.target_cols, 2);
  EXPECT_EQ(regression.targets, (std::vector<float>{0.5f, 1.5f, 6.5f, 7.5f}));
  EXPECT_FALSE(regression.is_classification());
  const Dataset none = load_npy_rows(path("X.npy"), path("y.npy"), {});
  EXPECT_EQ(none.rows, 0);
  EXPECT_EQ(none.cols, 2);
  EXPECT_EQ(none.num_classes, 7);
  EXPECT_TRUE(none.is_classification());
}

TEST_F(NpyTest, ReadsVersion2And3) {
  for (const int major : {2, 3}) {
    const auto file =
        craft(fmt::format("v{}.npy", major), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
              bytes_of<float>({7, 8}), major);
    const NpyArray read = read_npy(file);
    EXPECT_EQ(read.shape, (std::vector<Index>{2}));
    EXPECT_EQ(read.values, (std::vector<double>{7, 8})) << "version " << major;
  }
}

TEST_F(NpyTest, ReadsEverySupportedDtype) {
  const std::string shape = "'fortran_order': False, 'shape': (3,), }";
  struct Case {
    std::string descr;
    std::string data;
    std::vector<double> expected;
  };
  const std::vector<Case> cases = {
      {"|i1", bytes_of<std::int8_t>({-128, 0, 127}), {-128, 0, 127}},
      {"<i2", bytes_of<std::int16_t>({-32768, 1, 32767}), {-32768, 1, 32767}},
      {"<i4", bytes_of<std::int32_t>({-70000, 2, 70000}), {-70000, 2, 70000}},
      {"<i8", bytes_of<std::int64_t>({-(std::int64_t{1} << 40), 3, 9}), {-1099511627776.0, 3, 9}},
      {"|u1", bytes_of<std::uint8_t>({0, 128, 255}), {0, 128, 255}},
      {"<u2", bytes_of<std::uint16_t>({0, 40000, 65535}), {0, 40000, 65535}},
      {"<u4", bytes_of<std::uint32_t>({0, 3000000000u, 4}), {0, 3000000000.0, 4}},
      {"<u8", bytes_of<std::uint64_t>({0, std::uint64_t{1} << 50, 5}), {0, 1125899906842624.0, 5}},
      {"|b1", bytes_of<std::uint8_t>({1, 0, 1}), {1, 0, 1}},
      {"<f4", bytes_of<float>({-0.5f, 0.25f, 8.0f}), {-0.5, 0.25, 8.0}},
      {"<f8", bytes_of<double>({-0.1, 0.2, 1e100}), {-0.1, 0.2, 1e100}},
  };
  for (const Case& c : cases) {
    const auto file = craft("d.npy", "{'descr': '" + c.descr + "', " + shape, c.data);
    const NpyArray read = read_npy(file);
    EXPECT_EQ(read.dtype, c.descr);
    EXPECT_EQ(read.values, c.expected) << c.descr;
    EXPECT_EQ(read.is_integer, c.descr[1] != 'f') << c.descr;
  }
}

TEST_F(NpyTest, BadMagicIsReported) {
  const auto file = path("bad.npy");
  std::ofstream(file, std::ios::binary) << "PK\x03\x04 this is a zip archive, not an npy file";
  const std::string message = error_of([&] { read_npy(file); });
  EXPECT_THAT(message, HasSubstr(file));
  EXPECT_THAT(message, HasSubstr("magic"));
}

TEST_F(NpyTest, UnknownVersionIsReported) {
  const auto file =
      craft("v9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", bytes_of<float>({1}), 1);
  // Patch the major version byte.
  std::fstream patch(file, std::ios::binary | std::ios::in | std::ios::out);
  patch.seekp(6);
  patch.put('\x09');
  patch.close();
  const std::string message = error_of([&] { read_npy(file); });
  EXPECT_THAT(message, HasSubstr(file));
  EXPECT_THAT(message, HasSubstr("version 9.0"));
}

TEST_F(NpyTest, BigEndianIsRejectedWithDtype) {
  const auto file = craft("be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                          std::string("\x3f\x80\x00\x00", 4));
  const std::string message = error_of([&] { read_npy(file); });
  EXPECT_THAT(message, HasSubstr(file));
  EXPECT_THAT(message, HasSubstr("'>f4'"));
  EXPECT_THAT(message, HasSubstr("big-endian"));
}

TEST_F(NpyTest, UnsupportedDtypesAreRejected) {
  for (const std::string descr : {"<c8", "<f2", "<U3", "|O"}) {
    const auto file = craft("u.npy", "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1,), }",
                            std::string(16, '\0'));
    const std::string message = error_of([&] { read_npy(file); });
    EXPECT_THAT(message, HasSubstr(file));
    EXPECT_THAT(message, HasSubstr("'" + descr + "'"));
  }
  const auto structured =
      craft("s.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  EXPECT_THAT(error_of([&] { read_npy(structured); }), HasSubstr("structured"));
}

TEST_F(NpyTest, TruncatedDataSaysExpectedAndGot) {
  const auto file =
      craft("t.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", bytes_of<double>({1, 2}));
  const std::string message = error_of([&] { read_npy(file); });
  EXPECT_THAT(message, HasSubstr(file));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("needs 48 bytes"));
  EXPECT_THAT(message, HasSubstr("got 16"));
}

// Bytes after the data the shape needs: a shape too small (data left out unseen) or bytes appended.
TEST_F(NpyTest, DataAfterWhatTheShapeNeedsIsAnError) {
  const auto file =
      craft("long.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", bytes_of<double>({1, 2, 3}));
  EXPECT_THAT(error_of([&] { read_npy(file); }),
              AllOf(HasSubstr(file), HasSubstr("holds 8 bytes after the 16 bytes of data its shape (1, 2)")));
}

// A malformed header is quoted on one line (its closing newline written as \n).
TEST_F(NpyTest, AMalformedHeaderIsQuotedOnOneLine) {
  const auto file = craft("m.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, }", bytes_of<double>({1, 2}));
  const std::string message = error_of([&] { read_npy(file); });
  EXPECT_THAT(message, HasSubstr("malformed header"));
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

// What numpy would read otherwise (a repeated key's last value) or not at all ("Falsey") is refused, not guessed.
TEST_F(NpyTest, ARepeatedKeyOrAWordAfterFalseIsAMalformedHeader) {
  const std::string data = bytes_of<double>({1, 2, 3, 4, 5, 6});
  EXPECT_THAT(
      error_of([&] {
        read_npy(craft("r.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'shape': (3, 2), }", data));
      }),
      HasSubstr("malformed header ('shape' given 2 times)"));
  EXPECT_THAT(
      error_of([&] { read_npy(craft("f.npy", "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (2, 3), }", data)); }),
      HasSubstr("'fortran_order' is neither True nor False"));
  EXPECT_EQ(read_npy(craft("ok.npy", "{'descr': '<f8', 'fortran_order': False , 'shape': (2, 3), }", data)).shape,
            (std::vector<Index>{2, 3}));
  EXPECT_TRUE(read_npy(craft("t.npy", "{'shape': (2, 3), 'descr': '<f8', 'fortran_order': True}", data)).shape.size() ==
              2);
}

TEST_F(NpyTest, TruncatedHeaderIsReported) {
  const auto file = craft("h.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", "");
  fs::resize_file(file, 30);
  const std::string message = error_of([&] { read_npy(file); });
  EXPECT_THAT(message, HasSubstr(file));
  EXPECT_THAT(message, HasSubstr("truncated"));
}

TEST_F(NpyTest, MissingFileIsNamed) {
  const std::string message = error_of([&] { read_npy(path("nothing.npy")); });
  EXPECT_THAT(message, HasSubstr(path("nothing.npy")));
  EXPECT_THAT(message, HasSubstr("does not exist"));
}

TEST_F(NpyTest, OneDimensionalFeaturesAreAnError) {
  const std::vector<float> x = {1, 2, 3};
  const std::vector<std::int64_t> y = {0, 1, 0};
  write_npy(path("X.npy"), {3}, x.data());
  write_npy(path("y.npy"), {3}, y.data());
  const std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr(path("X.npy")));
  EXPECT_THAT(message, HasSubstr("(3)"));
  EXPECT_THAT(message, HasSubstr("N x d"));
}

TEST_F(NpyTest, MismatchedRowsNameBothFiles) {
  const std::vector<float> x = {1, 2, 3, 4};
  const std::vector<std::int32_t> y = {0, 1, 0};
  write_npy(path("X.npy"), {2, 2}, x.data());
  write_npy(path("y.npy"), {3}, y.data());
  const std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr(path("X.npy")));
  EXPECT_THAT(message, HasSubstr(path("y.npy")));
  EXPECT_THAT(message, HasSubstr("2 examples"));
}

TEST_F(NpyTest, NegativeLabelIsAnError) {
  const std::vector<float> x = {1, 2};
  const std::vector<std::int32_t> y = {0, -1};
  write_npy(path("X.npy"), {2, 1}, x.data());
  write_npy(path("y.npy"), {2}, y.data());
  const std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr(path("y.npy")));
  EXPECT_THAT(message, HasSubstr("label -1 of example 1"));
}

TEST_F(NpyTest, FloatLabelsAreRegressionTargets) {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  const std::vector<float> y1 = {0.5f, -1.5f, 2.0f};
  const std::vector<double> y2 = {1, 2, 3, 4, 5, 6};
  write_npy(path("X.npy"), {3, 2}, x.data());
  write_npy(path("y1.npy"), {3}, y1.data());
  write_npy(path("y2.npy"), {3, 2}, y2.data());

  const Dataset one = load_npy_dataset(path("X.npy"), path("y1.npy"));
  EXPECT_FALSE(one.is_classification());
  EXPECT_EQ(one.target_cols, 1);
  EXPECT_EQ(one.targets, y1);
  EXPECT_EQ(one.num_classes, 0);

  const Dataset two = load_npy_dataset(path("X.npy"), path("y2.npy"));
  EXPECT_EQ(two.target_cols, 2);
  EXPECT_EQ(two.targets, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(NpyTest, IntegerColumnLabelsAndImageFeatures) {
  std::vector<float> images(2 * 3 * 4);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i);
  const std::vector<std::int64_t> y = {1, 3};
  write_npy(path("X.npy"), {2, 3, 4}, images.data());
  write_npy(path("y.npy"), {2, 1}, y.data());
  const Dataset data = load_npy_dataset(path("X.npy"), path("y.npy"));
  EXPECT_EQ(data.cols, 12);
  EXPECT_EQ(data.image.height, 3);
  EXPECT_EQ(data.image.width, 4);
  EXPECT_EQ(data.image.channels, 1);
  EXPECT_EQ(data.features, images);
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{1, 3}));
  EXPECT_EQ(data.num_classes, 4);
}

TEST_F(NpyTest, IntegerMatrixLabelsAreAnError) {
  const std::vector<float> x = {1, 2};
  const std::vector<std::int32_t> y = {0, 1, 1, 0};
  write_npy(path("X.npy"), {2, 1}, x.data());
  write_npy(path("y.npy"), {2, 2}, y.data());
  const std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr(path("y.npy")));
  EXPECT_THAT(message, HasSubstr("(2, 2)"));
}

// ---- Hostile inputs (#12, #18): claims beyond the file, labels that would size the model, non-finite values.

TEST_F(NpyTest, HeaderClaimingMoreThanTheFileHoldsIsRejectedBeforeReading) {
  // 300 KB of data under a header claiming 2^28 rows of 784 float32 features (about 842 GB).
  const auto file = craft("X.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456, 784), }",
                          std::string(300000, '\0'));
  for (const auto& read : std::vector<std::function<void()>>{[&] { read_npy_header(file); },
                                                            [&] { read_npy(file); },
                                                            [&] { read_npy_rows(file, {0}); }}) {
    const std::string message = error_of(read);
    EXPECT_THAT(message, HasSubstr(file));
    EXPECT_THAT(message, HasSubstr("(268435456, 784)"));
    EXPECT_THAT(message, HasSubstr("truncated"));
  }
}

TEST_F(NpyTest, EmptyArrayWithOverflowingDimensionsIsRejected) {
  // Zero rows hold no data, but columns = 2^40 * 2^40 would overflow the feature count.
  const auto file = craft(
      "X.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776, 1099511627776), }", "");
  const std::string message = error_of([&] { read_npy_header(file); });
  EXPECT_THAT(message, HasSubstr(file));
  EXPECT_THAT(message, HasSubstr("(0, 1099511627776, 1099511627776)"));
  EXPECT_THAT(message, HasSubstr("more than 2^59 elements"));
}

TEST_F(NpyTest, HugeLabelIsRejectedNamingFileExampleAndValue) {
  // A mutated label file: one label of 2^31 - 2 once sized an output layer of two billion units.
  const std::vector<float> x = {1, 2, 3};
  const std::vector<std::int64_t> y = {0, 1, 2147483646};
  write_npy(path("X.npy"), {3, 1}, x.data());
  write_npy(path("y.npy"), {3}, y.data());
  const std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr(path("y.npy")));
  EXPECT_THAT(message, HasSubstr("label 2147483646 of example 2"));
  EXPECT_THAT(message, HasSubstr("[0, 100000)"));
  // The largest accepted label still loads.
  const std::vector<std::int64_t> fine = {0, 1, 99999};
  write_npy(path("y.npy"), {3}, fine.data());
  EXPECT_EQ(load_npy_dataset(path("X.npy"), path("y.npy")).num_classes, 100000);
}

TEST_F(NpyTest, NonFiniteFeaturesNameFileExampleAndColumn) {
  const std::vector<std::int32_t> y = {0, 1, 0};
  write_npy(path("y.npy"), {3}, y.data());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> with_nan = {1, 2, 3, 4, 5, nan, 7, 8, 9};
  write_npy(path("X.npy"), {3, 3}, with_nan.data());
  std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr(path("X.npy")));
  EXPECT_THAT(message, HasSubstr("feature 2 of example 1 is nan"));
  // float64 and -inf too; a chosen row is named by its file row.
  const std::vector<double> with_inf = {1, 2, 3, 4, 5, 6, 7, -static_cast<double>(inf), 9};
  write_npy(path("X.npy"), {3, 3}, with_inf.data());
  message = error_of([&] { load_npy_rows(path("X.npy"), path("y.npy"), {0, 2}); });
  EXPECT_THAT(message, HasSubstr(path("X.npy")));
  EXPECT_THAT(message, HasSubstr("feature 1 of example 2 is -inf"));
  // Rows without the bad value load.
  EXPECT_EQ(load_npy_rows(path("X.npy"), path("y.npy"), {0, 1}).rows, 2);
  // A float64 beyond float32's range would be stored as inf (it trained, or evaluated to a null loss, without a word).
  const std::vector<double> huge = {1, 2, 3, 4, 1e300, 6, 7, 8, -1e39};
  write_npy(path("X.npy"), {3, 3}, huge.data());
  message = error_of([&] { load_npy_dataset(path("X.npy"), path("y.npy")); });
  EXPECT_THAT(message, HasSubstr("feature 1 of example 1 is 1e+300; expected finite values within float32's range"));
  message = error_of([&] { load_npy_rows(path("X.npy"), path("y.npy"), {0, 2}); });
  EXPECT_THAT(message, HasSubstr("feature 2 of example 2 is -1e+39"));
  const std::vector<double> largest = {1, 2, std::numeric_limits<float>::max(), 4, 5, 6, 7, 8, 9};
  write_npy(path("X.npy"), {3, 3}, largest.data());
  EXPECT_EQ(load_npy_dataset(path("X.npy"), path("y.npy")).rows, 3);
}

TEST_F(NpyTest, NonFiniteRegressionTargetsAreRejected) {
  const std::vector<float> x = {1, 2, 3};
  const std::vector<double> t = {0.5, std::numeric_limits<double>::infinity(), 1.5};
  write_npy(path("X.npy"), {3, 1}, x.data());
  write_npy(path("t.npy"), {3}, t.data());
  const std::string message = error_of([&] { load_npy_dataset(path("X.npy"), path("t.npy")); });
  EXPECT_THAT(message, HasSubstr(path("t.npy")));
  EXPECT_THAT(message, HasSubstr("regression target 0 of example 1 is inf"));
}

}  // namespace
}  // namespace normscale
