// Minnorm (Bansal et al. 2018), per example: the data terms of the augmented Lagrangian, their output
// gradient and the projected dual-ascent multiplier update (ALGORITHMS §1), for regression (Alg. 1),
// binary (App. A) and one-vs-all multi-class (Alg. 2), with the paper's Appendix C variants: slack (a box
// [0, C] on the multipliers) and a single multiplier per example on the margin over the best other class;
// and a choice of multiplier update (plain ascent, or proportional-integral); built for CPU and GPU ranks.
#pragma once

#include "normscale/objective/example.hpp"
#include "normscale/objective/objective_traits.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace normscale {

enum class MinnormTask { kRegression, kBinary, kMulticlass };

// Which constraints a multi-class example carries: one per output (one-vs-all, Alg. 2), or a single one
// on f_y - max_{j != y} f_j (App. C.2, the Crammer-Singer margin).
enum class MinnormMultipliers { kPerOutput, kSingle };

// How a multiplier follows its constraint's violation v (residual, >= 0 when violated), proj onto [0, C]:
// ascent: alpha <- proj(alpha + s v).
// PI (proportional-integral, as nuPI / Cooper's PI updater): the integral I <- proj(I + s v) is kept beside
// alpha, and alpha <- proj(I + kappa_p v). kappa_p = 0 is ascent; the fixed points are ascent's (v = 0 where
// 0 < alpha < C, alpha = I there; alpha = 0 with v <= 0; alpha = C with v >= 0), and the proportional term
// damps the oscillation of plain ascent. kappa_p = s is single-call extragradient (Popov): I is the anchor,
// alpha the look-ahead at which the violation is taken (objective.dual = "extragradient").
// Accelerated (Nesterov momentum with gradient restart, issue #19): the anchor a and a momentum count k are kept
// beside alpha, which holds the look-ahead y at which the weights and the violation are taken:
// a' = proj(y + s v); k <- 0 if v (a' - a) < 0 (the step turned against the last move: restart), else k + 1;
// y <- proj(a' + k/(k+3) (a' - a)); a <- a'. Fixed points: ascent's (v = 0 or a clipped bound, a' = a, y = a).
// Coordinate: exact dual coordinate ascent on a linear model (SDCA with CoCoA+ blocks), taken by the
// trainer's CoordinateAscent (train/coordinate_ascent.hpp) instead of the step; update() is not used; its
// states are two skip counters per multiplier.
enum class MinnormDual { kAscent, kPI, kAccelerated, kCoordinate };

struct MinnormParams {
  MinnormTask task = MinnormTask::kMulticlass;
  double rho = 0.0;  // augmented-Lagrangian coefficient
  double s = 1e-3;   // multiplier step size
  MultiplierUpdate update = MultiplierUpdate::kExact;  // exact f(W^{t+1}) or lagged f(W^t)
  bool unbiased = false;  // data term (P/Q) sum over the minibatch instead of the published sum
  // Slack (App. C.1): classification multipliers stay in [0, C]; infinity is the hard margin.
  double C = std::numeric_limits<double>::infinity();
  MinnormMultipliers multipliers = MinnormMultipliers::kPerOutput;
  MinnormDual dual = MinnormDual::kAscent;
  double kappa_p = 0.0;  // PI's proportional gain
  long long local_steps = 0;  // coordinate: updates per block per round (0: one pass over the block)
  bool round_momentum = false;  // coordinate: momentum across rounds (its states: last round's multiplier, count)
  // Adaptive penalty (Cooper's multiplicative penalty updater): each constraint's augmented-Lagrangian
  // coefficient is rho growth^k, where k counts the consecutive multiplier updates that found it violated
  // by more than rho_tolerance (reset to 0 when it is met), up to rho_max (gradient descent stays stable while
  // lr rho_max ||df/dW||^2 < 2). growth = 1: rho for every constraint.
  double rho_growth = 1.0;
  double rho_tolerance = 0.0;
  double rho_max = std::numeric_limits<double>::infinity();
  // Averaging over epochs (objective.average_from_epoch): after its first average_from updates (an example's
  // multipliers are updated once per epoch), each multiplier keeps the mean of its later values and the share
  // of them at which it counted as support; infinity: off. The running average is reported, never fed back.
  double average_from = std::numeric_limits<double>::infinity();
  // Curvature-normalized steps (objective.curvature_step, issue #19): each example's s and kappa_p are divided
  // by its Example::curvature, an estimate of ||df/dW||^2 (exact for a linear model, where s = 1 is the
  // coordinate step of every example at once); positive scaling per constraint keeps ascent's fixed points.
  bool curvature = false;
};

struct MinnormRule {
  using Params = MinnormParams;
  static constexpr bool kMultipliers = true;

