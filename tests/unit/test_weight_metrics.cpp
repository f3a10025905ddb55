// Weight metrics against known singular values and against Eigen's SVD.
#include "normscale/metrics/weight_metrics.hpp"

#include "normscale/core/error.hpp"

#include "support/linear_algebra.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace normscale {
namespace {

Matrix<double> random_matrix(Index rows, Index cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(gen);
  return m;
}

// A random matrix with orthonormal columns (rows >= cols).
Matrix<double> random_orthonormal(Index rows, Index cols, unsigned seed) {
  return testing::orthonormal_columns(random_matrix(rows, cols, seed));
}

// U diag(s) V^T with random orthonormal U (rows x k) and V (cols x k): singular values known.
Matrix<double> with_singular_values(Index rows, Index cols, const std::vector<double>& s, unsigned seed) {
  const Index k = static_cast<Index>(s.size());
  Vector<double> diag(k);
  for (Index i = 0; i < k; ++i) diag[i] = s[static_cast<std::size_t>(i)];
  return random_orthonormal(rows, k, seed) * diag.asDiagonal() *
         random_orthonormal(cols, k, seed + 1000).transpose();
}

template <class T>
std::vector<NamedWeight<T>> named(const std::vector<Matrix<T>>& matrices) {
  std::vector<NamedWeight<T>> weights;
  for (std::size_t i = 0; i < matrices.size(); ++i) {
    weights.push_back({"layer" + std::to_string(i + 1),
                       ConstMatrixMap<T>(matrices[i].data(), matrices[i].rows(), matrices[i].cols())});
  }
  return weights;
}

TEST(WeightMetrics, KnownSingularValuesGiveExactNormsAndTotals) {
  // Layer 1: singular values (3, 2, 1); layer 2: (4, 1, 0.5) in a 5 x 3 matrix.
  const std::vector<Matrix<double>> w = {with_singular_values(3, 3, {3, 2, 1}, 1),
                                         with_singular_values(5, 3, {4, 1, 0.5}, 2)};
  const WeightMetrics m = compute_weight_metrics(named(w));
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].name, "layer1");
  EXPECT_EQ(m.layers[1].name, "layer2");
  EXPECT_NEAR(m.layers[0].frobenius, std::sqrt(14.0), 1e-12);
  EXPECT_NEAR(m.layers[0].spectral, 3.0, 3.0 * 1e-6);
  EXPECT_NEAR(m.layers[0].stable_rank, 14.0 / 9.0, 1e-5);
  EXPECT_NEAR(m.layers[1].frobenius, std::sqrt(17.25), 1e-12);
  EXPECT_NEAR(m.layers[1].spectral, 4.0, 4.0 * 1e-6);
  EXPECT_NEAR(m.layers[1].stable_rank, 17.25 / 16.0, 1e-5);
  EXPECT_TRUE(m.layers[0].converged);
  EXPECT_NEAR(m.weight_norm, 31.25, 1e-10);
  EXPECT_NEAR(m.rho, std::sqrt(14.0 * 17.25), 1e-10);
  const double bound = std::sqrt(9.0 * 16.0 * (14.0 / 9.0 + 17.25 / 16.0));
  EXPECT_NEAR(m.capacity_bound, bound, bound * 1e-5);
}

TEST(WeightMetrics, RotatedDiagonalWithStartVectorOrthogonalToOnes) {
  // diag(3,2,1) rotated so the top right-singular vector is orthogonal to (1,1,1): a constant start
  // vector would converge to 2, not 3.
  Matrix<double> v(3, 3);
  v.col(0) = Vector<double>::Map(std::vector<double>{1, -1, 0}.data(), 3) / std::sqrt(2.0);
  v.col(1) = Vector<double>::Map(std::vector<double>{1, 1, 1}.data(), 3) / std::sqrt(3.0);
  v.col(2) = Vector<double>::Map(std::vector<double>{1, 1, -2}.data(), 3) / std::sqrt(6.0);
  Matrix<double> d = Matrix<double>::Zero(3, 3);
  d.diagonal() << 3, 2, 1;
  const std::vector<Matrix<double>> w = {Matrix<double>(d * v.transpose())};
  const WeightMetrics m = compute_weight_metrics(named(w));
  EXPECT_NEAR(m.layers[0].spectral, 3.0, 3.0 * 1e-6);
}

