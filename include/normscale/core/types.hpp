// Eigen aliases used everywhere: batch-major, row-major matrices of a scalar type T (float or double).
#pragma once

#include <Eigen/Core>

#include <cstdint>

namespace normscale {

using Index = std::int64_t;

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <class T>
using VectorMap = Eigen::Map<Vector<T>>;

}  // namespace normscale
