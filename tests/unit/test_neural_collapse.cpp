// Neural collapse metrics against known answers: an exact simplex ETF, hand-computed perturbations,
// and a split accumulation standing in for two ranks.
#include "normscale/metrics/neural_collapse.hpp"

#include "normscale/core/error.hpp"

#include "support/linear_algebra.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace normscale {
namespace {

constexpr double kTight = 1e-9;

// Simplex ETF: column c is sqrt(C/(C-1)) (e_c - 1/C) in the first C of `dim` coordinates.
Matrix<double> simplex_etf(Index classes, Index dim) {
  Matrix<double> m = Matrix<double>::Zero(dim, classes);
  const double scale = std::sqrt(static_cast<double>(classes) / static_cast<double>(classes - 1));
  for (Index c = 0; c < classes; ++c) {
    for (Index i = 0; i < classes; ++i) {
      m(i, c) = scale * ((i == c ? 1.0 : 0.0) - 1.0 / static_cast<double>(classes));
    }
  }
  return m;
}

struct LabelledFeatures {
  Matrix<double> features;
  std::vector<std::int32_t> labels;
};

// `per_class` copies of each class mean (column c of means, shifted by offset).
LabelledFeatures collapsed(const Matrix<double>& means, Index per_class, const Vector<double>& offset) {
  const Index classes = means.cols();
  LabelledFeatures data;
  data.features.resize(classes * per_class, means.rows());
  for (Index c = 0; c < classes; ++c) {
    for (Index i = 0; i < per_class; ++i) {
      data.features.row(c * per_class + i) = (means.col(c) + offset).transpose();
      data.labels.push_back(static_cast<std::int32_t>(c));
    }
  }
  return data;
}

NeuralCollapseMetrics run_all(const LabelledFeatures& data, const Matrix<double>& weight,
                              const Matrix<double>& outputs, Index classes,
                              const NeuralCollapseOptions& options = {}) {
  NeuralCollapseSums sums(classes, data.features.cols());
  sums.accumulate(data.features, data.labels);
  const ClassMeans means = class_means(sums, options.global_mean);
  NearestMeanAgreement agreement;
  agreement.accumulate(data.features, outputs, means);
  return finish_neural_collapse(sums, weight, &agreement, options);
}

TEST(NeuralCollapse, ExactSimplexEtfWithMatchingClassifierGivesZeroForAll) {
  for (Index classes : {2, 3, 5, 10}) {
    const Index dim = classes + 3;
    const Matrix<double> m = simplex_etf(classes, dim);
    // The global mean lies outside the span of M so that it must be subtracted to reach zero.
    Vector<double> offset = Vector<double>::Zero(dim);
    offset[dim - 1] = 4.0;
    offset[dim - 2] = -1.5;
    const LabelledFeatures data = collapsed(m, 7, offset);
    const Matrix<double> weight = 2.5 * m.transpose();
    const Matrix<double> outputs = data.features * weight.transpose();
    const NeuralCollapseMetrics nc = run_all(data, weight, outputs, classes);
    EXPECT_EQ(nc.classes, classes);
    EXPECT_DOUBLE_EQ(nc.examples, 7.0 * static_cast<double>(classes));
    EXPECT_NEAR(nc.nc1, 0.0, kTight) << "C=" << classes;
    EXPECT_NEAR(nc.nc2_equinorm, 0.0, kTight) << "C=" << classes;
    EXPECT_NEAR(nc.nc2_equiangularity, 0.0, kTight) << "C=" << classes;
    EXPECT_NEAR(nc.nc3, 0.0, kTight) << "C=" << classes;
    EXPECT_NEAR(nc.nc4, 0.0, kTight) << "C=" << classes;
  }
}

TEST(NeuralCollapse, FloatFeaturesAndWeightsGiveTheSameAnswer) {
  const Matrix<double> m = simplex_etf(3, 4);
  const LabelledFeatures data = collapsed(m, 4, Vector<double>::Zero(4));
  const Matrix<float> features = data.features.cast<float>();
  const Matrix<float> weight = m.transpose().cast<float>();
  NeuralCollapseSums sums(3, 4);
  sums.accumulate(features, data.labels);
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, weight);
  EXPECT_NEAR(nc.nc1, 0.0, 1e-6);
  EXPECT_NEAR(nc.nc2_equiangularity, 0.0, 1e-6);
  EXPECT_NEAR(nc.nc3, 0.0, 1e-6);
  EXPECT_TRUE(std::isnan(nc.nc4));  // no pass 2
}

