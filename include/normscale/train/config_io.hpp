// Reading, writing and checking a TrainConfig: one table of options drives TOML files, --set
// overrides, --list-options, the canonical TOML written to a run directory and the config hash.
#pragma once

#include "normscale/core/option_field.hpp"
#include "normscale/core/types.hpp"
#include "normscale/train/config.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace normscale {

struct OptionDescriptor {
  std::string_view key;                  // dotted key, e.g. "objective.rho"
  OptionType type;
  std::vector<std::string_view> choices;  // allowed values of an enumerated string (else empty)
  std::string_view doc;                  // one line: what it means
  FieldRef (*field)(TrainConfig&);
  // Choices that come from a registry (objective.regime: the registered objectives), read when used.
  std::vector<std::string> (*registered_choices)() = nullptr;
  // A row an objective contributes (objective_registry): its field in ObjectiveConfig (field is null).
  FieldRef (*objective_field)(ObjectiveConfig&) = nullptr;
  // For options added after run directories and studies began recording hashes of to_toml (checkpoint
  // trajectory hashes, study trial ids): to_toml leaves the option out while it holds its default, so
  // those hashes, and every checkpoint and trial recorded before the option existed, stay valid.
  bool written_only_when_set = false;
};

// The allowed values of an enumerated string option (empty: any value).
std::vector<std::string> option_choices(const OptionDescriptor& option);

// Every option, grouped by section (top-level keys first, then data, model, objective, optim). The
// objective section is objective.regime and then the rows of each registered objective, in the order
// of registration.
std::span<const OptionDescriptor> option_table();
// The option with this dotted key, or nullptr.
const OptionDescriptor* find_option(std::string_view key);
// The known key closest to `key` by edit distance (for "did you mean" hints).
std::string_view closest_option_key(std::string_view key);
std::string_view type_name(OptionType type);

// The option's current value in `config` as a TOML literal ("relu", 1e-3, [800, 800], "full").
std::string format_value(const OptionDescriptor& option, const TrainConfig& config);
// Sets one option from command-line text, parsed according to the option's type.
void set_option(TrainConfig& config, std::string_view key, std::string_view value);
// Applies one "key=value" override (the argument of --set).
void apply_override(TrainConfig& config, std::string_view assignment);

// Applies every key of a TOML document (nested tables and/or dotted keys) on top of `config`.
// `source_name` names the document in error messages (the file path). A `preset` key is only
// recorded here; resolve_config() applies presets in their place of precedence.
void apply_toml(TrainConfig& config, std::string_view text, std::string_view source_name);
// Defaults, then the document's preset (if any), then the document's values: the inverse of to_toml.
TrainConfig config_from_toml(std::string_view text, std::string_view source_name = "<string>");
// Reads a whole file; throws normscale::Error naming the file when it is missing or unreadable.
std::string read_config_file(const std::filesystem::path& path);

// Canonical TOML of every option, in table order, without comments: parse(to_toml(c)) == c.
std::string to_toml(const TrainConfig& config);
// FNV-1a 64 of to_toml(config): equal configs hash equal, across runs and machines.
std::uint64_t config_hash(const TrainConfig& config);
// The settings that determine the training trajectory: `config` with the others (epochs/steps, output, progress,
// threads, checkpoint cadence, ...) at their defaults.
TrainConfig trajectory_settings(const TrainConfig& config);
// config_hash of trajectory_settings(config): a checkpoint may be resumed when it is unchanged.
std::uint64_t trajectory_hash(const TrainConfig& config);
// `config` with every objective option that its objective.regime neither owns nor reads (ObjectiveEntry::reads) at
// its default: configurations that differ only in such options train alike (a study's trials must not).
TrainConfig with_unread_objective_options_at_defaults(const TrainConfig& config);
// The keys of the objective options config.objective.regime does not read in which `config` and `other` differ.
std::vector<std::string_view> unread_objective_options_that_differ(const TrainConfig& config, const TrainConfig& other);
// Human-readable list of every option with its value in `config`, type and doc (--list-options).
std::string describe_options(const TrainConfig& config = TrainConfig{});

// Where a run's settings come from, in increasing precedence:
// defaults < preset (--preset, or the file's `preset` key) < config file < --set overrides < --out.
struct ConfigSources {
  std::optional<std::filesystem::path> config_file;
  std::string preset;                  // empty: the file's preset key, if any
  std::vector<std::string> overrides;  // "key=value", applied in order
  std::optional<std::string> out;
};
TrainConfig resolve_config(const ConfigSources& sources);

// Checks every enumerated string and numeric range; the message names the option, the bad value
// and what was expected.
void validate(const TrainConfig& config);
// Checks what needs the data: the batch fits the training set (`train_rows`: examples trained on,
// after the validation split and train_limit) and, with data.classes, that the loaded data has exactly
// those classes (the loader relabels them 0..k-1).
void validate_against_data(const TrainConfig& config, Index train_rows, Index num_classes);

}  // namespace normscale
