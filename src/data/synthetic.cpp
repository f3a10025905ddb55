// Generators of the Minnorm paper's toy problems; streams are keyed by (seed, problem, part) so the
// train and test sets of one problem, and different problems, never share random numbers.
#include "normscale/data/synthetic.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/rng.hpp"

#include <cmath>
#include <numbers>

namespace normscale {

namespace {

enum class Problem : std::uint64_t { kSeparable2d = 1, kStudentTeacher = 2, kSinusoid = 3, kPolynomialSine = 4 };
enum class Part : std::uint64_t { kSetup = 0, kTrain = 1, kTest = 2 };

RandomStream stream(std::uint64_t seed, Problem problem, Part part) {
  return RandomStream(seed, StreamPurpose::kSynthetic, static_cast<std::uint64_t>(problem),
                      static_cast<std::uint64_t>(part));
}

Dataset regression_set(const std::string& name, Index cols) {
  Dataset data;
  data.name = name;
  data.cols = cols;
  data.target_cols = 1;
  return data;
}

Dataset binary_set(const std::string& name, Index cols) {
  Dataset data;
  data.name = name;
  data.cols = cols;
  data.num_classes = 2;
  return data;
}

}  // namespace

DataSplits make_linear_chain(double x, double y) {
  Dataset data = regression_set("synthetic:linear-chain", 1);
  data.rows = data.total_rows = 1;
  data.features = {static_cast<float>(x)};
  data.targets = {static_cast<float>(y)};
  DataSplits splits;
  splits.train = data;
  splits.test = data;
  splits.validation = regression_set("synthetic:linear-chain (validation)", 1);
  return splits;
}

DataSplits make_two_point() {
  const auto c = static_cast<float>(1.0 / std::numbers::sqrt2);
  Dataset data = binary_set("synthetic:two-point", 2);
  data.rows = data.total_rows = 2;
  data.features = {c, c, -c, -c};
  data.labels = {1, 0};
  DataSplits splits;
  splits.train = data;
  splits.test = data;
  splits.validation = binary_set("synthetic:two-point (validation)", 2);
  return splits;
}

SeparableProblem make_separable_2d(Index train_examples, double margin, std::uint64_t seed, Index test_examples) {
  NS_CHECK(train_examples > 0 && test_examples >= 0,
           "separable-2d needs train_examples > 0 and test_examples >= 0, got {} and {}; hint: set "
           "data.synthetic_examples",
           train_examples, test_examples);
  // The line passes within 0.25 of the origin, so a band of half-width 0.5 still leaves points on both sides
  // of it and the rejection sampling below always ends.
  NS_CHECK(margin >= 0.0 && margin <= 0.5, "separable-2d needs a margin in [0, 0.5], got {}", margin);
  SeparableProblem problem;
  RandomStream setup = stream(seed, Problem::kSeparable2d, Part::kSetup);
  const double angle = 2.0 * std::numbers::pi * setup.uniform();
  problem.normal[0] = std::cos(angle);
  problem.normal[1] = std::sin(angle);
  problem.offset = 0.5 * (setup.uniform() - 0.5);
  problem.margin = margin;

  const auto sample = [&](Index count, Part part, const std::string& name) {
    RandomStream random = stream(seed, Problem::kSeparable2d, part);
    Dataset data = binary_set(name, 2);
    data.rows = data.total_rows = count;
    for (Index i = 0; i < count; ++i) {
      float x = 0, y = 0;
      double side = 0;
      do {
        // The margin is checked on the stored floats, so rounding cannot move a point into the band.
        x = static_cast<float>(2.0 * random.uniform() - 1.0);
        y = static_cast<float>(2.0 * random.uniform() - 1.0);
        side = problem.normal[0] * x + problem.normal[1] * y - problem.offset;
      } while (std::abs(side) < margin || side == 0.0);
      data.features.push_back(x);
      data.features.push_back(y);
      data.labels.push_back(side > 0 ? 1 : 0);
    }
    return data;
  };
  problem.data.train = sample(train_examples, Part::kTrain, "synthetic:separable-2d");
  problem.data.test = sample(test_examples, Part::kTest, "synthetic:separable-2d (test)");
  problem.data.validation = binary_set("synthetic:separable-2d (validation)", 2);
  return problem;
}

StudentTeacherProblem make_student_teacher(Index train_examples, Index dim, double snr, std::uint64_t seed,
                                           Index test_examples) {
  NS_CHECK(train_examples > 0 && dim > 0 && test_examples >= 0,
           "student-teacher needs examples > 0 and dim > 0, got {} examples of dim {}; hint: set "
           "data.synthetic_examples and data.synthetic_dim",
           train_examples, dim);
  NS_CHECK(snr > 0.0 && std::isfinite(snr), "student-teacher needs a finite SNR > 0 (data.synthetic_snr), got {}",
           snr);
  StudentTeacherProblem problem;
  RandomStream setup = stream(seed, Problem::kStudentTeacher, Part::kSetup);
  problem.teacher.resize(static_cast<std::size_t>(dim));
  for (double& w : problem.teacher) w = setup.normal();

  const double input_sd = 1.0 / std::sqrt(static_cast<double>(dim));
  const double noise_sd = 1.0 / std::sqrt(snr);
  const auto sample = [&](Index count, Part part, const std::string& name) {
    RandomStream random = stream(seed, Problem::kStudentTeacher, part);
    Dataset data = regression_set(name, dim);
    data.rows = data.total_rows = count;
    data.features.reserve(static_cast<std::size_t>(count * dim));
    for (Index i = 0; i < count; ++i) {
      double y = 0;
      for (Index j = 0; j < dim; ++j) {
        // The teacher sees the same float the student will, so y - w . x is exactly the noise (up to rounding).
        const auto x = static_cast<float>(input_sd * random.normal());
        data.features.push_back(x);
        y += problem.teacher[static_cast<std::size_t>(j)] * x;
      }
      data.targets.push_back(static_cast<float>(y + noise_sd * random.normal()));
    }
    return data;
  };
  problem.data.train = sample(train_examples, Part::kTrain, "synthetic:student-teacher");
  problem.data.test = sample(test_examples, Part::kTest, "synthetic:student-teacher (test)");
  problem.data.validation = regression_set("synthetic:student-teacher (validation)", dim);
  return problem;
}

DataSplits make_sinusoid(Index train_examples, std::uint64_t seed, Index test_points) {
  NS_CHECK(train_examples > 0 && test_points >= 0,
           "sinusoid needs train_examples > 0, got {}; hint: set data.synthetic_examples (the paper uses 10)",
           train_examples);
  DataSplits splits;
  RandomStream random = stream(seed, Problem::kSinusoid, Part::kTrain);
  splits.train = regression_set("synthetic:sinusoid", 1);
  splits.train.rows = splits.train.total_rows = train_examples;
  for (Index i = 0; i < train_examples; ++i) {
    const double x = 2.0 * random.uniform() - 1.0;
    splits.train.features.push_back(static_cast<float>(x));
    splits.train.targets.push_back(static_cast<float>(std::sin(std::numbers::pi * x)));
  }
  splits.test = regression_set("synthetic:sinusoid (test)", 1);
  splits.test.rows = splits.test.total_rows = test_points;
  for (Index i = 0; i < test_points; ++i) {
    const double x =
        test_points == 1 ? 0.0 : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(test_points - 1);
    splits.test.features.push_back(static_cast<float>(x));
    splits.test.targets.push_back(static_cast<float>(std::sin(std::numbers::pi * x)));
  }
  splits.validation = regression_set("synthetic:sinusoid (validation)", 1);
  return splits;
}

namespace {

// The features (1, x, ..., x^degree) and the target sin(2 pi 4 x) of one point, appended to `data`.
void add_polynomial_point(Dataset& data, double x, Index degree) {
  double power = 1.0;
  for (Index k = 0; k <= degree; ++k, power *= x) data.features.push_back(static_cast<float>(power));
  data.targets.push_back(static_cast<float>(std::sin(2.0 * std::numbers::pi * 4.0 * x)));
  ++data.rows;
  data.total_rows = data.rows;
}

}  // namespace

DataSplits make_polynomial_sine(Index train_examples, Index degree, bool chebyshev_nodes, std::uint64_t seed,
                                Index test_points) {
  NS_CHECK(train_examples > 0 && degree >= 0 && test_points >= 0,
           "polynomial-sine needs data.synthetic_examples > 0 and data.degree >= 0, got {} and {}; hint: the paper "
           "uses 9 points and degree 4, 30 or 39",
           train_examples, degree);
  DataSplits splits;
  splits.train = regression_set("synthetic:polynomial-sine", degree + 1);
  RandomStream random = stream(seed, Problem::kPolynomialSine, Part::kTrain);
  const auto n = static_cast<double>(train_examples);
  for (Index k = 1; k <= train_examples; ++k) {
    const double x = chebyshev_nodes ? std::cos((2.0 * static_cast<double>(k) - 1.0) * std::numbers::pi / (2.0 * n))
                                     : 2.0 * random.uniform() - 1.0;
    add_polynomial_point(splits.train, x, degree);
  }
  splits.test = regression_set("synthetic:polynomial-sine (test)", degree + 1);
  for (Index i = 0; i < test_points; ++i) {
    const double x =
        test_points == 1 ? 0.0 : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(test_points - 1);
    add_polynomial_point(splits.test, x, degree);
  }
  splits.validation = regression_set("synthetic:polynomial-sine (validation)", degree + 1);
  return splits;
}

}  // namespace normscale
