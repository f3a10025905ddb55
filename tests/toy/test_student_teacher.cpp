// §3.4 of the Minnorm paper: an under-determined deep linear student (three weight layers) learns a
// noisy linear teacher. Minnorm zeroes the end-to-end map in the directions orthogonal to the inputs
// (the frozen subspace of gradient descent), so its test error does not depend on the initial scale.
#include "normscale/data/synthetic.hpp"
#include "support/linear_algebra.hpp"
#include "toy_harness.hpp"

#include <Eigen/Dense>
#include <gtest/gtest.h>

namespace normscale::toy {
namespace {

constexpr Index kDim = 100, kExamples = 50, kHidden = 60;
const MlpSpec kDeepLinear{kDim, {kHidden, kHidden}, 1, "identity", false};

struct Outcome {
  double orthogonal_fraction;  // ||m_perp|| / ||m|| for the end-to-end map m = W3 W2 W1
  double test_error;           // exact expected error: ||m - w||^2 / N + 1/SNR
  double pruned_distance;      // ||m - pinv(X) y|| / ||pinv(X) y||: distance to the pruned solution
};

Outcome train_student(const StudentTeacherProblem& problem, double scale, bool minnorm) {
  ObjectiveConfig objective = minnorm_config("regression", 1.0, 0.01);
  if (!minnorm) objective.regime = "square";
  TrainerOptions options;
  options.lr = 0.002;  // stable for the largest initial scale (end-to-end gain ~100 at scale 3)
  auto run = make_toy_run(problem.data.train, kDeepLinear, objective, options, {}, {"scaled-normal", scale}, 100);
  run->train(5000);
  const auto weights = run->network->weights();
  Eigen::MatrixXd m = weights[2].matrix.cast<double>() * weights[1].matrix.cast<double>() *
                      weights[0].matrix.cast<double>();
  Eigen::MatrixXd x = problem.data.train.feature_matrix().cast<double>();
  // Orthonormal basis of the input span; the rest of m lies in the frozen subspace.
  const Eigen::MatrixXd q = testing::orthonormal_columns(x.transpose());
  Eigen::RowVectorXd perpendicular = m - (m * q) * q.transpose();
  Eigen::RowVectorXd teacher = Eigen::Map<const Eigen::RowVectorXd>(problem.teacher.data(), kDim);
  // The interpolant inside the input span (the network with its frozen subspace pruned) is unique.
  const Eigen::VectorXd y =
      Eigen::Map<const Eigen::VectorXf>(problem.data.train.targets.data(), kExamples).cast<double>();
  const Eigen::RowVectorXd pruned = (testing::pseudo_inverse(x) * y).transpose();
  return {perpendicular.norm() / m.norm(), (m - teacher).squaredNorm() / kDim + 1.0 / 5.0,
          (m - pruned).norm() / pruned.norm()};
}

TEST(StudentTeacher, MinnormPrunesFrozenSubspaceWhateverTheInitialScale) {
  const auto problem = make_student_teacher(kExamples, kDim, 5.0, 3);
  std::vector<double> minnorm_errors, gd_errors;
  for (double scale : {0.1, 1.0, 3.0}) {
    const Outcome mn = train_student(problem, scale, true);
    const Outcome gd = train_student(problem, scale, false);
    EXPECT_LT(mn.orthogonal_fraction, 1e-2) << "scale " << scale;
    EXPECT_LT(mn.pruned_distance, 1e-3) << "scale " << scale;
    minnorm_errors.push_back(mn.test_error);
    gd_errors.push_back(gd.test_error);
    if (scale >= 1.0) {
      EXPECT_GT(gd.orthogonal_fraction, 0.1) << "gradient descent keeps its frozen part";
    }
  }
  const auto spread = [](const std::vector<double>& v) {
    return (*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end())) /
           *std::min_element(v.begin(), v.end());
  };
  EXPECT_LT(spread(minnorm_errors), 1e-3);
  EXPECT_GT(spread(gd_errors), 0.3);
}

}  // namespace
}  // namespace normscale::toy