  static std::string name(const Params& p) {
    return p.task == MinnormTask::kRegression ? "minnorm-regression"
           : p.task == MinnormTask::kBinary   ? "minnorm-binary"
           : p.multipliers == MinnormMultipliers::kSingle ? "minnorm-multiclass-single"
                                                          : "minnorm-multiclass";
  }
  static ObjectiveTraits traits(const Params& p) {
    ObjectiveTraits t;
    t.data_term = p.unbiased ? DataTerm::kUnbiasedSum : DataTerm::kSum;
    t.norm_term = NormTerm::kHalfSquaredNorm;
    t.multiplier_update = p.update;
    t.sparse_gradient = p.task != MinnormTask::kRegression;
    t.curvature_step = p.curvature;
    return t;
  }

  // One constraint, and so one multiplier, per output, or a single one per example.
  NS_HOST_DEVICE static int multiplier_count(const Params& p, int outputs) {
    return single(p) ? 1 : outputs;
  }
  // The update rule's own states per multiplier, right after the multipliers: PI's integral, the accelerated
  // rule's anchor and count, or the coordinate rule's skip counters (and, with round momentum, the multiplier
  // at the start of the last round and the rounds since the momentum's restart).
  NS_HOST_DEVICE static int dual_states(const Params& p) {
    if (p.dual == MinnormDual::kCoordinate) return p.round_momentum ? 4 : 2;
    return p.dual == MinnormDual::kPI ? 1 : p.dual == MinnormDual::kAscent ? 0 : 2;
  }
  // After the multipliers, a row keeps the update rule's states, then the adaptive penalty's exponents k, then
  // the averages' blocks: update counts, mean multipliers, support shares.
  NS_HOST_DEVICE static int state_count(const Params& p, int outputs) {
    return multiplier_count(p, outputs) * (1 + dual_states(p) + (adaptive(p) ? 1 : 0) + (averaging(p) ? 3 : 0));
  }
  NS_HOST_DEVICE static bool averaging(const Params& p) { return p.average_from <= 1e300; }
  // The first column of the mean multipliers (the support shares follow them); -1 without averaging.
  NS_HOST_DEVICE static int average_column(const Params& p, int outputs) {
    const int count = multiplier_count(p, outputs);
    return averaging(p) ? count * (2 + dual_states(p) + (adaptive(p) ? 1 : 0)) : -1;
  }
  NS_HOST_DEVICE static bool adaptive(const Params& p) { return p.rho_growth != 1.0; }
  // Constraint i's augmented-Lagrangian coefficient.
  template <class T>
  NS_HOST_DEVICE static double rho(const Params& p, const Example<T>& e, int i) {
    if (!adaptive(p)) return p.rho;
    const int count = multiplier_count(p, e.outputs);
    const double k = e.alpha[count * (1 + dual_states(p)) + i];
    const double raised = p.rho * pow(p.rho_growth, k);
    return raised < p.rho_max ? raised : p.rho_max;
  }
  NS_HOST_DEVICE static bool single(const Params& p) {
    return p.task == MinnormTask::kMulticlass && p.multipliers == MinnormMultipliers::kSingle;
  }

  // The single constraint's rival: the largest output other than the true class (ties: the lowest index).
  template <class T>
  NS_HOST_DEVICE static int rival(const Example<T>& e) {
    int best = e.label == 0 ? 1 : 0;
    for (int j = best + 1; j < e.outputs; ++j) {
      if (j != e.label && e.out(j) > e.out(best)) best = j;
    }
    return best;
  }

  // y_i: the regression target, or +1 / -1 for the true / other classes (per-output constraints).
  template <class T>
  NS_HOST_DEVICE static double sign(const Params& p, const Example<T>& e, int i) {
    if (p.task == MinnormTask::kRegression) return static_cast<double>(e.target[i]);
    const bool positive = p.task == MinnormTask::kBinary ? e.label == 1 : e.label == i;
    return positive ? 1.0 : -1.0;
  }
  // Constraint i's residual: y - f (regression), 1 - y f (classification) or 1 - (f_y - f_rival) (single);
  // >= 0 when an inequality is violated.
  template <class T>
  NS_HOST_DEVICE static double residual(const Params& p, const Example<T>& e, int i) {
    if (single(p)) return 1.0 - (e.out(e.label) - e.out(rival(e)));
    const double y = sign(p, e, i);
    return p.task == MinnormTask::kRegression ? y - e.out(i) : 1.0 - y * e.out(i);
  }
  // Whether the augmented term rho/2 c^2 of a constraint with multiplier a is on: always for equalities;
  // for inequalities while 0 < a < C. At a = C a violated constraint is paid for by C alone (the exact
  // penalty C max(0, c) of the soft margin), so the fixed points are the soft-margin SVM's for every rho.
  NS_HOST_DEVICE static bool augmented(const Params& p, double a) {
    return p.task == MinnormTask::kRegression || (a > 0.0 && a < p.C);
  }

