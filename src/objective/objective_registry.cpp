// The objective registry and the built-in objectives' entries: cross-entropy ("sgd"), Minnorm and the
// square loss, each with its option rows and how it is built from them, in one place.
#include "normscale/objective/objective_registry.hpp"

#include "normscale/core/error.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/exponential_rule.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/objective/square.hpp"

#include <cmath>
#include <string_view>

namespace normscale {

namespace {

MinnormTask minnorm_task(const std::string& task) {
  if (task == "regression") return MinnormTask::kRegression;
  if (task == "binary") return MinnormTask::kBinary;
  NS_CHECK(task == "multiclass", "objective.task: expected multiclass, binary or regression, got '{}'", task);
  return MinnormTask::kMulticlass;
}

MinnormParams minnorm_params(const ObjectiveConfig& c) {
  MinnormParams p;
  p.task = minnorm_task(c.task);
  p.rho = c.rho;
  p.s = c.s;
  p.update = c.alpha_update == "lagged" ? MultiplierUpdate::kLagged : MultiplierUpdate::kExact;
  p.unbiased = c.estimator == "unbiased";
  p.C = c.C;
  p.multipliers = c.multipliers == "single" ? MinnormMultipliers::kSingle : MinnormMultipliers::kPerOutput;
  p.dual = c.dual == "ascent"        ? MinnormDual::kAscent
           : c.dual == "accelerated" ? MinnormDual::kAccelerated
           : c.dual == "coordinate"  ? MinnormDual::kCoordinate
                                     : MinnormDual::kPI;
  p.local_steps = c.local_steps;
  p.round_momentum = c.round_momentum;
  // Single-call extragradient (Popov; optimistic ascent) is PI with gain s: the anchor I <- proj(I + s v)
  // takes the violation at the look-ahead multipliers, and the next look-ahead is proj(I + s v).
  p.kappa_p = c.dual == "extragradient" ? c.s : c.kappa_p;
  p.rho_growth = c.rho_growth;
  p.rho_tolerance = c.rho_tolerance;
  p.rho_max = c.rho_max;
  p.average_from = c.average_from_epoch;
  p.curvature = c.curvature_step;
  return p;
}

// Captureless lambda giving the address of one member of ObjectiveConfig (one option row).
#define NS_OBJECTIVE_FIELD(member) [](ObjectiveConfig& c) -> FieldRef { return &c.member; }


// Minnorm before the square loss: the rows keep the order of the option table (and so the config hash
// of every earlier run).
void add_builtins(ObjectiveRegistry& registry) {
  registry.add(objective_entry(
      "sgd", "softmax cross-entropy (logistic loss with one output), minibatch mean, weight decay",
      [](auto precision, const ObjectiveConfig&, const Dataset& train, Index) {
        using T = decltype(precision);
        require_class_labels(train, "objective.regime = sgd (cross-entropy)");
        return std::unique_ptr<Objective<T>>(std::make_unique<CrossEntropy<T>>());
      }));

  ObjectiveEntry minnorm = objective_entry(
      "minnorm", "Minnorm: min 1/2 ||W||^2 subject to every constraint, by dual ascent (objective.task, rho, s, "
                 "alpha_update, estimator)",
      [](auto precision, const ObjectiveConfig& c, const Dataset& train, Index outputs) {
        using T = decltype(precision);
        return std::unique_ptr<Objective<T>>(std::make_unique<Minnorm<T>>(minnorm_params(c), train, outputs));
      });
  // Binary Minnorm is one output with +-1 labels.
  minnorm.outputs = [](const ObjectiveConfig& c, const Dataset&) -> Index { return c.task == "binary" ? 1 : 0; };
  using Opt = OptionType;
  minnorm.options = {
      {"objective.task", Opt::kString, {"multiclass", "binary", "regression"},
       "Minnorm constraints: one-vs-all margins, binary margin, or interpolation", NS_OBJECTIVE_FIELD(task)},
      {"objective.rho", Opt::kReal, {}, "Minnorm augmented-Lagrangian weight (>= 0)", NS_OBJECTIVE_FIELD(rho)},
      {"objective.s", Opt::kReal, {}, "Minnorm multiplier step size (>= 0)", NS_OBJECTIVE_FIELD(s)},
      {"objective.alpha_update", Opt::kString, {"exact", "lagged"},
       "multiplier update with the new weights (exact) or the step's forward outputs (lagged)",
       NS_OBJECTIVE_FIELD(alpha_update)},
      {"objective.estimator", Opt::kString, {"published", "unbiased"},
       "minibatch data term: sum over S (published) or (P/Q) sum over S (unbiased)", NS_OBJECTIVE_FIELD(estimator)},
      {"objective.C", Opt::kReal, {},
       "slack (paper App. C.1): classification multipliers stay in [0, C], the soft-margin SVM's box; inf = hard "
       "margin (> 0)",
       NS_OBJECTIVE_FIELD(C), true},
      {"objective.multipliers", Opt::kString, {"per-output", "single"},
       "multi-class constraints: one per output (one-vs-all, y_i f_i >= 1) or a single one per example, "
       "f_y - max_{j != y} f_j >= 1 (paper App. C.2, Crammer-Singer)",
       NS_OBJECTIVE_FIELD(multipliers), true},
      {"objective.dual", Opt::kString, {"ascent", "pi", "extragradient", "accelerated", "coordinate"},
       "multiplier update: ascent alpha <- proj(alpha + s v); pi: I <- proj(I + s v), alpha <- proj(I + kappa_p v) "
       "(v: the violation; the same fixed points, damped); extragradient: single-call (Popov), pi with kappa_p = s; "
       "accelerated: Nesterov momentum k/(k+3) on the multipliers, restarted per constraint when its step turns "
       "against its last move; coordinate: exact dual coordinate ascent, linear models (on GPU ranks its pass runs on the host; "
       "objective.local_steps)",
       NS_OBJECTIVE_FIELD(dual), true},
      {"objective.kappa_p", Opt::kReal, {}, "PI's proportional gain (objective.dual = pi; 0 is ascent; >= 0)",
       NS_OBJECTIVE_FIELD(kappa_p), true},
      {"objective.rho_growth", Opt::kReal, {},
       "adaptive penalty: a constraint violated by more than objective.rho_tolerance at k updates in a row has "
       "augmented coefficient min(rho growth^k, objective.rho_max), back to rho once met; 1 = off (>= 1)",
       NS_OBJECTIVE_FIELD(rho_growth), true},
      {"objective.rho_tolerance", Opt::kReal, {}, "adaptive penalty: the violation it tolerates (>= 0)",
       NS_OBJECTIVE_FIELD(rho_tolerance), true},
      {"objective.rho_max", Opt::kReal, {},
       "adaptive penalty: the largest coefficient (keep lr rho_max ||df/dW||^2 < 2 for stable steps; > 0)",
       NS_OBJECTIVE_FIELD(rho_max), true},
      {"objective.average_from_epoch", Opt::kReal, {},
       "after this many epochs each multiplier also keeps the mean of its later values and the share of them at "
       "which it was support: reported (support_fraction_averaged, support_fraction_stable, alpha_average.npy), "
       "never fed back; inf = off (>= 0)",
       NS_OBJECTIVE_FIELD(average_from_epoch), true},
      {"objective.curvature_step", Opt::kBoolean, {},
       "curvature-normalized multiplier steps: each example's s (and kappa_p) divided by ||h||^2 + 1, h the last "
       "layer's input (||x||^2 + 1, exact, for a linear model); the same fixed points; CPU and GPU ranks",
       NS_OBJECTIVE_FIELD(curvature_step), true},
      {"objective.local_steps", Opt::kInteger, {},
       "objective.dual = coordinate: coordinate updates per block (virtual shard) per round, between two "
       "allreduces; 0 = one pass over the block (>= 0)",
       NS_OBJECTIVE_FIELD(local_steps), true},
      {"objective.round_momentum", Opt::kBoolean, {},
       "objective.dual = coordinate: Nesterov momentum k/(k+3) across rounds on the multipliers and w, restarted "
       "when a round's step turns against the last (accelerated CoCoA+: far fewer rounds on several blocks); needs "
       "objective.local_steps = 0",
       NS_OBJECTIVE_FIELD(round_momentum), true},
      {"objective.tolerance", Opt::kReal, {},
       "linear models: stop at an evaluation once the duality gap (P - D) / |P| is below it (hard margin and "
       "regression: also the largest violation); 0 = off (>= 0)",
       NS_OBJECTIVE_FIELD(tolerance), true},
  };
  minnorm.check_options = [](const ObjectiveConfig& c) {
    check_option_range(c.rho >= 0 && std::isfinite(c.rho), "objective.rho", c.rho, "a finite number >= 0");
    check_option_range(c.s >= 0 && std::isfinite(c.s), "objective.s", c.s, "a finite number >= 0");
    check_option_range(c.C > 0 && !std::isnan(c.C), "objective.C", c.C, "a number > 0 (inf: hard margin)");
    check_option_range(c.kappa_p >= 0 && std::isfinite(c.kappa_p), "objective.kappa_p", c.kappa_p,
                       "a finite number >= 0");
    check_option_range(c.rho_growth >= 1 && std::isfinite(c.rho_growth), "objective.rho_growth", c.rho_growth,
                       "a finite number >= 1 (1: off)");
    check_option_range(c.rho_tolerance >= 0 && std::isfinite(c.rho_tolerance), "objective.rho_tolerance",
                       c.rho_tolerance, "a finite number >= 0");
    check_option_range(c.rho_max > 0 && !std::isnan(c.rho_max), "objective.rho_max", c.rho_max,
                       "a number > 0 (inf: no cap)");
    check_option_range(c.average_from_epoch >= 0 && !std::isnan(c.average_from_epoch), "objective.average_from_epoch",
                       c.average_from_epoch, "a number >= 0 (inf: off)");
    check_option_range(c.local_steps >= 0, "objective.local_steps", c.local_steps, "an integer >= 0");
    NS_CHECK(!c.round_momentum || (c.dual == "coordinate" && c.local_steps == 0),
             "objective.round_momentum extrapolates whole rounds of objective.dual = \"coordinate\", each a full pass "
             "over every block (got objective.dual = \"{}\", objective.local_steps = {}); hint: set "
             "objective.dual = \"coordinate\" and objective.local_steps = 0, or leave objective.round_momentum out",
             c.dual, c.local_steps);
    check_option_range(c.tolerance >= 0 && std::isfinite(c.tolerance), "objective.tolerance", c.tolerance,
                       "a finite number >= 0 (0: off)");
  };
  registry.add(std::move(minnorm));

  ObjectiveEntry square = objective_entry(
      "square", "square loss on one-hot / +-1 / regression targets (objective.square_*), minibatch mean, weight decay",
      [](auto precision, const ObjectiveConfig& c, const Dataset&, Index) {
        using T = decltype(precision);
        return std::unique_ptr<Objective<T>>(
            std::make_unique<Square<T>>(SquareTargets{c.square_targets == "pm1", c.square_k, c.square_m}));
      });
  square.options = {
      {"objective.square_targets", Opt::kString, {"one-hot", "pm1"},
       "square-loss targets: {0,1} (one-hot) or {-1,+1} (pm1)", NS_OBJECTIVE_FIELD(square_targets)},
      {"objective.square_k", Opt::kReal, {}, "square loss: weight on the true class (> 0)",
       NS_OBJECTIVE_FIELD(square_k)},
      {"objective.square_m", Opt::kReal, {}, "square loss: target value of the true class (> 0)",
       NS_OBJECTIVE_FIELD(square_m)},
  };
  square.check_options = [](const ObjectiveConfig& c) {
    check_option_range(c.square_k > 0 && std::isfinite(c.square_k), "objective.square_k", c.square_k,
                       "a finite number > 0");
    check_option_range(c.square_m > 0 && std::isfinite(c.square_m), "objective.square_m", c.square_m,
                       "a finite number > 0");
  };
  registry.add(std::move(square));

  // Theory III's exponential loss; registered last, so the option table (and every recorded hash) keeps its
  // earlier rows in place. Binary (objective.task = binary) is one output with +-1 labels.
  ObjectiveEntry exponential = objective_entry(
      "exponential", "exponential loss exp(-y f) (Theory III), one-vs-all for several outputs, minibatch mean, "
                     "weight decay",
      [](auto precision, const ObjectiveConfig& c, const Dataset& train, Index) {
        using T = decltype(precision);
        require_class_labels(train, "objective.regime = exponential");
        NS_CHECK(c.task != "regression", "objective.regime = exponential classifies; objective.task = regression "
                 "has no margins (use binary or multiclass)");
        return std::unique_ptr<Objective<T>>(std::make_unique<ExampleObjective<T, ExponentialRule>>());
      });
  exponential.outputs = [](const ObjectiveConfig& c, const Dataset&) -> Index { return c.task == "binary" ? 1 : 0; };
  exponential.reads = {"objective.task"};
  registry.add(std::move(exponential));
}

}  // namespace

ObjectiveRegistry& objective_registry() {
  static ObjectiveRegistry registry(
      "objective.regime", "registered objective",
      [](const ObjectiveEntry& entry) {
        NS_CHECK(entry.make_float && entry.make_double, "objective '{}' is registered without its makers", entry.name);
      },
      add_builtins);
  return registry;
}

}  // namespace normscale