// C = 2 in the plane: class means -+e1, two points per class at mu_c +- a e1 +- b e2.
// Sigma_W = diag(a^2, b^2), Sigma_B = diag(1, 0): Sigma_B^+ = diag(1, 0), NC1 = a^2 / 2. The e2
// noise lies in the null space of Sigma_B and must not count.
TEST(NeuralCollapse, TwoClassWithinNoiseGivesHandComputedNc1) {
  const double a = 0.3;
  const double b = 0.7;
  LabelledFeatures data;
  data.features.resize(8, 2);
  Index row = 0;
  for (std::int32_t c = 0; c < 2; ++c) {
    const double centre = c == 0 ? -1.0 : 1.0;
    for (double sx : {-1.0, 1.0}) {
      for (double sy : {-1.0, 1.0}) {
        data.features.row(row++) << centre + sx * a, sy * b;
        data.labels.push_back(c);
      }
    }
  }
  NeuralCollapseSums sums(2, 2);
  sums.accumulate(data.features, data.labels);
  Matrix<double> weight(2, 2);
  weight << -1.0, 0.0, 1.0, 0.0;
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, weight);
  EXPECT_NEAR(nc.nc1, a * a / 2.0, kTight);
  EXPECT_NEAR(nc.within_trace, a * a + b * b, kTight);
  EXPECT_NEAR(nc.between_trace, 1.0, kTight);
  EXPECT_NEAR(nc.nc2_equinorm, 0.0, kTight);
  EXPECT_NEAR(nc.nc2_equiangularity, 0.0, kTight);  // cos = -1 = -1/(C-1)
  EXPECT_NEAR(nc.nc3, 0.0, kTight);

  // The binary network with one output row w = e1 is the same classifier.
  Matrix<double> single(1, 2);
  single << 1.0, 0.0;
  EXPECT_NEAR(finish_neural_collapse(sums, single).nc3, 0.0, kTight);
  // ... and w = -e1 is the opposite one: W^T/||W|| = -M/||M||, so NC3 = ||2 M/||M|| ||^2 = 4.
  EXPECT_NEAR(finish_neural_collapse(sums, Matrix<double>(-single)).nc3, 4.0, kTight);
}

// C = 3 ETF of radius r in the plane: Sigma_B = (r^2/2) I, so with within-class noise +- a e1,
// Sigma_W = diag(a^2, 0) and NC1 = Tr(diag(a^2,0) (2/r^2) I) / 3 = 2 a^2 / (3 r^2).
TEST(NeuralCollapse, ThreeClassWithinNoiseGivesHandComputedNc1) {
  const double r = 2.0;
  const double a = 0.25;
  LabelledFeatures data;
  data.features.resize(6, 2);
  for (std::int32_t c = 0; c < 3; ++c) {
    const double angle = 2.0 * std::numbers::pi * c / 3.0;
    for (Index s = 0; s < 2; ++s) {
      data.features.row(2 * c + s) << r * std::cos(angle) + (s == 0 ? -a : a), r * std::sin(angle);
      data.labels.push_back(c);
    }
  }
  NeuralCollapseSums sums(3, 2);
  sums.accumulate(data.features, data.labels);
  Matrix<double> weight(3, 2);
  for (Index c = 0; c < 3; ++c) {
    const double angle = 2.0 * std::numbers::pi * static_cast<double>(c) / 3.0;
    weight.row(c) << std::cos(angle), std::sin(angle);
  }
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, weight);
  EXPECT_NEAR(nc.nc1, 2.0 * a * a / (3.0 * r * r), kTight);
  EXPECT_NEAR(nc.nc2_equinorm, 0.0, kTight);
  EXPECT_NEAR(nc.nc2_equiangularity, 0.0, kTight);
  EXPECT_NEAR(nc.nc3, 0.0, kTight);
}

// Cross-polytope means +-e1 (classes 0, 1) and +-e2 (classes 2, 3), the first pair scaled by s:
// mu_G stays 0, norms (s, s, 1, 1): equinorm = |s - 1| / (s + 1). Each mean has one antipode
// (|-1 + 1/3| = 2/3) and two orthogonal ones (|0 + 1/3| = 1/3): equiangularity = 4/9.
TEST(NeuralCollapse, ScaledClassMeansGiveKnownEquinormAndEquiangularity) {
  const double s = 3.0;
  Matrix<double> means(2, 4);
  means << s, -s, 0.0, 0.0,  //
      0.0, 0.0, 1.0, -1.0;
  const LabelledFeatures data = collapsed(means, 3, Vector<double>::Zero(2));
  NeuralCollapseSums sums(4, 2);
  sums.accumulate(data.features, data.labels);
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, Matrix<double>(means.transpose()));
  EXPECT_NEAR(nc.nc2_equinorm, (s - 1.0) / (s + 1.0), kTight);
  EXPECT_NEAR(nc.nc2_equiangularity, 4.0 / 9.0, kTight);
  EXPECT_NEAR(nc.nc1, 0.0, kTight);
  EXPECT_NEAR(nc.nc3, 0.0, kTight);
}

