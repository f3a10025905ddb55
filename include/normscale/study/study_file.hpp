// A study file (TOML: a base config plus axes) parsed into a StudySpec, and its pure expansion into trials.
//
// Besides full grids (`[grid]`, a regime's `grid`, `[grid_per_batch."Q"]`), a study may search ranges:
//
//   [search]
//   kind = "quasi-random"   # required, the only kind for now; no [search] table: no search
//   trials = 16             # the number of points, 1 ... 10000
//   seed = 7                # optional, default 0: the scramble's seed (the same file gives the same points)
//   [search.ranges]
//   "optim.lr" = { low = 1e-4, high = 1.0, scale = "log" }  # scale "linear" (default) or "log" (low > 0)
//   "objective.s" = { low = 1e-6, high = 1e-3, scale = "log" }
//
// The points are a scrambled Halton sequence (quasi_random.hpp), one dimension per range in key order, mapped
// onto [low, high] and rounded to 4 significant digits (more where 4 would repeat an earlier point). A point is
// a grid point like a listed one (the same values give the same trial id and grid label): each regime and batch
// has its grid combinations times every point. Only real-valued options are searched (rounded to integers, the
// points would repeat: list integer values in a grid), and a searched key is on no grid axis, not even a
// regime's grid or a `grid_per_batch` one, so that no axis replaces it and folds distinct points together.
//
// Successive halving / ASHA (halving.hpp) stops the worse grid points of a study early:
//
//   [halving]
//   rungs = [1, 3, 9]       # required: budgets in epochs (steps when the study's budget is `steps`), at least two,
//                           # strictly increasing, the last equal to the study's `epochs` / `steps` (required then)
//   reduction = 3           # optional, default 3: eta >= 2, the top 1/eta of a rung go on to the next
//   mode = "asynchronous"   # optional, default: ASHA, promote as soon as a trial is in the top 1/eta of those
//                           # that finished its rung; "synchronous": successive halving, wait for the whole rung
//
// The trials of one (regime, batch, ranks, seed) form a bracket and compete by the study metric (select_by) at each
// rung; a bracket needs more than one grid or search point. Every trial first runs to the first rung's budget;
// one promoted runs again to the next rung's, resuming from its checkpoint (the trial keeps its id: the budget is
// not part of the trajectory). A settled rung (nothing can reach it any more) sends on at least its best, so
// each bracket's winner trains to the full budget; the others stop early. Diverged trials are never promoted.
#pragma once

#include "normscale/study/halving.hpp"
#include "normscale/study/quasi_random.hpp"
#include "normscale/study/study_metric.hpp"
#include "normscale/train/config.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace normscale {

// One option of the train config set to one value: the dotted key and its canonical TOML literal
// (format_value of the option), e.g. {"optim.lr", "0.1"} or {"objective.regime", "\"sgd\""}.
struct ConfigOverride {
  std::string key;
  std::string value;
  friend bool operator==(const ConfigOverride&, const ConfigOverride&) = default;
};

// One hyperparameter axis of a grid: an option and its candidate values (canonical TOML literals).
struct GridAxis {
  std::string key;
  std::vector<std::string> values;
};

// A named regime: the overrides that turn the base config into it (e.g. sgd, minnorm-bgd), and its own
// grid axes (the regime's `grid` table), which replace the study grid's axes of the same key. Regimes
// whose learning rates differ by orders of magnitude search their own ranges this way.
struct Regime {
  std::string name;
  std::vector<ConfigOverride> overrides;
  std::vector<GridAxis> grid;
  // The regime's own `grid_per_batch."Q"` axes: the last word at batch Q (e.g. a rule whose s has its own scale).
  std::map<std::int64_t, std::vector<GridAxis>> grid_per_batch;
};

// One searched option of `[search.ranges]`: values in [low, high], spread linearly or by their logarithms.
struct SearchRange {
  std::string key;
  double low = 0.0;
  double high = 1.0;
  RangeScale scale = RangeScale::kLinear;
};

// `[search]` (kind = "quasi-random"): `trials` points of a scrambled Halton sequence (quasi_random.hpp) seeded
// by `seed`, one dimension per range in `ranges` order. Each point is one more grid point: the trials are every
// `grid` combination times every point. Only real-valued options are searched (integers would repeat points),
// and a searched key is on no grid axis (`grid`, a regime's grid, `grid_per_batch`), so no axis replaces it.
struct QuasiRandomSearch {
  std::int64_t trials = 0;  // 1 ... kMaxSearchTrials
  std::uint64_t seed = 0;
  std::vector<SearchRange> ranges;
};
inline constexpr std::int64_t kMaxSearchTrials = 10000;
// The trials a study may expand to (its grid's product over every axis): 100k took ~4 s and ~330 MB to expand.
inline constexpr std::int64_t kMaxStudyTrials = 100000;

// Learning-rate batch scaling relative to StudySpec::base_batch.
enum class LrScaling { kNone, kLinear, kSqrt };
std::string_view lr_scaling_name(LrScaling rule);

