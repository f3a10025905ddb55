// Reference linear algebra for tests (linear_algebra.hpp).
#include "support/linear_algebra.hpp"

#include <Eigen/QR>
#include <Eigen/SVD>

namespace normscale::testing {

Eigen::MatrixXd pseudo_inverse(const Eigen::MatrixXd& a, double threshold) {
  Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod;
  if (threshold > 0.0) cod.setThreshold(threshold);
  cod.compute(a);
  return cod.pseudoInverse();
}

Eigen::MatrixXd orthonormal_columns(const Eigen::MatrixXd& a) {
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  return qr.householderQ() * Eigen::MatrixXd::Identity(a.rows(), a.cols());
}

Eigen::VectorXd singular_values(const Eigen::MatrixXd& a) {
  return Eigen::JacobiSVD<Eigen::MatrixXd>(a).singularValues();
}

}  // namespace normscale::testing
