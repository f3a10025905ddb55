// The toy problems of the Minnorm paper (papers/minnorm-training.md, Fig. 1, Fig. 2, §3.2–3.4), with
// known answers for the toy tests. Every generator is a pure function of its arguments and seed.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>
#include <vector>

namespace normscale {

// §3.2: one example (x, y) for the chain y_hat = w2 w1 x; the paper uses x = y = 1, whose
// minimum-norm solution is w1 = w2 = ±1. Regression; test = train, no validation.
DataSplits make_linear_chain(double x = 1.0, double y = 1.0);

// §3.3: x1 = (1, 1)/sqrt(2) with label 1 (the positive class), x2 = -(1, 1)/sqrt(2) with label 0.
// Binary classification (num_classes 2); the max-margin weight vector is x1. Test = train.
DataSplits make_two_point();

// Fig. 2: points uniform in [-1, 1]^2 labelled by which side of a random line they fall on (label 1:
// normal . x > offset). Points closer than `margin` to the line are resampled, so the set is linearly
// separable with geometric margin at least `margin`.
struct SeparableProblem {
  DataSplits data;
  double normal[2] = {0, 0};  // unit normal of the labelling line
  double offset = 0;          // the line is normal . x = offset
  double margin = 0;          // every point lies at least this far from the line
};
SeparableProblem make_separable_2d(Index train_examples, double margin, std::uint64_t seed,
                                   Index test_examples = 1000);

// §3.4: teacher w ~ N(0, I_N), inputs x ~ N(0, I/N), targets y = w . x + eps with eps ~ N(0, 1/SNR).
// Train has `train_examples` (P) rows, test `test_examples` rows from the same distribution.
struct StudentTeacherProblem {
  DataSplits data;
  std::vector<double> teacher;  // w, length N
};
StudentTeacherProblem make_student_teacher(Index train_examples, Index dim, double snr, std::uint64_t seed,
                                           Index test_examples = 1000);

// Fig. 1: a scalar input x uniform in [-1, 1] with target sin(pi x) (one period of a sinusoid; the
// paper fits ten points). The test set is an even grid of `test_points` over [-1, 1], for plotting
// the learned function and measuring how well it generalises between the training points.
DataSplits make_sinusoid(Index train_examples, std::uint64_t seed, Index test_points = 201);

// Theory III Fig. 5-7 (degenerate linear regression): target sin(2 pi 4 x) on [-1, 1], features the
// monomials Phi(x) = (1, x, ..., x^degree), so y = W Phi(x) is a linear model with degree + 1 weights that
// is over-parametrized when degree + 1 > train_examples. Training x: uniform in [-1, 1] from `seed`, or the
// Chebyshev nodes cos((2k - 1) pi / 2n) (better conditioned; the paper's choice for degree 39). Test x: an
// even grid of `test_points` (the paper's 100).
DataSplits make_polynomial_sine(Index train_examples, Index degree, bool chebyshev_nodes, std::uint64_t seed,
                                Index test_points = 100);

}  // namespace normscale
