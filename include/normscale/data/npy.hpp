// NumPy .npy arrays (format 1.0/2.0/3.0, little-endian, C or Fortran order): read for user data sets,
// write for exporting weights, multipliers and outputs to Python.
#pragma once

#include "normscale/core/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

struct NpyArray {
  std::vector<Index> shape;
  std::string dtype;           // numpy descr as read, e.g. "<f4", "<i8", "|u1"
  std::vector<double> values;  // all elements converted to double, C (row-major) order
  bool is_integer = false;     // the file held an integer or bool dtype
  Index size() const;          // product of shape (1 for a 0-d array)
};

// Reads a .npy file; errors name the file and what was expected (magic, header, dtype, size).
NpyArray read_npy(const std::string& path);

// The header only: shape, dtype and is_integer of the file, values empty. Checked as read_npy does (the file
// must be long enough for its shape).
NpyArray read_npy_header(const std::string& path);

// The rows `rows` (strictly ascending indices along the first axis) of an array of at least one axis: shape[0]
// becomes rows.size(), values hold those rows in C order. For a C-order file each run of consecutive rows is
// one seek and one read, so memory grows with the rows asked for; a Fortran-order file is read whole.
NpyArray read_npy_rows(const std::string& path, const std::vector<Index>& rows);

// Writes a C-order array. The file is written to a temporary name and renamed into place.
void write_npy(const std::string& path, const std::vector<Index>& shape, const float* data);
void write_npy(const std::string& path, const std::vector<Index>& shape, const double* data);
void write_npy(const std::string& path, const std::vector<Index>& shape, const std::int32_t* data);
void write_npy(const std::string& path, const std::vector<Index>& shape, const std::int64_t* data);

}  // namespace normscale
