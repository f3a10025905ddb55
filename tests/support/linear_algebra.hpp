// Reference linear algebra for tests: Eigen's decompositions behind plain functions, compiled once in
// normscale_test_support (instantiated in a test file, each cost seconds of that file's compile time).
#pragma once

#include <Eigen/Core>

namespace normscale::testing {

// The Moore-Penrose pseudo-inverse (complete orthogonal decomposition); `threshold` > 0 sets the relative
// size below which a pivot counts as zero (else Eigen's default).
Eigen::MatrixXd pseudo_inverse(const Eigen::MatrixXd& a, double threshold = 0.0);

// An orthonormal basis of the span of a's columns (rows >= cols): the thin Q of a's Householder QR.
Eigen::MatrixXd orthonormal_columns(const Eigen::MatrixXd& a);

// The singular values of `a` in decreasing order (Jacobi SVD).
Eigen::VectorXd singular_values(const Eigen::MatrixXd& a);

}  // namespace normscale::testing
