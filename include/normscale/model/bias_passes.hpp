// The bias passes of the dense layers (plain and weight-normalised), split over the GEMMs' team. Each entry is
// computed on its own, in a fixed order, so the bits depend neither on the split nor on where the buffers lie
// (Eigen's colwise().sum() into a Map summed the columns its packets covered by a tree and the rest in order,
// which one depended on the address).
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/model/team_parallel.hpp"

#include <algorithm>

namespace normscale {

// Every row of out (rows x cols, row-major) set to the bias: written before a product added to it (beta = 1).
template <class T>
void write_bias_rows(const T* bias, Index rows, Index cols, T* out) {
  for_each_range(rows, indices_per_thread(cols), [bias, out, cols](Index begin, Index end) {
    for (Index r = begin; r < end; ++r) std::copy(bias, bias + cols, out + r * cols);
  });
}

// sum = the column sums of dout (rows x cols, row-major), each column summed in row order: the bias gradient.
// Row by row (contiguous, vectorised), the columns split over the team.
template <class T>
void sum_rows(const T* dout, Index rows, Index cols, T* sum) {
  for_each_range(cols, indices_per_thread(rows), [dout, sum, cols, rows](Index begin, Index end) {
    T* __restrict to = sum;
    std::fill(to + begin, to + end, T(0));
    for (Index r = 0; r < rows; ++r) {
      const T* __restrict row = dout + r * cols;
      for (Index c = begin; c < end; ++c) to[c] += row[c];
    }
  });
}

}  // namespace normscale
