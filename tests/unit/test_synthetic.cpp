// Synthetic problems: exact values where the paper fixes them, distributions within statistical tolerance.
#include "normscale/core/error.hpp"
#include "normscale/data/synthetic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace normscale {
namespace {

TEST(LinearChain, OneExampleWithTheGivenInputAndTarget) {
  const DataSplits paper = make_linear_chain();
  ASSERT_EQ(paper.train.rows, 1);
  EXPECT_EQ(paper.train.cols, 1);
  EXPECT_EQ(paper.train.features, std::vector<float>{1.0f});
  EXPECT_EQ(paper.train.targets, std::vector<float>{1.0f});
  EXPECT_EQ(paper.train.target_cols, 1);
  EXPECT_FALSE(paper.train.is_classification());
  EXPECT_EQ(paper.test.features, paper.train.features);
  EXPECT_EQ(paper.validation.rows, 0);

  const DataSplits other = make_linear_chain(2.0, -3.0);
  EXPECT_EQ(other.train.features, std::vector<float>{2.0f});
  EXPECT_EQ(other.train.targets, std::vector<float>{-3.0f});
}

TEST(TwoPoint, PointsAndLabelsOfSection33) {
  const DataSplits splits = make_two_point();
  const auto c = static_cast<float>(1.0 / std::sqrt(2.0));
  ASSERT_EQ(splits.train.rows, 2);
  EXPECT_EQ(splits.train.cols, 2);
  EXPECT_EQ(splits.train.features, (std::vector<float>{c, c, -c, -c}));
  EXPECT_EQ(splits.train.labels, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(splits.train.num_classes, 2);
  EXPECT_EQ(splits.test.features, splits.train.features);
  EXPECT_EQ(splits.test.labels, splits.train.labels);
  EXPECT_EQ(splits.validation.rows, 0);
}

// Plain perceptron with bias: it converges within (R / margin)^2 updates exactly when the data are
// linearly separable, which checks separability independently of the line the generator reports.
bool perceptron_separates(const Dataset& data, int max_epochs) {
  double w0 = 0, w1 = 0, b = 0;
  for (int epoch = 0; epoch < max_epochs; ++epoch) {
    bool mistake = false;
    for (Index i = 0; i < data.rows; ++i) {
      const double y = data.labels[static_cast<std::size_t>(i)] == 1 ? 1.0 : -1.0;
      const float* x = data.row(i);
      if (y * (w0 * x[0] + w1 * x[1] + b) <= 0) {
        w0 += y * x[0];
        w1 += y * x[1];
        b += y;
        mistake = true;
      }
    }
    if (!mistake) return true;
  }
  return false;
}

TEST(Separable2d, SeparableWithTheStatedMargin) {
  const double margin = 0.1;
  const SeparableProblem problem = make_separable_2d(500, margin, 7, 300);
  EXPECT_NEAR(std::hypot(problem.normal[0], problem.normal[1]), 1.0, 1e-12);
  EXPECT_LE(std::abs(problem.offset), 0.25);
  for (const Dataset* data : {&problem.data.train, &problem.data.test}) {
    ASSERT_EQ(static_cast<Index>(data->labels.size()), data->rows);
    EXPECT_EQ(data->cols, 2);
    EXPECT_EQ(data->num_classes, 2);
    double closest = 1e9;
    Index positives = 0;
    for (Index i = 0; i < data->rows; ++i) {
      const float* x = data->row(i);
      EXPECT_LE(std::abs(x[0]), 1.0f);
      EXPECT_LE(std::abs(x[1]), 1.0f);
      const double side = problem.normal[0] * x[0] + problem.normal[1] * x[1] - problem.offset;
      EXPECT_EQ(data->labels[static_cast<std::size_t>(i)], side > 0 ? 1 : 0) << "row " << i;
      closest = std::min(closest, std::abs(side));
      positives += side > 0 ? 1 : 0;
    }
    EXPECT_GE(closest, margin);
    // With hundreds of uniform points some land near the edge of the excluded band.
    EXPECT_LT(closest, margin + 0.05);
    EXPECT_GT(positives, data->rows / 10);
    EXPECT_LT(positives, data->rows * 9 / 10);
  }
  EXPECT_EQ(problem.data.train.rows, 500);
  EXPECT_EQ(problem.data.test.rows, 300);
  // Radius <= sqrt(2) + 1 (with the bias input), margin 0.1: far fewer than 1000 epochs are needed.
  EXPECT_TRUE(perceptron_separates(problem.data.train, 1000));
}

TEST(Separable2d, SameSeedSameSetOtherSeedOtherSet) {
  const SeparableProblem a = make_separable_2d(50, 0.1, 3);
  const SeparableProblem b = make_separable_2d(50, 0.1, 3);
  const SeparableProblem c = make_separable_2d(50, 0.1, 4);
  EXPECT_EQ(a.data.train.features, b.data.train.features);
  EXPECT_EQ(a.data.train.labels, b.data.train.labels);
  EXPECT_EQ(a.data.test.features, b.data.test.features);
  EXPECT_NE(a.data.train.features, c.data.train.features);
  EXPECT_NE(a.normal[0], c.normal[0]);
  EXPECT_NE(a.data.train.features, a.data.test.features);
}

TEST(Separable2d, RejectsBadArguments) {
  EXPECT_THROW(make_separable_2d(0, 0.1, 1), Error);
  EXPECT_THROW(make_separable_2d(10, 0.8, 1), Error);
  EXPECT_THROW(make_separable_2d(10, -0.1, 1), Error);
}

TEST(StudentTeacher, InputNoiseAndTeacherHaveThePapersVariances) {
  const Index dim = 200;
  const Index examples = 5000;
  const double snr = 5.0;
  const StudentTeacherProblem problem = make_student_teacher(examples, dim, snr, 11, 2000);
  const Dataset& train = problem.data.train;
  ASSERT_EQ(train.rows, examples);
  ASSERT_EQ(train.cols, dim);
  ASSERT_EQ(static_cast<Index>(problem.teacher.size()), dim);
  EXPECT_EQ(train.target_cols, 1);
  EXPECT_FALSE(train.is_classification());
  EXPECT_EQ(problem.data.test.rows, 2000);

  // x ~ N(0, I/N): 10^6 entries, the standard error of the variance estimate is sqrt(2/10^6)/N.
  double sum = 0, squares = 0;
  for (const float x : train.features) {
    sum += x;
    squares += double{x} * x;
  }
  const auto entries = static_cast<double>(train.features.size());
  const double mean = sum / entries;
  EXPECT_NEAR(mean, 0.0, 5.0 * std::sqrt(1.0 / dim / entries));
  EXPECT_NEAR(squares / entries - mean * mean, 1.0 / dim, 5.0 * std::sqrt(2.0 / entries) / dim);

  // w ~ N(0, I): 200 entries, the variance is within 5 standard errors (sqrt(2/200) = 0.1).
  double teacher_squares = 0;
  for (const double w : problem.teacher) teacher_squares += w * w;
  EXPECT_NEAR(teacher_squares / dim, 1.0, 0.5);

  // eps = y - w . x ~ N(0, 1/SNR), on train and on test (same teacher).
  for (const Dataset* data : {&problem.data.train, &problem.data.test}) {
    double noise_sum = 0, noise_squares = 0;
    for (Index i = 0; i < data->rows; ++i) {
      double clean = 0;
      for (Index j = 0; j < dim; ++j) clean += problem.teacher[static_cast<std::size_t>(j)] * data->row(i)[j];
      const double noise = data->targets[static_cast<std::size_t>(i)] - clean;
      noise_sum += noise;
      noise_squares += noise * noise;
    }
    const auto n = static_cast<double>(data->rows);
    const double noise_mean = noise_sum / n;
    EXPECT_NEAR(noise_mean, 0.0, 5.0 * std::sqrt(1.0 / snr / n));
    EXPECT_NEAR(noise_squares / n - noise_mean * noise_mean, 1.0 / snr, 5.0 * std::sqrt(2.0 / n) / snr);
  }
}

TEST(StudentTeacher, DeterministicPerSeed) {
  const StudentTeacherProblem a = make_student_teacher(20, 10, 5.0, 1);
  const StudentTeacherProblem b = make_student_teacher(20, 10, 5.0, 1);
  const StudentTeacherProblem c = make_student_teacher(20, 10, 5.0, 2);
  EXPECT_EQ(a.teacher, b.teacher);
  EXPECT_EQ(a.data.train.features, b.data.train.features);
  EXPECT_EQ(a.data.train.targets, b.data.train.targets);
  EXPECT_NE(a.teacher, c.teacher);
  EXPECT_NE(a.data.train.features, c.data.train.features);
  EXPECT_EQ(a.data.test.rows, 1000);
}

TEST(StudentTeacher, RejectsBadArguments) {
  EXPECT_THROW(make_student_teacher(0, 10, 5.0, 1), Error);
  EXPECT_THROW(make_student_teacher(10, 0, 5.0, 1), Error);
  EXPECT_THROW(make_student_teacher(10, 10, 0.0, 1), Error);
}

TEST(Sinusoid, TargetsAreOnePeriodOfTheSine) {
  const DataSplits splits = make_sinusoid(10, 5, 21);
  ASSERT_EQ(splits.train.rows, 10);
  EXPECT_EQ(splits.train.cols, 1);
  EXPECT_EQ(splits.train.target_cols, 1);
  for (Index i = 0; i < splits.train.rows; ++i) {
    const float x = splits.train.features[static_cast<std::size_t>(i)];
    EXPECT_GE(x, -1.0f);
    EXPECT_LE(x, 1.0f);
    EXPECT_NEAR(splits.train.targets[static_cast<std::size_t>(i)], std::sin(std::numbers::pi * x), 1e-6);
  }
  ASSERT_EQ(splits.test.rows, 21);
  for (Index i = 0; i < 21; ++i) {
    const double x = -1.0 + 0.1 * static_cast<double>(i);
    EXPECT_NEAR(splits.test.features[static_cast<std::size_t>(i)], x, 1e-6);
    EXPECT_NEAR(splits.test.targets[static_cast<std::size_t>(i)], std::sin(std::numbers::pi * x), 1e-6);
  }
  EXPECT_EQ(make_sinusoid(10, 5).train.features, splits.train.features);
  EXPECT_NE(make_sinusoid(10, 6).train.features, splits.train.features);
}

}  // namespace
}  // namespace normscale