struct StudySpec {
  std::string name;                     // `name`, else the file's stem
  std::string source;                   // the file it came from (error messages)
  std::string preset;                   // `preset` or base.preset ("" : none)
  std::vector<ConfigOverride> base;     // the [base] table, flattened, in file order
  std::vector<Regime> regimes;          // `regimes`; absent: one regime "base" without overrides
  std::vector<std::int64_t> batches;    // `batch` (kFullBatch for "full"); absent: the base config's
  std::vector<std::int64_t> ranks;      // `ranks`; absent: {1}
  std::vector<std::uint64_t> seeds;     // `seeds`; absent: the base config's seed
  std::vector<GridAxis> grid;           // `grid`: cartesian product over every axis
  // `grid_per_batch."Q"` (or `.full`): axes applied only at batch Q, replacing a `grid` or regime
  // grid axis of the same key there. Minnorm's s and eta have no known batch-scaling rule, so they are searched per Q.
  std::map<std::int64_t, std::vector<GridAxis>> grid_per_batch;
  std::optional<QuasiRandomSearch> search;  // `[search]`; absent: full grids only
  LrScaling lr_scaling = LrScaling::kNone;
  std::int64_t base_batch = 0;          // the batch optim.lr is tuned for (required unless kNone)
  // `warmup_epochs` (> 0): every trial's optim.warmup_epochs (linear warmup of the scaled lr).
  double warmup_epochs = 0.0;
  std::int64_t full_batch_size = 50000;  // Q used by the scaling rule for batch "full" (and the report's examples)
  bool full_batch_size_given = false;    // in the file: the scaling rule needs it (50000 fits one data set only)
  std::int64_t epochs = 0;              // budget: `epochs` or `steps` (0: the base config's)
  std::int64_t steps = 0;
  // `select_by`: what selection and halving rank trials by (study_metric.hpp).
  StudyMetric metric = StudyMetric::kValidationError;
  // `target_validation_error` (percent) or `target_validation_loss`, of `metric`: steps and time to reach it are
  // recorded per trial (Shallue et al. 2018); absent: not measured.
  std::optional<MetricTarget> target;
  std::optional<HalvingSpec> halving;   // `[halving]`; absent: every trial runs its full budget
};

// One point of the expanded study, fully resolved and validated.
struct Trial {
  std::string id;                       // 16 hex digits: hash of the resolved config, ranks and warmup
  std::string study;
  std::string regime;
  std::int64_t batch = 0;               // kFullBatch for "full"
  std::int64_t ranks = 1;
  std::uint64_t seed = 1;
  std::vector<ConfigOverride> grid_point;  // this trial's grid, per-batch grid and search values
  double lr_scale = 1.0;                // factor applied to optim.lr by the scaling rule
  double warmup_epochs = 0.0;           // StudySpec::warmup_epochs (also in config.optim.warmup_epochs)
  TrainConfig config;
};

// Parses a study document; `source_name` (the path) prefixes every error, which names the study key.
StudySpec parse_study(std::string_view text, std::string_view source_name);
// Reads and parses a study file; the name defaults to the file's stem.
StudySpec read_study_file(const std::filesystem::path& path);

// The learning-rate factor at batch `batch` (kFullBatch: `full_batch_size` examples):
// 1, Q / base_batch (linear) or sqrt(Q / base_batch) (sqrt).
double lr_scale_factor(LrScaling rule, std::int64_t batch, std::int64_t base_batch,
                       std::int64_t full_batch_size);

// Every trial, in order regime > batch > ranks > seed > grid point (grid axes in key order) > search point.
// Pure: the same spec gives the same trials and ids. Every config is validated; an error names the trial.
// With [halving], a (regime, batch, ranks, seed) of a single grid point is an error.
// Two trials that resolve to the same config (and ranks) are an error naming both.
std::vector<Trial> expand(const StudySpec& spec);

// Refuses, naming both, two trials that differ only in options their objective does not read (a grid over Minnorm's
// objective.s beside an sgd regime): they would run one training twice. Checked before a study runs; expand() allows
// them, so that a study that ran such trials can still be reported.
void refuse_trials_that_train_alike(const StudySpec& spec, const std::vector<Trial>& trials);

// The search's points, each one override per range in range order, as canonical TOML literals. Values are
// rounded to 4 significant digits (readable grid labels, ids that do not hang on the last bit of a double) and
// clamped to [low, high]; a point that would equal an earlier one gets the fewest more digits that set it apart.
// The first n points are the same for any `trials` >= n. An error names `source` when a point stays equal to an
// earlier one even at 17 digits (a range too narrow for the number of trials).
std::vector<std::vector<ConfigOverride>> search_points(const QuasiRandomSearch& search, std::string_view source);

// The trial's grid point as a JSON object {"optim.lr": 0.1, ...} (for the trial store).
std::string grid_point_json(const Trial& trial);
// "regime=sgd batch=1024 ranks=2 seed=1 optim.lr=0.1": a trial in one line.
std::string describe_trial(const Trial& trial);

}  // namespace normscale