TEST(WeightMetrics, RandomMatricesMatchSvd) {
  for (unsigned seed = 10; seed < 15; ++seed) {
    const Index rows = 20 + seed, cols = 37 - seed;
    const Matrix<double> w = random_matrix(rows, cols, seed);
    const Eigen::MatrixXd dense = w;
    const Eigen::VectorXd s = testing::singular_values(dense);
    const WeightMetrics m = compute_weight_metrics(named(std::vector<Matrix<double>>{w}));
    EXPECT_NEAR(m.layers[0].spectral, s[0], 1e-5 * s[0]) << "seed " << seed;
    EXPECT_NEAR(m.layers[0].frobenius, s.norm(), 1e-10 * s.norm());
    EXPECT_NEAR(m.layers[0].stable_rank, s.squaredNorm() / (s[0] * s[0]), 1e-5 * s.squaredNorm());
  }
}

TEST(WeightMetrics, FloatWeightsAreEvaluatedInDouble) {
  const Matrix<double> wd = with_singular_values(40, 30, {7, 6.5, 3, 1}, 3);
  const Matrix<float> wf = wd.cast<float>();
  const Eigen::VectorXd s = testing::singular_values(wf.cast<double>());
  const WeightMetrics m = compute_weight_metrics(named(std::vector<Matrix<float>>{wf}));
  EXPECT_NEAR(m.layers[0].spectral, s[0], 1e-5 * s[0]);
  EXPECT_NEAR(m.layers[0].spectral, 7.0, 1e-5 * 7.0);  // float rounding of W is ~1e-7 relative
}

TEST(WeightMetrics, CloseTopSingularValuesStillWithinTolerance) {
  const std::vector<Matrix<double>> w = {with_singular_values(30, 20, {3.0, 2.9, 1.0}, 4)};
  const WeightMetrics m = compute_weight_metrics(named(w));
  EXPECT_NEAR(m.layers[0].spectral, 3.0, 3.0 * 1e-5);
}

TEST(SpectralNormTracker, PersistentVectorsConvergeFasterOnLaterCalls) {
  std::vector<Matrix<double>> w = {random_matrix(50, 40, 21), random_matrix(10, 50, 22)};
  SpectralNormTracker tracker;
  const WeightMetrics first = tracker.evaluate(named(w));
  const WeightMetrics second = tracker.evaluate(named(w));
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_GT(first.layers[l].iterations, 5) << l;
    EXPECT_LE(second.layers[l].iterations, 3) << l;
    EXPECT_NEAR(second.layers[l].spectral, first.layers[l].spectral, 1e-6 * first.layers[l].spectral);
  }
  // A small training-like update: still fewer iterations than a fresh tracker needs.
  w[0] += 1e-3 * random_matrix(50, 40, 23);
  const WeightMetrics third = tracker.evaluate(named(w));
  const WeightMetrics fresh = compute_weight_metrics(named(w));
  EXPECT_LT(third.layers[0].iterations, fresh.layers[0].iterations);
  EXPECT_NEAR(third.layers[0].spectral, fresh.layers[0].spectral, 1e-5 * fresh.layers[0].spectral);
}

TEST(SpectralNormTracker, ShapeChangeRestartsThatLayer) {
  SpectralNormTracker tracker;
  tracker.evaluate(named(std::vector<Matrix<double>>{random_matrix(8, 6, 31)}));
  const std::vector<Matrix<double>> other = {with_singular_values(9, 4, {5, 2}, 32)};
  const WeightMetrics m = tracker.evaluate(named(other));
  EXPECT_NEAR(m.layers[0].spectral, 5.0, 5.0 * 1e-6);
}

TEST(WeightMetrics, ZeroLayerGivesZeroSpectralNormAndBound) {
  const std::vector<Matrix<double>> w = {Matrix<double>::Zero(4, 3), with_singular_values(3, 4, {2}, 5)};
  const WeightMetrics m = compute_weight_metrics(named(w));
  EXPECT_EQ(m.layers[0].spectral, 0.0);
  EXPECT_EQ(m.layers[0].stable_rank, 0.0);
  EXPECT_NEAR(m.layers[1].spectral, 2.0, 2e-6);
  EXPECT_NEAR(m.weight_norm, 4.0, 1e-12);
  EXPECT_EQ(m.rho, 0.0);
  EXPECT_EQ(m.capacity_bound, 0.0);
}

TEST(WeightMetrics, NonFiniteWeightIsAnErrorNamingTheLayer) {
  std::vector<Matrix<double>> w = {random_matrix(3, 3, 6), random_matrix(3, 3, 7)};
  w[1](1, 2) = std::nan("");
  try {
    compute_weight_metrics(named(w));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(compute_weight_metrics(std::vector<NamedWeight<double>>{}), Error);
}

}  // namespace
}  // namespace normscale
