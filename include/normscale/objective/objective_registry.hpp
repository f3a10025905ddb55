// The objectives by name: `objective.regime` picks an entry. The built-in entries are listed in one
// place (objective_registry.cpp); an extension adds its own with objective_registry().add(...) before
// the configuration is validated (docs/EXTENDING.md). The option parser takes the regime's choices
// from here, and a GPU rank finds the device implementation by the objective's rule (rule_type()).
#pragma once

#include "normscale/core/option_field.hpp"
#include "normscale/core/registry.hpp"
#include "normscale/objective/objective.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace normscale {

// One of an objective's constants as a row of the option table (key "objective.<name>").
struct ObjectiveOption {
  std::string_view key;
  OptionType type;
  std::vector<std::string_view> choices;  // allowed values of an enumerated string (else empty)
  std::string_view doc;
  FieldRef (*field)(ObjectiveConfig&);
  // Left out of to_toml at its default (OptionDescriptor::written_only_when_set): for options added after
  // runs and studies began recording hashes of their configuration.
  bool written_only_when_set = false;
};

struct ObjectiveEntry {
  template <class T>
  using Maker = std::function<std::unique_ptr<Objective<T>>(const ObjectiveConfig&, const Dataset& train, Index outputs)>;

  std::string name;         // the value of objective.regime
  std::string description;  // one line, for --list-options
  Maker<float> make_float;
  Maker<double> make_double;
  // The network's output width the objective needs for `train`; 0 (or no function): one per class,
  // or one per regression target column.
  std::function<Index(const ObjectiveConfig&, const Dataset& train)> outputs;
  // The objective's rows of the option table, and the check of their values (ranges), which
  // validate() runs whatever the regime, as for every other option.
  std::vector<ObjectiveOption> options;
  std::function<void(const ObjectiveConfig&)> check_options;
  // Keys of other entries' options that this objective reads too (the exponential loss: objective.task).
  std::vector<std::string_view> reads;

  template <class T>
  std::unique_ptr<Objective<T>> make(const ObjectiveConfig& config, const Dataset& train, Index width) const {
    if constexpr (std::is_same_v<T, float>) {
      return make_float(config, train, width);
    } else {
      return make_double(config, train, width);
    }
  }
};

// An entry whose two makers are one generic callable make(T{}, config, train, outputs) (the first
// argument only carries the precision).
template <class Make>
ObjectiveEntry objective_entry(std::string name, std::string description, Make make) {
  ObjectiveEntry entry;
  entry.name = std::move(name);
  entry.description = std::move(description);
  entry.make_float = [make](const ObjectiveConfig& c, const Dataset& d, Index o) { return make(float{}, c, d, o); };
  entry.make_double = [make](const ObjectiveConfig& c, const Dataset& d, Index o) { return make(double{}, c, d, o); };
  return entry;
}

// Unique names in registration order, the built-ins first; errors name objective.regime and the names.
using ObjectiveRegistry = Registry<ObjectiveEntry>;

// The process's registry, holding the built-in objectives from its first use on.
ObjectiveRegistry& objective_registry();

}  // namespace normscale