// Features that all died (every class mean the global mean) have no between-class spread: NC1 and the angles are
// undefined, not 0 (perfect collapse) and 1/(C-1). One class mean at the global mean leaves its angles undefined.
TEST(NeuralCollapse, ClassMeansWithoutSpreadGiveUndefinedNotPerfectFigures) {
  const LabelledFeatures dead = collapsed(Matrix<double>::Zero(2, 3), 2, Vector<double>::Ones(2));
  NeuralCollapseSums sums(3, 2);
  sums.accumulate(dead.features, dead.labels);
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, Matrix<double>::Ones(3, 2));
  EXPECT_TRUE(std::isnan(nc.nc1)) << nc.nc1;
  EXPECT_TRUE(std::isnan(nc.nc2_equiangularity)) << nc.nc2_equiangularity;
  EXPECT_TRUE(std::isnan(nc.nc2_equinorm));
  Matrix<double> means(2, 3);  // class 2 at the global mean (0, 0)
  means << 1.0, -1.0, 0.0,     //
      0.0, 0.0, 0.0;
  const LabelledFeatures one_at_mean = collapsed(means, 2, Vector<double>::Zero(2));
  NeuralCollapseSums some(3, 2);
  some.accumulate(one_at_mean.features, one_at_mean.labels);
  const NeuralCollapseMetrics partly = finish_neural_collapse(some, Matrix<double>(means.transpose()));
  EXPECT_TRUE(std::isnan(partly.nc2_equiangularity));
  EXPECT_NEAR(partly.nc1, 0.0, kTight);  // the spread there is, with no within-class scatter
}

// Classifier = class means rotated by theta in their plane: with A = M/||M||_F,
// ||R A - A||^2 = 2 - 2 <R A, A> = 2 - 2 cos(theta).
TEST(NeuralCollapse, RotatedClassifierGivesKnownNc3) {
  const Matrix<double> m = simplex_etf(3, 3);
  // An orthonormal basis of the plane orthogonal to (1,1,1), which holds the ETF.
  Vector<double> u(3), v(3);
  u << 1.0, -1.0, 0.0;
  v << 1.0, 1.0, -2.0;
  u.normalize();
  v.normalize();
  const LabelledFeatures data = collapsed(m, 2, Vector<double>::Zero(3));
  NeuralCollapseSums sums(3, 3);
  sums.accumulate(data.features, data.labels);
  for (double theta : {0.0, 0.1, 0.5, std::numbers::pi / 2.0, 2.0}) {
    const Matrix<double> rotation = Matrix<double>::Identity(3, 3) +
                                    std::sin(theta) * (v * u.transpose() - u * v.transpose()) +
                                    (std::cos(theta) - 1.0) * (u * u.transpose() + v * v.transpose());
    const Matrix<double> weight = 0.7 * (rotation * m).transpose();
    EXPECT_NEAR(finish_neural_collapse(sums, weight).nc3, 2.0 - 2.0 * std::cos(theta), kTight)
        << "theta=" << theta;
  }
}

TEST(NeuralCollapse, Nc4CountsNetworkDisagreementsWithNearestClassMean) {
  const Matrix<double> m = simplex_etf(3, 4);
  const LabelledFeatures data = collapsed(m, 5, Vector<double>::Zero(4));  // 15 examples
  NeuralCollapseSums sums(3, 4);
  sums.accumulate(data.features, data.labels);
  const ClassMeans means = class_means(sums);
  Matrix<double> outputs = Matrix<double>::Zero(15, 3);
  for (Index r = 0; r < 15; ++r) outputs(r, data.labels[static_cast<std::size_t>(r)]) = 1.0;
  for (Index r : {0, 6, 14}) outputs(r, (data.labels[static_cast<std::size_t>(r)] + 1) % 3) = 2.0;
  NearestMeanAgreement agreement;
  agreement.accumulate(data.features, outputs, means);
  EXPECT_DOUBLE_EQ(agreement.disagreements(), 3.0);
  EXPECT_DOUBLE_EQ(agreement.examples(), 15.0);
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, Matrix<double>(m.transpose()), &agreement);
  EXPECT_NEAR(nc.nc4, 3.0 / 15.0, kTight);
}

