// A study file (TOML: a base config plus axes) parsed into a StudySpec, and its pure expansion into trials.
#pragma once

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
};

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
  LrScaling lr_scaling = LrScaling::kNone;
  std::int64_t base_batch = 0;          // the batch optim.lr is tuned for (required unless kNone)
  // `warmup_epochs` (> 0): every trial's optim.warmup_epochs (linear warmup of the scaled lr).
  double warmup_epochs = 0.0;
  std::int64_t full_batch_size = 50000; // Q used by the scaling rule for batch "full"
  std::int64_t epochs = 0;              // budget: `epochs` or `steps` (0: the base config's)
  std::int64_t steps = 0;
  // `target_validation_error` (percent): steps and time to reach it are recorded per trial (Shallue et
  // al. 2018); absent: not measured.
  std::optional<double> target_validation_error;
};

// One point of the expanded study, fully resolved and validated.
struct Trial {
  std::string id;                       // 16 hex digits: hash of the resolved config, ranks and warmup
  std::string study;
  std::string regime;
  std::int64_t batch = 0;               // kFullBatch for "full"
  std::int64_t ranks = 1;
  std::uint64_t seed = 1;
  std::vector<ConfigOverride> grid_point;  // this trial's grid and per-batch grid values
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

// Every trial, in order regime > batch > ranks > seed > grid point (grid axes in key order). Pure:
// the same spec gives the same trials and ids. Every config is validated; an error names the trial.
// Two trials that resolve to the same config (and ranks) are an error naming both.
std::vector<Trial> expand(const StudySpec& spec);

// The trial's grid point as a JSON object {"optim.lr": 0.1, ...} (for the trial store).
std::string grid_point_json(const Trial& trial);
// "regime=sgd batch=1024 ranks=2 seed=1 optim.lr=0.1": a trial in one line.
std::string describe_trial(const Trial& trial);

}  // namespace normscale