  template <class T>
  NS_HOST_DEVICE static void gradient(const Params& p, const Example<T>& e, double scale, T* grad) {
    if (single(p)) {
      // dL/dm = -(a + rho c) on the margin m = f_y - f_rival.
      for (int i = 0; i < e.outputs; ++i) grad[i] = T(0);
      const double a = e.alpha[0];
      const double g = a + (augmented(p, a) ? rho(p, e, 0) * residual(p, e, 0) : 0.0);
      grad[e.label] = static_cast<T>(-g * scale);
      grad[rival(e)] = static_cast<T>(g * scale);
      return;
    }
    for (int i = 0; i < e.outputs; ++i) {
      const double y = sign(p, e, i);
      const double a = e.alpha[i];
      // Classification: the augmented term covers active constraints only, so inactive examples get zero
      // gradient.
      const double g = -(p.task == MinnormTask::kRegression
                             ? a + rho(p, e, i) * (y - e.out(i))
                             : y * (a + (augmented(p, a) ? rho(p, e, i) * residual(p, e, i) : 0.0)));
      grad[i] = static_cast<T>(g * scale);
    }
  }

  // Reporting loss: squared residual (regression) or total hinge violation sum_i max(0, c_i). A NaN residual
  // (non-finite outputs) stays NaN, so that the divergence guard sees it at the next step.
  template <class T>
  NS_HOST_DEVICE static double loss(const Params& p, const Example<T>& e) {
    double total = 0.0;
    for (int i = 0; i < multiplier_count(p, e.outputs); ++i) {
      const double c = residual(p, e, i);
      total += p.task == MinnormTask::kRegression ? c * c : (c <= 0.0 ? 0.0 : c);
    }
    return total;
  }

  // Regression multipliers are free; classification ones are clipped to [0, C].
  NS_HOST_DEVICE static double project(const Params& p, double a) {
    return p.task == MinnormTask::kRegression ? a : a < 0.0 ? 0.0 : a > p.C ? p.C : a;
  }

  // Ascent: alpha <- proj(alpha + s c); PI: I <- proj(I + s c), alpha <- proj(I + kappa_p c); accelerated: see
  // MinnormDual. The adaptive penalty's exponent grows while the constraint is violated beyond the tolerance
  // (|c| for equalities).
  template <class T>
  NS_HOST_DEVICE static void update(const Params& p, const Example<T>& e) {
    const int count = multiplier_count(p, e.outputs);
    const int exponents = count * (1 + dual_states(p));
    const double scale = p.curvature && e.curvature > 0.0 ? 1.0 / e.curvature : 1.0;
    const double s = p.s * scale;
    for (int i = 0; i < count; ++i) {
      const double c = residual(p, e, i);
      if (p.dual == MinnormDual::kPI) {
        double& integral = e.alpha[count + i];
        integral = project(p, integral + s * c);
        e.alpha[i] = project(p, integral + p.kappa_p * scale * c);
      } else if (p.dual == MinnormDual::kAccelerated) {
        double& anchor = e.alpha[count + i];
        double& k = e.alpha[2 * count + i];
        const double next = project(p, e.alpha[i] + s * c);
        k = c * (next - anchor) <= 0.0 ? 0.0 : (k < 1e9 ? k + 1.0 : k);
        e.alpha[i] = project(p, next + k / (k + 3.0) * (next - anchor));
        anchor = next;
      } else {
        e.alpha[i] = project(p, e.alpha[i] + s * c);
      }
      if (adaptive(p)) {
        const double violation = p.task == MinnormTask::kRegression ? (c < 0.0 ? -c : c) : c;
        double& k = e.alpha[exponents + i];
        k = violation > p.rho_tolerance ? (k < 1e9 ? k + 1.0 : k) : 0.0;
      }
      if (averaging(p)) {
        const int mean = average_column(p, e.outputs);
        double& n = e.alpha[mean - count + i];
        n += 1.0;
        const double m = n - floor(p.average_from);  // values averaged so far, this one included
        if (m >= 1.0) {
          const double a = e.alpha[i];
          const double support = p.task == MinnormTask::kRegression ? (a != 0.0 ? 1.0 : 0.0) : (a > 0.0 ? 1.0 : 0.0);
          e.alpha[mean + i] += (a - e.alpha[mean + i]) / m;
          e.alpha[mean + count + i] += (support - e.alpha[mean + count + i]) / m;
        }
      }
    }
  }

  // The example's terms of the augmented Lagrangian at the current multipliers, and (inequalities) its
  // violated constraints and complementary slackness.
  template <class T>
  NS_HOST_DEVICE static void add_dual_terms(const Params& p, const Example<T>& e, DualTerms& terms) {
    for (int i = 0; i < multiplier_count(p, e.outputs); ++i) {
      const double c = residual(p, e, i);
      const double a = e.alpha[i];
      terms.lagrangian += a * c + (augmented(p, a) ? 0.5 * rho(p, e, i) * c * c : 0.0);
      if (p.task == MinnormTask::kRegression) continue;
      if (c > 0.0) terms.violated += 1.0;
      if (c < 0.0) terms.slackness += a * -c;
    }
  }

  // Classification: an example whose multipliers are all zero has a zero output gradient.
  NS_HOST_DEVICE static bool zero_gradient(const Params& p, const double* alpha, int outputs) {
    if (p.task == MinnormTask::kRegression) return false;
    for (int i = 0; i < multiplier_count(p, outputs); ++i) {
      if (alpha[i] > 0.0) return false;
    }
    return true;
  }
};

}  // namespace normscale