TEST(NeuralCollapse, BinaryOneOutputNc4UsesTheSignOfTheOutput) {
  Matrix<double> features(4, 1);
  features << -1.0, -1.0, 1.0, 1.0;
  const std::vector<std::int32_t> labels = {0, 0, 1, 1};
  NeuralCollapseSums sums(2, 1);
  sums.accumulate(features, labels);
  Matrix<double> outputs(4, 1);
  outputs << -0.5, 0.5, 0.5, 0.5;  // row 1 disagrees
  NearestMeanAgreement agreement;
  agreement.accumulate(features, outputs, class_means(sums));
  EXPECT_DOUBLE_EQ(agreement.disagreements(), 1.0);
}

Matrix<double> random_matrix(Index rows, Index cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  Matrix<double> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(gen);
  return x;
}

// Two halves accumulated apart and summed through flat() (what two ranks and an allreduce do)
// equal one accumulation of everything; so do the metrics, including NC4 from summed counts.
TEST(NeuralCollapse, SplitAccumulationSummedThroughFlatEqualsWhole) {
  const Index classes = 4;
  const Index dim = 6;
  const Index rows = 41;
  const Matrix<double> features = random_matrix(rows, dim, 1);
  const Matrix<double> weight = random_matrix(classes, dim, 2);
  const Matrix<double> outputs = features * weight.transpose();
  std::vector<std::int32_t> labels;
  for (Index r = 0; r < rows; ++r) labels.push_back(static_cast<std::int32_t>((r * 7) % classes));
  const std::span<const std::int32_t> all(labels);

  NeuralCollapseSums whole(classes, dim);
  whole.accumulate(features, all);
  const Index split = 17;
  NeuralCollapseSums first(classes, dim);
  NeuralCollapseSums second(classes, dim);
  first.accumulate(features.topRows(split), all.first(static_cast<std::size_t>(split)));
  second.accumulate(features.bottomRows(rows - split), all.subspan(static_cast<std::size_t>(split)));
  ASSERT_EQ(first.flat().size(), whole.flat().size());
  for (std::size_t i = 0; i < first.flat().size(); ++i) first.flat()[i] += second.flat()[i];
  for (std::size_t i = 0; i < whole.flat().size(); ++i) {
    EXPECT_NEAR(first.flat()[i], whole.flat()[i], 1e-12 * (1.0 + std::abs(whole.flat()[i]))) << i;
  }

  const ClassMeans means = class_means(whole);
  NearestMeanAgreement agree_whole;
  agree_whole.accumulate(features, outputs, means);
  NearestMeanAgreement agree_first;
  NearestMeanAgreement agree_second;
  agree_first.accumulate(features.topRows(split), outputs.topRows(split), class_means(first));
  agree_second.accumulate(features.bottomRows(rows - split), outputs.bottomRows(rows - split),
                          class_means(first));
  for (std::size_t i = 0; i < 2; ++i) agree_first.flat()[i] += agree_second.flat()[i];
  EXPECT_EQ(agree_first.flat(), agree_whole.flat());

  const NeuralCollapseMetrics a = finish_neural_collapse(whole, weight, &agree_whole);
  const NeuralCollapseMetrics b = finish_neural_collapse(first, weight, &agree_first);
  EXPECT_NEAR(a.nc1, b.nc1, 1e-10 * a.nc1);
  EXPECT_NEAR(a.nc2_equinorm, b.nc2_equinorm, 1e-12);
  EXPECT_NEAR(a.nc2_equiangularity, b.nc2_equiangularity, 1e-12);
  EXPECT_NEAR(a.nc3, b.nc3, 1e-12);
  EXPECT_DOUBLE_EQ(a.nc4, b.nc4);
  EXPECT_GT(a.nc1, 0.0);  // random features: far from collapse
}

