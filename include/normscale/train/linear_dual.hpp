// Minnorm on a linear model (one dense layer, no hidden layers) seen as the SVM / minimum-norm
// interpolant it solves (ALGORITHMS "Multipliers at solver speed"): which runs qualify, the scale that maps
// the stored multipliers to the SVM's dual coefficients, and w(alpha) = sum alpha y x over the owned
// examples, for the duality certificate and the coordinate rule.
#pragma once

#include "normscale/data/dataset.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/minnorm_rule.hpp"
#include "normscale/objective/objective.hpp"

#include <optional>
#include <vector>

namespace normscale {

// A linear Minnorm run: x W^T + b with W (outputs x inputs) row-major and, with a bias, b after it in the
// flat parameters; the bias is the weight of a constant input 1, penalised like any weight (ALGORITHMS
// notation), so every example is x_aug = (x, 1) and the flat parameters are the rows of [W | b] interleaved
// as W then b.
struct LinearMinnorm {
  MinnormParams params;
  Index inputs = 0;
  Index outputs = 0;
  bool bias = false;

  Index parameter_count() const { return outputs * inputs + (bias ? outputs : 0); }
  // ||x_aug||^2 of one example.
  double squared_norm(const float* x) const;
  // Adds `coefficient` x_aug to output c's weights in a flat parameter vector (double).
  void add_example(double* w, Index c, double coefficient, const float* x) const;
  // Output c of the flat parameters w at x: w_c . x_aug.
  double output(const double* w, Index c, const float* x) const;
};

// The run as a linear Minnorm problem: Minnorm with one constraint per output and a network of one dense
// layer; nullopt otherwise.
template <class T>
std::optional<LinearMinnorm> linear_minnorm(const Network<T>& network, const Objective<T>& objective);

// The factor from the stored multipliers to the SVM's dual coefficients (and from objective.C to the SVM's
// C): the ascent rules' fixed point in expectation is W = s_data (Q/P) sum_all alpha y x, with s_data the
// data-term scale (1 published, P/Q unbiased; ALGORITHMS §1), so the factor is s_data Q / P (1 in full
// batch); the coordinate rule keeps the SVM's coefficients themselves (1).
double svm_multiplier_scale(const MinnormParams& params, const ObjectiveTraits& traits, Index batch, Index examples);

// y_i of constraint i for w(alpha) = sum alpha y x_aug (+-1; 1 for regression) and the constraint's right-hand
// side t in the dual D = sum alpha t - 1/2 ||w(alpha)||^2 (1 for margins; the target for regression).
template <class T>
double weight_sign(const MinnormParams& p, const Example<T>& e, int i) {
  return p.task == MinnormTask::kRegression ? 1.0 : MinnormRule::sign(p, e, i);
}
template <class T>
double dual_target(const MinnormParams& p, const Example<T>& e, int i) {
  return p.task == MinnormTask::kRegression ? MinnormRule::sign(p, e, i) : 1.0;
}

// Example row r of `train` (label or targets, multipliers from `store`) with outputs f, for the rule's helpers.
template <class T>
Example<T> linear_example(const Dataset& train, Index r, const T* f, int outputs, const MultiplierStore& store);

// This rank's sum over its training rows of scale alpha y x_aug (flat, like the parameters); not reduced.
std::vector<double> local_dual_weights(const LinearMinnorm& model, const Dataset& train, const MultiplierStore& store,
                                       double scale);

}  // namespace normscale