// NC1 against a direct computation: Sigma_W from centred features, Sigma_B^+ by Eigen's
// CompleteOrthogonalDecomposition.
TEST(NeuralCollapse, Nc1MatchesDirectComputation) {
  const Index classes = 3;
  const Index dim = 5;
  const Index rows = 30;
  Matrix<double> features = random_matrix(rows, dim, 3);
  std::vector<std::int32_t> labels;
  for (Index r = 0; r < rows; ++r) {
    labels.push_back(static_cast<std::int32_t>(r % classes));
    features(r, r % classes) += 3.0;  // separated classes
  }
  NeuralCollapseSums sums(classes, dim);
  sums.accumulate(features, labels);
  const ClassMeans means = class_means(sums);
  Eigen::MatrixXd sigma_w = Eigen::MatrixXd::Zero(dim, dim);
  for (Index r = 0; r < rows; ++r) {
    const Eigen::VectorXd d = (features.row(r) - means.means.row(labels[static_cast<std::size_t>(r)])).transpose();
    sigma_w += d * d.transpose() / static_cast<double>(rows);
  }
  Eigen::MatrixXd sigma_b = Eigen::MatrixXd::Zero(dim, dim);
  for (Index c = 0; c < classes; ++c) {
    const Eigen::VectorXd d = means.means.row(c).transpose() - means.global_mean;
    sigma_b += d * d.transpose() / static_cast<double>(classes);
  }
  const double expected = (sigma_w * testing::pseudo_inverse(sigma_b, 1e-10)).trace() / static_cast<double>(classes);
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, random_matrix(classes, dim, 4));
  EXPECT_NEAR(nc.nc1, expected, 1e-9 * expected);
}

// Unbalanced classes: the example mean and the class average differ; with the class average an
// ETF stays an ETF whatever the class sizes.
TEST(NeuralCollapse, GlobalMeanRuleMattersOnlyForUnbalancedClasses) {
  const Matrix<double> m = simplex_etf(3, 3);
  LabelledFeatures data;
  const std::vector<Index> sizes = {1, 2, 6};
  data.features.resize(9, 3);
  Index row = 0;
  for (std::int32_t c = 0; c < 3; ++c) {
    for (Index i = 0; i < sizes[static_cast<std::size_t>(c)]; ++i) {
      data.features.row(row++) = m.col(c).transpose();
      data.labels.push_back(c);
    }
  }
  NeuralCollapseSums sums(3, 3);
  sums.accumulate(data.features, data.labels);
  NeuralCollapseOptions balanced;
  balanced.global_mean = GlobalMean::kClassAverage;
  const NeuralCollapseMetrics by_class = finish_neural_collapse(sums, Matrix<double>(m.transpose()), nullptr, balanced);
  EXPECT_NEAR(by_class.nc2_equinorm, 0.0, kTight);
  EXPECT_NEAR(by_class.nc2_equiangularity, 0.0, kTight);
  EXPECT_NEAR(by_class.nc3, 0.0, kTight);
  const NeuralCollapseMetrics by_example = finish_neural_collapse(sums, Matrix<double>(m.transpose()));
  EXPECT_GT(by_example.nc2_equinorm, 1e-3);
  const ClassMeans means = class_means(sums, GlobalMean::kExampleMean);
  const Vector<double> expected = (1.0 * m.col(0) + 2.0 * m.col(1) + 6.0 * m.col(2)) / 9.0;
  EXPECT_NEAR((means.global_mean - expected).norm(), 0.0, kTight);
}

TEST(NeuralCollapse, AbsentClassesAreLeftOutAndOneClassIsAnError) {
  const Matrix<double> m = simplex_etf(3, 4);
  const LabelledFeatures data = collapsed(m, 2, Vector<double>::Zero(4));
  NeuralCollapseSums sums(4, 4);  // class 3 has no examples
  sums.accumulate(data.features, data.labels);
  Matrix<double> weight = Matrix<double>::Zero(4, 4);
  weight.topRows(3) = m.transpose();
  weight.row(3).setConstant(100.0);  // must be ignored
  const NeuralCollapseMetrics nc = finish_neural_collapse(sums, weight);
  EXPECT_EQ(nc.classes, 3);
  EXPECT_NEAR(nc.nc2_equiangularity, 0.0, kTight);
  EXPECT_NEAR(nc.nc3, 0.0, kTight);

  NeuralCollapseSums lonely(2, 4);
  lonely.accumulate(data.features.topRows(2), std::vector<std::int32_t>{0, 0});
  EXPECT_THROW(finish_neural_collapse(lonely, Matrix<double>(Matrix<double>::Ones(2, 4))), Error);
  EXPECT_THROW(lonely.accumulate(data.features.topRows(1), std::vector<std::int32_t>{2}), Error);
  EXPECT_THROW(finish_neural_collapse(sums, Matrix<double>(Matrix<double>::Ones(3, 4))), Error);
}

}  // namespace
}  // namespace normscale
