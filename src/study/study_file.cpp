// Study files: parsing (every key checked, errors name the study key) and the pure grid and search expansion.
#include "normscale/study/study_file.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/whole_file.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace normscale {
namespace {

constexpr std::string_view kTopLevelKeys[] = {
    "name",  "preset",        "base",       "regimes",       "batch",         "ranks",
    "seeds", "grid",          "grid_per_batch", "lr_scaling", "base_batch",   "warmup_epochs",
    "epochs", "steps",        "full_batch_size", "target_validation_error", "target_validation_loss",
    "select_by", "search",    "halving"};
constexpr std::string_view kHalvingKeys[] = {"rungs", "reduction", "mode"};
constexpr std::string_view kSearchKeys[] = {"kind", "trials", "seed", "ranges"};
constexpr std::string_view kRangeKeys[] = {"low", "high", "scale"};

// Where a study error happened: "<file>:<line>: <study key>: ".
struct Where {
  std::string_view source;
  std::string key;  // e.g. grid."optim.lr"
  std::string at(const toml::node& node) const {
    return fmt::format("{}:{}: {}", source, node.source().begin.line, key);
  }
};

// Quotes a dotted option key as it is written inside a study table: "optim.lr" -> "\"optim.lr\"".
std::string quote_key(std::string_view key) { return fmt::format("\"{}\"", key); }

std::string batch_text(std::int64_t batch) {
  return batch == kFullBatch ? std::string("full") : std::to_string(batch);
}

// Applies one canonical override to `config` (the literal is TOML, so it goes through apply_toml).
void apply_literal(TrainConfig& config, const ConfigOverride& override_value) {
  apply_toml(config, fmt::format("{} = {}", quote_key(override_value.key), override_value.value),
             "<study override>");
}

// The node as a canonical TOML literal of `option`, type-checked by assigning it to a scratch config.
std::string canonical_literal(const OptionDescriptor& option, const toml::node& node,
                              const Where& where) {
  toml::table document;
  node.visit([&](const auto& value) { document.insert_or_assign(std::string(option.key), value); });
  std::ostringstream text;
  text << document;
  TrainConfig scratch;
  try {
    apply_toml(scratch, text.str(), "<study value>");
  } catch (const Error& error) {
    NS_FAIL("{}: {}", where.at(node), error.what());
  }
  return format_value(option, scratch);
}

[[noreturn]] void fail_unknown_option(const Where& where, const toml::node& node,
                                      std::string_view dotted) {
  NS_FAIL("{}: unknown option '{}'; did you mean '{}'? (normscale train --list-options lists every "
          "option)",
          where.at(node), dotted, closest_option_key(dotted));
}

bool never_a_value(const toml::node&) { return false; }

// Every trial's batch size and seed are its axes' values (batch, seeds), labelled so in the database, tables and
// plots; [base] may give them (the axes' defaults), but a regime, grid or search that set them as well would
// train trials at other values than their labels say.
void check_not_an_axis_key(const std::string& context, std::string_view key, const std::string& where) {
  if (context == "base") return;
  NS_CHECK(key != "optim.batch", "{}: optim.batch is the study's batch axis; give the batch sizes as batch = [...] "
           "(a regime's own batch sizes: a study of its own)", where);
  NS_CHECK(key != "seed", "{}: seed is the study's seeds axis; give the seeds as seeds = [...]", where);
}

// Walks a table of train-config options (nested sections and/or quoted dotted keys) and calls
// visit(option, node, where) for every option; anything else is an error naming the study key, and so is an option
// given twice ("optim.lr" beside a section [..optim] lr: TOML allows it, and one of the two went unused).
// is_value(node) tells a table that is an option's value (a search range) from a section to descend into.
template <class Visit, class IsValue>
void for_each_option_in(const toml::table& table, const std::string& prefix, const std::string& context,
                        std::string_view source, Visit&& visit, IsValue is_value, std::set<std::string>& given) {
  for (auto&& [key, node] : table) {
    const std::string dotted =
        prefix.empty() ? std::string(key.str()) : fmt::format("{}.{}", prefix, key.str());
    const Where where{source, fmt::format("{}.{}", context, quote_key(dotted))};
    if (const OptionDescriptor* option = find_option(dotted)) {
      check_not_an_axis_key(context, option->key, where.at(node));
      NS_CHECK(given.insert(dotted).second, "{}: given twice (once as a dotted key, once in a section); keep one",
               where.at(node));
      visit(*option, node, where);
    } else if (const auto* section = node.as_table(); section != nullptr && !is_value(node)) {
      for_each_option_in(*section, dotted, context, source, visit, is_value, given);
    } else {
      fail_unknown_option(where, node, dotted);
    }
  }
}

template <class Visit, class IsValue = bool (*)(const toml::node&)>
void for_each_option(const toml::table& table, const std::string& prefix, const std::string& context,
                     std::string_view source, Visit&& visit, IsValue is_value = never_a_value) {
  std::set<std::string> given;
  for_each_option_in(table, prefix, context, source, visit, is_value, given);
}

const toml::array& require_axis(const toml::node& node, const Where& where) {
  const auto* array = node.as_array();
  NS_CHECK(array != nullptr, "{}: expected an array of values, e.g. [1, 2]", where.at(node));
  NS_CHECK(!array->empty(), "{}: empty axis; give at least one value (or leave the key out)",
           where.at(node));
  return *array;
}

std::string node_text(const toml::node& node) {
  std::ostringstream text;
  node.visit([&](const auto& value) { text << value; });
  return text.str();
}

std::int64_t positive_integer(const toml::node& node, const Where& where, std::string_view what) {
  const auto* integer = node.as_integer();
  NS_CHECK(integer != nullptr && integer->get() >= 1, "{}: expected {}, got {}", where.at(node),
           what, node_text(node));
  return integer->get();
}

std::int64_t batch_value(const toml::node& node, const Where& where) {
  if (const auto* text = node.as_string()) {
    NS_CHECK(text->get() == "full", "{}: expected an integer >= 1 or \"full\", got \"{}\"",
             where.at(node), text->get());
    return kFullBatch;
  }
  return positive_integer(node, where, "an integer >= 1 or \"full\"");
}

std::vector<GridAxis> parse_grid(const toml::table& table, const std::string& context,
                                 std::string_view source) {
  std::vector<GridAxis> axes;
  for_each_option(table, "", context, source,
                  [&](const OptionDescriptor& option, const toml::node& node, const Where& where) {
                    GridAxis axis{std::string(option.key), {}};
                    for (const toml::node& value : require_axis(node, where)) {
                      axis.values.push_back(canonical_literal(option, value, where));
                    }
                    axes.push_back(std::move(axis));
                  });
  return axes;
}

std::vector<ConfigOverride> parse_overrides(const toml::node& node, const std::string& context,
                                            std::string_view source) {
  std::vector<ConfigOverride> overrides;
  if (const auto* table = node.as_table()) {
    for_each_option(*table, "", context, source,
                    [&](const OptionDescriptor& option, const toml::node& value, const Where& where) {
                      overrides.push_back(
                          {std::string(option.key), canonical_literal(option, value, where)});
                    });
    return overrides;
  }
  const Where where{source, context};
  const auto* array = node.as_array();
  NS_CHECK(array != nullptr,
           "{}: expected a table of options ({{\"objective.regime\" = \"sgd\"}}) or a list of "
           "\"key=value\" strings",
           where.at(node));
  for (const toml::node& element : *array) {
    const auto* text = element.as_string();
    NS_CHECK(text != nullptr, "{}: expected \"key=value\" strings in the list", where.at(element));
    const std::string assignment = text->get();
    const auto equals = assignment.find('=');
    NS_CHECK(equals != std::string::npos, "{}: \"{}\": expected key=value", where.at(element),
             assignment);
    std::string key = assignment.substr(0, equals);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    const OptionDescriptor* option = find_option(key);
    if (option == nullptr) {
      fail_unknown_option(Where{source, fmt::format("{}.{}", context, quote_key(key))}, element, key);
    }
    check_not_an_axis_key(context, key, Where{source, fmt::format("{}.{}", context, quote_key(key))}.at(element));
    NS_CHECK(std::none_of(overrides.begin(), overrides.end(), [&](const ConfigOverride& o) { return o.key == key; }),
             "{}: \"{}\": {} is set a second time in this list; keep one", where.at(element), assignment, key);
    TrainConfig scratch;
    try {
      apply_override(scratch, assignment);
    } catch (const Error& error) {
      NS_FAIL("{}: {}", where.at(element), error.what());
    }
    overrides.push_back({key, format_value(*option, scratch)});
  }
  return overrides;
}

// Whether one of `axes` sets `key`; sets_key_at: whether the per-batch grids set it at `batch`.
bool sets_key(const std::vector<GridAxis>& axes, const std::string& key) {
  return std::any_of(axes.begin(), axes.end(), [&](const GridAxis& axis) { return axis.key == key; });
}
bool sets_key_at(const std::map<std::int64_t, std::vector<GridAxis>>& grids, std::int64_t batch,
                 const std::string& key) {
  const auto found = grids.find(batch);
  return found != grids.end() && sets_key(found->second, key);
}

// Where a searched key is also on a grid axis (e.g. grid."optim.lr"), or "" when it is on none.
std::string grid_axis_of(const StudySpec& spec, const std::string& key) {
  if (sets_key(spec.grid, key)) return fmt::format("grid.{}", quote_key(key));
  for (const Regime& regime : spec.regimes) {
    if (sets_key(regime.grid, key)) return fmt::format("regimes.{}.grid.{}", quote_key(regime.name), quote_key(key));
    for (const auto& [batch, axes] : regime.grid_per_batch) {
      if (sets_key(axes, key)) {
        return fmt::format("regimes.{}.grid_per_batch.{}.{}", quote_key(regime.name), quote_key(batch_text(batch)),
                           quote_key(key));
      }
    }
  }
  for (const auto& [batch, axes] : spec.grid_per_batch) {
    if (sets_key(axes, key)) return fmt::format("grid_per_batch.{}.{}", quote_key(batch_text(batch)), quote_key(key));
  }
  return {};
}

// A `[search.ranges]` value, {low = ..., high = ..., scale = ...}, as opposed to a section of dotted keys.
bool is_range_table(const toml::node& node) {
  const auto* table = node.as_table();
  return table != nullptr && std::any_of(std::begin(kRangeKeys), std::end(kRangeKeys),
                                         [&](std::string_view key) { return table->contains(key); });
}

SearchRange parse_range(const OptionDescriptor& option, const toml::node& node, const Where& where) {
  // Rounded to integers, quasi-random points would repeat (duplicate trials) and lose their even spread;
  // a grid lists integer values exactly.
  NS_CHECK(option.type == OptionType::kReal,
           "{}: '{}' is an option of type {}, and a search draws real numbers; list its values in [grid] instead",
           where.at(node), option.key, type_name(option.type));
  const auto* table = node.as_table();
  NS_CHECK(table != nullptr, "{}: expected a range {{ low = ..., high = ..., scale = \"linear\" or \"log\" }}",
           where.at(node));
  for (auto&& [key, value] : *table) {
    NS_CHECK(std::find(std::begin(kRangeKeys), std::end(kRangeKeys), key.str()) != std::end(kRangeKeys),
             "{}.{}: unknown key; expected one of: {}", where.at(value), key.str(),
             fmt::join(kRangeKeys, ", "));
  }
  const auto bound = [&](std::string_view name) {
    const toml::node* value = table->get(name);
    NS_CHECK(value != nullptr, "{}: {} is missing; expected {{ low = ..., high = ... }}", where.at(node), name);
    const std::optional<double> number =
        value->is_integer() || value->is_floating_point() ? value->value<double>() : std::nullopt;
    NS_CHECK(number && std::isfinite(*number), "{}.{}: expected a finite number, got {}", where.at(*value), name,
             node_text(*value));
    return *number;
  };
  SearchRange range{std::string(option.key), bound("low"), bound("high"), RangeScale::kLinear};
  if (const toml::node* scale = table->get("scale")) {
    const auto* text = scale->as_string();
    NS_CHECK(text != nullptr && (text->get() == "linear" || text->get() == "log"),
             "{}.scale: expected \"linear\" or \"log\", got {}", where.at(*scale), node_text(*scale));
    range.scale = text->get() == "log" ? RangeScale::kLog : RangeScale::kLinear;
  }
  NS_CHECK(range.low < range.high, "{}: low = {} must be below high = {}", where.at(node), range.low, range.high);
  NS_CHECK(range.scale == RangeScale::kLinear || range.low > 0.0,
           "{}: scale = \"log\" needs low > 0, got low = {}", where.at(node), range.low);
  return range;
}

// `[halving]`, after the budget (`epochs` or `steps`) its last rung must equal has been parsed into `spec`.
HalvingSpec parse_halving(const toml::node& node, const StudySpec& spec) {
  const std::string_view source = spec.source;
  const Where where{source, "halving"};
  const toml::table* table = node.as_table();
  NS_CHECK(table != nullptr, "{}: expected a table [halving] with rungs, reduction and mode", where.at(node));
  for (const auto& [key, value] : *table) {
    NS_CHECK(std::find(std::begin(kHalvingKeys), std::end(kHalvingKeys), key.str()) != std::end(kHalvingKeys),
             "{}:{}: halving.{}: unknown key; expected one of: {}", source, key.source().begin.line, key.str(),
             fmt::join(kHalvingKeys, ", "));
  }
  const std::string budget = spec.steps > 0 ? "steps" : "epochs";
  const std::int64_t full = spec.steps > 0 ? spec.steps : spec.epochs;
  NS_CHECK(full > 0, "{}: halving needs the study's budget, its last rung: give epochs = N or steps = N",
           where.at(node));
  HalvingSpec halving;
  const toml::node* rungs = table->get("rungs");
  NS_CHECK(rungs != nullptr, "{}: rungs is missing; expected rungs = [budgets in {}, increasing, the last {} = {}]",
           where.at(node), budget, budget, full);
  const Where rungs_where{source, "halving.rungs"};
  const toml::array* list = rungs->as_array();
  NS_CHECK(list != nullptr && list->size() >= 2, "{}: expected at least two budgets in {}, e.g. [1, 3, {}]",
           rungs_where.at(*rungs), budget, full);
  for (const toml::node& element : *list) {
    const auto* integer = element.as_integer();
    NS_CHECK(integer != nullptr && integer->get() >= 1, "{}: expected budgets in {} (integers >= 1), got {}",
             rungs_where.at(element), budget, node_text(element));
    NS_CHECK(halving.rungs.empty() || integer->get() > halving.rungs.back(),
             "{}: {} after {}: the rungs must increase strictly", rungs_where.at(element), integer->get(),
             halving.rungs.back());
    halving.rungs.push_back(integer->get());
  }
  NS_CHECK(halving.rungs.back() == full, "{}: the last rung is {}, but the study's budget is {} = {}; the last "
           "rung is the full budget", rungs_where.at(*rungs), halving.rungs.back(), budget, full);
  if (const toml::node* reduction = table->get("reduction")) {
    const auto* integer = reduction->as_integer();
    NS_CHECK(integer != nullptr && integer->get() >= 2, "{}: expected an integer >= 2 (eta: the top 1/eta of a "
             "rung go on), got {}", Where{source, "halving.reduction"}.at(*reduction), node_text(*reduction));
    halving.reduction = integer->get();
  }
  if (const toml::node* mode = table->get("mode")) {
    const auto* text = mode->as_string();
    NS_CHECK(text != nullptr && (text->get() == "asynchronous" || text->get() == "synchronous"),
             "{}: expected \"asynchronous\" (ASHA) or \"synchronous\" (successive halving), got {}",
             Where{source, "halving.mode"}.at(*mode), node_text(*mode));
    halving.mode = text->get() == "asynchronous" ? HalvingMode::kAsynchronous : HalvingMode::kSynchronous;
  }
  return halving;
}

// `[search]`, after the grids it must stay apart from have been parsed into `spec`.
QuasiRandomSearch parse_search(const toml::node& node, const StudySpec& spec) {
  const std::string_view source = spec.source;
  const Where where{source, "search"};
  const auto* table = node.as_table();
  NS_CHECK(table != nullptr, "{}: expected a table [search] with kind, trials and [search.ranges]",
           where.at(node));
  for (auto&& [key, value] : *table) {
    NS_CHECK(std::find(std::begin(kSearchKeys), std::end(kSearchKeys), key.str()) != std::end(kSearchKeys),
             "{}:{}: search.{}: unknown key; expected one of: {}", source, key.source().begin.line, key.str(),
             fmt::join(kSearchKeys, ", "));
  }
  // kind is required, so that a file keeps its meaning when other kinds (random, Sobol) arrive.
  const toml::node* kind = table->get("kind");
  NS_CHECK(kind != nullptr, "{}: kind is missing; expected kind = \"quasi-random\"", where.at(node));
  NS_CHECK(kind->is_string() && kind->as_string()->get() == "quasi-random",
           "{}: unknown kind {}; expected \"quasi-random\" (the only kind for now)",
           Where{source, "search.kind"}.at(*kind), node_text(*kind));

  QuasiRandomSearch search;
  const toml::node* trials = table->get("trials");
  NS_CHECK(trials != nullptr, "{}: trials is missing; expected trials = N, the number of points", where.at(node));
  const auto* trial_count = trials->as_integer();
  NS_CHECK(trial_count != nullptr && trial_count->get() >= 1 && trial_count->get() <= kMaxSearchTrials,
           "{}: expected an integer in [1, {}] (the number of points), got {}",
           Where{source, "search.trials"}.at(*trials), kMaxSearchTrials, node_text(*trials));
  search.trials = trial_count->get();
  if (const toml::node* seed = table->get("seed")) {
    const auto* integer = seed->as_integer();
    NS_CHECK(integer != nullptr && integer->get() >= 0, "{}: expected an integer >= 0, got {}",
             Where{source, "search.seed"}.at(*seed), node_text(*seed));
    search.seed = static_cast<std::uint64_t>(integer->get());
  }

  const toml::node* ranges = table->get("ranges");
  NS_CHECK(ranges != nullptr && ranges->is_table() && !ranges->as_table()->empty(),
           "{}: expected a non-empty table [search.ranges] of \"option\" = {{ low = ..., high = ... }}",
           ranges != nullptr ? Where{source, "search.ranges"}.at(*ranges) : where.at(node));
  for_each_option(
      *ranges->as_table(), "", "search.ranges", source,
      [&](const OptionDescriptor& option, const toml::node& value, const Where& at) {
        // Searched and listed at once, a key would have two sources of values, and an axis replacing it at one
        // regime or batch would fold distinct points into duplicate trials: a key is one or the other.
        const std::string axis = grid_axis_of(spec, std::string(option.key));
        NS_CHECK(axis.empty(), "{}: also a grid axis ({}); a key is either searched or listed, not both",
                 at.at(value), axis);
        search.ranges.push_back(parse_range(option, value, at));
      },
      is_range_table);
  search_points(search, source);  // points that stay equal are reported now, not at the first expansion
  return search;
}

// The canonical TOML literal of a real option set to `value` (as format_value writes it).
std::string real_literal(const OptionDescriptor& option, double value) {
  TrainConfig scratch;
  apply_toml(scratch, fmt::format("{} = {}", quote_key(option.key), value), "<search value>");
  return format_value(option, scratch);
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// The id hashes what determines the run; `out`, `progress`, `resume`, `overwrite` and `collective_timeout`
// are left to the runner.
std::string trial_id(const TrainConfig& config, std::int64_t ranks, double warmup_epochs) {
  TrainConfig canonical = config;
  const TrainConfig defaults;
  canonical.out = defaults.out;
  canonical.progress = defaults.progress;
  canonical.resume = defaults.resume;
  canonical.overwrite = defaults.overwrite;
  canonical.collective_timeout = defaults.collective_timeout;
  const std::string text =
      fmt::format("{}\nranks = {}\nwarmup_epochs = {}\n", to_toml(canonical), ranks, warmup_epochs);
  return fmt::format("{:016x}", fnv1a(text));
}

// `axes` with each of `overriding` replacing the axis of the same key, or appended.
void override_axes(std::vector<GridAxis>& axes, const std::vector<GridAxis>& overriding) {
  for (const GridAxis& axis : overriding) {
    const auto same = std::find_if(axes.begin(), axes.end(),
                                   [&](const GridAxis& a) { return a.key == axis.key; });
    if (same != axes.end()) {
      *same = axis;
    } else {
      axes.push_back(axis);
    }
  }
}

// `grid_per_batch` tables ("Q" or "full" -> option = [values]) under `context`; every Q must be on the batch axis.
std::map<std::int64_t, std::vector<GridAxis>> parse_grid_per_batch(const toml::node& node, const std::string& context,
                                                                   std::string_view source,
                                                                   const std::vector<std::int64_t>& batches) {
  const auto* table = node.as_table();
  NS_CHECK(table != nullptr, "{}: expected tables [{}.\"Q\"]", Where{source, context}.at(node), context);
  std::map<std::int64_t, std::vector<GridAxis>> grids;
  for (auto&& [key, axes_node] : *table) {
    const std::string where = fmt::format("{}.{}", context, quote_key(key.str()));
    const std::string_view batch_key = key.str();
    std::int64_t batch = kFullBatch;
    if (batch_key != "full") {
      std::int64_t parsed = 0;
      const auto [end, error] = std::from_chars(batch_key.data(), batch_key.data() + batch_key.size(), parsed);
      NS_CHECK(error == std::errc() && end == batch_key.data() + batch_key.size() && parsed >= 1,
               "{}:{}: {}: expected a batch size (integer >= 1 or \"full\") as the key", source,
               key.source().begin.line, where);
      batch = parsed;
    }
    if (std::find(batches.begin(), batches.end(), batch) == batches.end()) {
      std::vector<std::string> axis;
      for (const std::int64_t b : batches) axis.push_back(batch_text(b));
      NS_FAIL("{}:{}: {}: batch {} is not on the batch axis ({})", source, key.source().begin.line, where,
              batch_key, fmt::join(axis, ", "));
    }
    const auto* axes = axes_node.as_table();
    NS_CHECK(axes != nullptr, "{}: expected a table of option = [values]", Where{source, where}.at(axes_node));
    grids[batch] = parse_grid(*axes, where, source);
  }
  return grids;
}

// The grid axes of a regime at one batch: `grid` < the regime's grid < `grid_per_batch` at Q < the regime's
// `grid_per_batch` at Q. A searched key
// is an axis without values (they come from the search point), placed among `grid`'s axes in key order as
// the same key in `grid` would be, so a grid point reads the same whether its values were listed or searched.
std::vector<GridAxis> axes_at(const StudySpec& spec, const Regime& regime, std::int64_t batch) {
  std::vector<GridAxis> axes = spec.grid;
  if (spec.search) {
    for (const SearchRange& range : spec.search->ranges) {
      const auto after = std::find_if(axes.begin(), axes.end(), [&](const GridAxis& a) { return a.key > range.key; });
      axes.insert(after, GridAxis{range.key, {}});
    }
  }
  override_axes(axes, regime.grid);
  if (const auto per_batch = spec.grid_per_batch.find(batch); per_batch != spec.grid_per_batch.end()) {
    override_axes(axes, per_batch->second);
  }
  if (const auto own = regime.grid_per_batch.find(batch); own != regime.grid_per_batch.end()) {
    override_axes(axes, own->second);
  }
  return axes;
}

// `select_by` and the target (`target_validation_error` in percent, or `target_validation_loss`): one metric
// for ranking and timing, so a target must be of the metric trials are ranked by.
void parse_metric(const toml::table& document, std::string_view source, StudySpec& spec) {
  const toml::node* error_target = document.get("target_validation_error");
  const toml::node* loss_target = document.get("target_validation_loss");
  // The message is formatted only where both are given.
  NS_CHECK(error_target == nullptr || loss_target == nullptr,
           "{}: target_validation_error is given too; a study has one target (the metric it selects by)",
           Where{source, "target_validation_loss"}.at(*loss_target));
  if (const toml::node* select = document.get("select_by")) {
    const std::optional<std::string> value = select->value<std::string>();
    NS_CHECK(value && (*value == "validation_error" || *value == "validation_loss"),
             "{}: expected \"validation_error\" or \"validation_loss\" (the latter for data without classes, "
             "whose runs record no error)",
             Where{source, "select_by"}.at(*select));
    spec.metric = *value == "validation_error" ? StudyMetric::kValidationError : StudyMetric::kValidationLoss;
  } else if (loss_target != nullptr) {
    spec.metric = StudyMetric::kValidationLoss;
  }
  const toml::node* target = error_target != nullptr ? error_target : loss_target;
  if (target == nullptr) return;
  const StudyMetric kind = error_target != nullptr ? StudyMetric::kValidationError : StudyMetric::kValidationLoss;
  const Where where{source, std::string(target_key(kind))};
  NS_CHECK(kind == spec.metric, "{}: the study selects by {} (select_by) but this target is a {}; expected {}",
           where.at(*target), metric_key(spec.metric), metric_name(kind), target_key(spec.metric));
  const std::optional<double> value = target->value<double>();
  if (kind == StudyMetric::kValidationError) {
    NS_CHECK(value && *value >= 0.0 && *value <= 100.0,
             "{}: expected a validation error in percent, a number in [0, 100]", where.at(*target));
  } else {
    NS_CHECK(value && std::isfinite(*value) && *value >= 0.0, "{}: expected a validation loss, a number >= 0",
             where.at(*target));
  }
  spec.target = MetricTarget{kind, *value};
}

}  // namespace

std::string_view lr_scaling_name(LrScaling rule) {
  switch (rule) {
    case LrScaling::kNone: return "none";
    case LrScaling::kLinear: return "linear";
    case LrScaling::kSqrt: return "sqrt";
  }
  return "?";
}

StudySpec parse_study(std::string_view text, std::string_view source_name) {
  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    NS_FAIL("{}:{}:{}: TOML syntax error: {}", source_name, error.source().begin.line,
            error.source().begin.column, error.description());
  }
  StudySpec spec;
  spec.source = std::string(source_name);
  const std::string_view source = spec.source;

  for (auto&& [key, node] : document) {
    const std::string_view name = key.str();
    NS_CHECK(std::find(std::begin(kTopLevelKeys), std::end(kTopLevelKeys), name) !=
                 std::end(kTopLevelKeys),
             "{}:{}: unknown study key '{}'; expected one of: {} (train options go under [base])",
             source, key.source().begin.line, name, fmt::join(kTopLevelKeys, ", "));
  }
  const auto string_of = [&](std::string_view key) -> std::string {
    const toml::node* node = document.get(key);
    if (node == nullptr) return {};
    NS_CHECK(node->is_string(), "{}: expected a string", Where{source, std::string(key)}.at(*node));
    return node->as_string()->get();
  };
  const auto integer_of = [&](std::string_view key, std::int64_t fallback) {
    const toml::node* node = document.get(key);
    return node == nullptr ? fallback
                           : positive_integer(*node, Where{source, std::string(key)}, "an integer >= 1");
  };

  spec.name = string_of("name");
  spec.preset = string_of("preset");
  if (!spec.preset.empty()) {
    NS_CHECK(is_known_preset(spec.preset), "{}: preset: unknown preset \"{}\" (normscale train "
             "--list-presets lists them)", source, spec.preset);
  }

  if (const toml::node* base = document.get("base")) {
    const auto* table = base->as_table();
    NS_CHECK(table != nullptr, "{}: expected a table of train options", Where{source, "base"}.at(*base));
    for (const ConfigOverride& item : parse_overrides(*base, "base", source)) {
      if (item.key == "preset") {
        NS_CHECK(spec.preset.empty(), "{}: base.preset and preset are both given; keep one", source);
        spec.preset = item.value.substr(1, item.value.size() - 2);
        NS_CHECK(is_known_preset(spec.preset), "{}: base.preset: unknown preset {}", source, item.value);
      } else {
        spec.base.push_back(item);
      }
    }
  }
  TrainConfig base_config;
  if (!spec.preset.empty()) apply_preset(spec.preset, base_config);
  for (const ConfigOverride& item : spec.base) apply_literal(base_config, item);

  std::vector<std::pair<std::size_t, const toml::node*>> regime_per_batch;  // parsed after the batch axis
  if (const toml::node* regimes = document.get("regimes")) {
    const auto* table = regimes->as_table();
    NS_CHECK(table != nullptr && !table->empty(),
             "{}: expected a non-empty table of named regimes, e.g. sgd = {{\"objective.regime\" = "
             "\"sgd\"}}",
             Where{source, "regimes"}.at(*regimes));
    for (auto&& [key, node] : *table) {
      const std::string regime_name(key.str());
      const std::string context = fmt::format("regimes.{}", quote_key(regime_name));
      Regime regime{regime_name, {}, {}, {}};
      const auto* options = node.as_table();
      if (options != nullptr && (options->contains("grid") || options->contains("grid_per_batch"))) {
        toml::table rest = *options;
        if (const toml::node* grid = options->get("grid")) {
          NS_CHECK(grid->is_table(), "{}: expected a table of option = [values]",
                   Where{source, context + ".grid"}.at(*grid));
          regime.grid = parse_grid(*grid->as_table(), context + ".grid", source);
          rest.erase("grid");
        }
        rest.erase("grid_per_batch");
        regime.overrides = parse_overrides(rest, context, source);
      } else {
        regime.overrides = parse_overrides(node, context, source);
      }
      spec.regimes.push_back(std::move(regime));
      if (options != nullptr && options->contains("grid_per_batch")) {
        regime_per_batch.emplace_back(spec.regimes.size() - 1, options->get("grid_per_batch"));
      }
    }
  } else {
    Regime base;
    base.name = "base";
    spec.regimes.push_back(std::move(base));
  }

  if (const toml::node* batch = document.get("batch")) {
    const Where where{source, "batch"};
    for (const toml::node& value : require_axis(*batch, where)) {
      spec.batches.push_back(batch_value(value, where));
    }
  } else {
    spec.batches.push_back(base_config.optim.batch);
  }
  if (const toml::node* ranks = document.get("ranks")) {
    const Where where{source, "ranks"};
    for (const toml::node& value : require_axis(*ranks, where)) {
      spec.ranks.push_back(positive_integer(value, where, "an integer >= 1 (MPI ranks)"));
    }
  } else {
    spec.ranks.push_back(1);
  }
  if (const toml::node* seeds = document.get("seeds")) {
    const Where where{source, "seeds"};
    for (const toml::node& value : require_axis(*seeds, where)) {
      const auto* integer = value.as_integer();
      NS_CHECK(integer != nullptr && integer->get() >= 0, "{}: expected an integer >= 0",
               where.at(value));
      spec.seeds.push_back(static_cast<std::uint64_t>(integer->get()));
    }
  } else {
    spec.seeds.push_back(base_config.seed);
  }

  if (const toml::node* grid = document.get("grid")) {
    const auto* table = grid->as_table();
    NS_CHECK(table != nullptr, "{}: expected a table of option = [values]", Where{source, "grid"}.at(*grid));
    spec.grid = parse_grid(*table, "grid", source);
  }
  if (const toml::node* per_batch = document.get("grid_per_batch")) {
    spec.grid_per_batch = parse_grid_per_batch(*per_batch, "grid_per_batch", source, spec.batches);
  }
  // A regime's own per-batch grids, now that the batch axis is known.
  for (const auto& [index, node] : regime_per_batch) {
    Regime& regime = spec.regimes[index];
    regime.grid_per_batch = parse_grid_per_batch(
        *node, fmt::format("regimes.{}.grid_per_batch", quote_key(regime.name)), source, spec.batches);
  }
  // A regime's grid key that the study's grid_per_batch also sets would be replaced at that batch, silently: which
  // one was meant is the study's author's to say.
  for (const Regime& regime : spec.regimes) {
    for (const GridAxis& axis : regime.grid) {
      for (const auto& [batch, axes] : spec.grid_per_batch) {
        NS_CHECK(!sets_key(axes, axis.key) || sets_key_at(regime.grid_per_batch, batch, axis.key),
                 "{}: regimes.{}.grid sets {} and grid_per_batch.{} sets it too, so at batch {} the study's per-batch "
                 "values would replace the regime's; hint: say which the regime runs there with "
                 "regimes.{}.grid_per_batch.{}.{}, or set {} in only one of the two",
                 source, quote_key(regime.name), quote_key(axis.key), quote_key(batch_text(batch)), batch_text(batch),
                 quote_key(regime.name), quote_key(batch_text(batch)), quote_key(axis.key), quote_key(axis.key));
      }
    }
  }
  if (const toml::node* search = document.get("search")) spec.search = parse_search(*search, spec);
  // A regime's own setting that an axis of every batch also sets would be replaced by the axis's values in every
  // trial, silently. (A per-batch grid replaces it at its batch only: the setting is the other batches' value.)
  for (const Regime& regime : spec.regimes) {
    for (const ConfigOverride& setting : regime.overrides) {
      const bool every_batch = std::all_of(spec.batches.begin(), spec.batches.end(), [&](std::int64_t batch) {
        return sets_key_at(regime.grid_per_batch, batch, setting.key) ||
               sets_key_at(spec.grid_per_batch, batch, setting.key);
      });
      const bool searched = spec.search && std::any_of(spec.search->ranges.begin(), spec.search->ranges.end(),
                                                       [&](const SearchRange& r) { return r.key == setting.key; });
      const char* axis = sets_key(regime.grid, setting.key) ? "its own grid"
                         : sets_key(spec.grid, setting.key) ? "the study's grid"
                         : searched                         ? "the study's [search.ranges]"
                         : every_batch                      ? "a grid_per_batch at every batch"
                                                            : nullptr;
      NS_CHECK(axis == nullptr,
               "{}: regimes.{} sets {} = {}, but {} also sets {}, whose values would replace the regime's in every "
               "trial; hint: {}",
               source, quote_key(regime.name), quote_key(setting.key), setting.value, axis, quote_key(setting.key),
               searched ? fmt::format("remove the regime's setting or the range of {}", quote_key(setting.key))
                        : fmt::format("list the values the regime runs in regimes.{}.grid, or set {} in only one place",
                                      quote_key(regime.name), quote_key(setting.key)));
    }
  }

  if (const toml::node* rule = document.get("lr_scaling")) {
    const std::string value = string_of("lr_scaling");
    if (value == "none") {
      spec.lr_scaling = LrScaling::kNone;
    } else if (value == "linear") {
      spec.lr_scaling = LrScaling::kLinear;
    } else if (value == "sqrt") {
      spec.lr_scaling = LrScaling::kSqrt;
    } else {
      NS_FAIL("{}: \"{}\" is not a scaling rule; expected one of: none, linear, sqrt",
              Where{source, "lr_scaling"}.at(*rule), value);
    }
  }
  spec.base_batch = integer_of("base_batch", 0);
  NS_CHECK(spec.lr_scaling == LrScaling::kNone || spec.base_batch >= 1,
           "{}: lr_scaling = \"{}\" needs base_batch (the batch size optim.lr is tuned for)", source,
           lr_scaling_name(spec.lr_scaling));
  if (const toml::node* warmup = document.get("warmup_epochs")) {
    const auto value = warmup->value<double>();
    NS_CHECK(value && *value >= 0.0, "{}: expected a number >= 0",
             Where{source, "warmup_epochs"}.at(*warmup));
    spec.warmup_epochs = *value;
  }
  parse_metric(document, source, spec);
  spec.full_batch_size = integer_of("full_batch_size", spec.full_batch_size);
  spec.full_batch_size_given = document.contains("full_batch_size");
  spec.epochs = integer_of("epochs", 0);
  spec.steps = integer_of("steps", 0);
  NS_CHECK(spec.epochs == 0 || spec.steps == 0,
           "{}: both epochs and steps are given; the budget is one of them", source);
  if (const toml::node* halving = document.get("halving")) spec.halving = parse_halving(*halving, spec);
  return spec;
}

StudySpec read_study_file(const std::filesystem::path& path) {
  std::error_code error;
  NS_CHECK(std::filesystem::exists(path, error), "study file {}: no such file (expected a TOML study file)",
           path.string());
  NS_CHECK(std::filesystem::is_regular_file(path, error),
           "study file {}: not a regular file (a folder or a device?); expected a TOML study file", path.string());
  StudySpec spec = parse_study(read_whole_file(path, "study file"), path.string());
  if (spec.name.empty()) spec.name = path.stem().string();
  return spec;
}

double lr_scale_factor(LrScaling rule, std::int64_t batch, std::int64_t base_batch,
                       std::int64_t full_batch_size) {
  if (rule == LrScaling::kNone) return 1.0;
  NS_CHECK(base_batch >= 1, "lr scaling: base_batch = {} must be >= 1", base_batch);
  const std::int64_t q = batch == kFullBatch ? full_batch_size : batch;
  NS_CHECK(q >= 1, "lr scaling: batch {} must be >= 1 (full_batch_size for \"full\")", q);
  const double ratio = static_cast<double>(q) / static_cast<double>(base_batch);
  return rule == LrScaling::kLinear ? ratio : std::sqrt(ratio);
}

std::vector<Trial> expand(const StudySpec& spec) {
  NS_CHECK(!spec.regimes.empty() && !spec.batches.empty() && !spec.ranks.empty() && !spec.seeds.empty(),
           "study {}: every axis needs at least one value", spec.source);
  TrainConfig base;
  if (!spec.preset.empty()) apply_preset(spec.preset, base);
  // Which study key set each option last: an invalid value is reported against it.
  std::map<std::string, std::string> base_origin;
  for (const ConfigOverride& item : spec.base) {
    apply_literal(base, item);
    base_origin[item.key] = fmt::format("base.{}", quote_key(item.key));
  }

  // Without a search, one empty search point: the grid alone.
  const std::vector<std::vector<ConfigOverride>> search =
      spec.search ? search_points(*spec.search, spec.source) : std::vector<std::vector<ConfigOverride>>(1);
  std::map<std::string, std::size_t> search_column;
  double planned_trials = 0.0;
  if (spec.search) {
    for (std::size_t column = 0; column < spec.search->ranges.size(); ++column) {
      search_column[spec.search->ranges[column].key] = column;
    }
  }

  std::vector<Trial> trials;
  std::map<std::string, std::size_t> index_of_id;
  for (const Regime& regime : spec.regimes) {
    TrainConfig regime_config = base;
    auto regime_origin = base_origin;
    for (const ConfigOverride& item : regime.overrides) {
      apply_literal(regime_config, item);
      regime_origin[item.key] = fmt::format("regimes.{}.{}", quote_key(regime.name), quote_key(item.key));
    }
    for (const std::int64_t batch : spec.batches) {
      const std::vector<GridAxis> axes = axes_at(spec, regime, batch);
      // A per-batch learning rate is already the one for this batch: the scaling rule leaves it alone.
      const auto has_lr_at = [batch](const std::map<std::int64_t, std::vector<GridAxis>>& grids) {
        const auto at = grids.find(batch);
        return at != grids.end() && std::any_of(at->second.begin(), at->second.end(),
                                                [](const GridAxis& axis) { return axis.key == "optim.lr"; });
      };
      const bool lr_given_at_batch = has_lr_at(spec.grid_per_batch) || has_lr_at(regime.grid_per_batch);
      NS_CHECK(
          lr_given_at_batch || spec.lr_scaling == LrScaling::kNone || batch != kFullBatch || spec.full_batch_size_given,
          "study {}: batch \"full\" with lr_scaling scales optim.lr by the full batch's size, which the study "
          "file does not give; expected full_batch_size = the training examples (the training set less "
          "data.validation, within data.train_limit; the default 50000 is Fashion-MNIST's), or optim.lr for "
          "batch \"full\" in grid_per_batch.full",
          spec.source);
      const double lr_scale =
          lr_given_at_batch ? 1.0 : lr_scale_factor(spec.lr_scaling, batch, spec.base_batch, spec.full_batch_size);
      std::size_t grid_points = 1;
      double trials_here = static_cast<double>(search.size() * spec.ranks.size() * spec.seeds.size());
      for (const GridAxis& axis : axes) {
        if (search_column.contains(axis.key)) {
          NS_CHECK(axis.values.empty(), "study {}: search.ranges.{} is also a grid axis; a key is either searched "
                   "or listed, not both", spec.source, quote_key(axis.key));
          continue;
        }
        NS_CHECK(!axis.values.empty(), "study {}: grid.{}: empty axis", spec.source, quote_key(axis.key));
        grid_points *= axis.values.size();
        trials_here *= static_cast<double>(axis.values.size());  // no overflow where grid_points would wrap
      }
      // Counted before any is built: a grid of millions would take minutes and gigabytes to expand.
      planned_trials += trials_here;
      NS_CHECK(planned_trials <= static_cast<double>(kMaxStudyTrials),
               "study {}: {:.4g} trials or more (regimes x batch sizes x ranks x seeds x grid points{}); a study "
               "runs at most {}; hint: fewer grid values, or [search] with kind = \"quasi-random\" and a trial count",
               spec.source, planned_trials, spec.search ? " x search points" : "", kMaxStudyTrials);
      const std::size_t points = grid_points * search.size();
      for (const std::int64_t ranks : spec.ranks) {
        for (const std::uint64_t seed : spec.seeds) {
          for (std::size_t point = 0; point < points; ++point) {
            Trial trial;
            trial.study = spec.name;
            trial.regime = regime.name;
            trial.batch = batch;
            trial.ranks = ranks;
            trial.seed = seed;
            trial.lr_scale = lr_scale;
            trial.warmup_epochs = spec.warmup_epochs;
            trial.config = regime_config;
            trial.config.optim.batch = batch;
            trial.config.seed = seed;
            if (spec.warmup_epochs > 0) trial.config.optim.warmup_epochs = spec.warmup_epochs;
            auto origin = regime_origin;
            // The search point fastest, then mixed radix over the listed axes, the last axis fastest.
            const std::vector<ConfigOverride>& searched = search[point % search.size()];
            std::size_t rest = point / search.size();
            std::vector<ConfigOverride> reversed;
            for (auto axis = axes.rbegin(); axis != axes.rend(); ++axis) {
              if (const auto column = search_column.find(axis->key); column != search_column.end()) {
                reversed.push_back(searched[column->second]);
                continue;
              }
              reversed.push_back({axis->key, axis->values[rest % axis->values.size()]});
              rest /= axis->values.size();
            }
            trial.grid_point.assign(reversed.rbegin(), reversed.rend());
            for (const ConfigOverride& item : trial.grid_point) {
              apply_literal(trial.config, item);
              const bool per_batch = sets_key_at(spec.grid_per_batch, batch, item.key);
              const bool per_regime = sets_key(regime.grid, item.key);
              const bool per_regime_batch = sets_key_at(regime.grid_per_batch, batch, item.key);
              origin[item.key] = search_column.contains(item.key)
                                     ? fmt::format("search.ranges.{}", quote_key(item.key))
                                 : per_regime_batch
                                     ? fmt::format("regimes.{}.grid_per_batch.{}.{}", quote_key(regime.name),
                                                   quote_key(batch_text(batch)), quote_key(item.key))
                                 : per_batch  ? fmt::format("grid_per_batch.{}.{}", quote_key(batch_text(batch)),
                                                            quote_key(item.key))
                                 : per_regime ? fmt::format("regimes.{}.grid.{}", quote_key(regime.name),
                                                            quote_key(item.key))
                                              : fmt::format("grid.{}", quote_key(item.key));
            }
            if (spec.epochs > 0) {
              trial.config.epochs = spec.epochs;
              trial.config.steps = 0;
            }
            if (spec.steps > 0) trial.config.steps = spec.steps;
            trial.config.optim.lr *= lr_scale;
            try {
              validate(trial.config);
            } catch (const Error& error) {
              const std::string message = error.what();
              std::string set_by;
              for (const auto& [key, study_key] : origin) {
                if (message.find(key + " ") != std::string::npos) set_by = fmt::format(" (set by {})", study_key);
              }
              NS_FAIL("{}: trial {}: {}{}", spec.source, describe_trial(trial), message, set_by);
            }
            trial.id = trial_id(trial.config, ranks, spec.warmup_epochs);
            if (const auto seen = index_of_id.find(trial.id); seen != index_of_id.end()) {
              NS_FAIL("{}: trials '{}' and '{}' resolve to the same config and ranks; make the "
                      "regimes or grid values differ",
                      spec.source, describe_trial(trials[seen->second]), describe_trial(trial));
            }
            index_of_id.emplace(trial.id, trials.size());
            trials.push_back(std::move(trial));
          }
          // Halving ranks the trials of one (regime, batch, ranks, seed): they differ in their grid point.
          NS_CHECK(!spec.halving || points != 1,
                   "{}: halving: the trials of regime={} batch={} ranks={} seed={} have one grid point, nothing to "
                   "rank; give a [grid] or [search] with more than one point, or leave [halving] out",
                   spec.source, regime.name, batch_text(batch), ranks, seed);
        }
      }
    }
  }
  return trials;
}

void refuse_trials_that_train_alike(const StudySpec& spec, const std::vector<Trial>& trials) {
  std::map<std::string, const Trial*> by_alike_id;  // by the id without the options the objective does not read
  for (const Trial& trial : trials) {
    const TrainConfig alike = with_unread_objective_options_at_defaults(trial.config);
    const auto [seen, first] = by_alike_id.emplace(trial_id(alike, trial.ranks, trial.warmup_epochs), &trial);
    if (first) continue;
    const auto keys = unread_objective_options_that_differ(trial.config, seen->second->config);
    NS_FAIL(
        "{}: trials '{}' and '{}' differ only in {}, which objective.regime = \"{}\" does not read: they would "
        "train alike; hint: give {} only in the grids of the regimes that read {} (regimes.NAME.grid = {{ ... }})",
        spec.source, describe_trial(*seen->second), describe_trial(trial), fmt::join(keys, ", "),
        trial.config.objective.regime, keys.size() == 1 ? "it" : "them", keys.size() == 1 ? "it" : "them");
  }
}

std::vector<std::vector<ConfigOverride>> search_points(const QuasiRandomSearch& search, std::string_view source) {
  NS_CHECK(search.trials >= 1 && search.trials <= kMaxSearchTrials,
           "{}: search.trials: {} points; expected 1 ... {}", source, search.trials, kMaxSearchTrials);
  NS_CHECK(!search.ranges.empty(), "{}: search.ranges: no range to search", source);
  std::vector<const OptionDescriptor*> options;
  for (const SearchRange& range : search.ranges) {
    const OptionDescriptor* option = find_option(range.key);
    NS_CHECK(option != nullptr && option->type == OptionType::kReal,
             "{}: search.ranges.{}: expected a real-valued option", source, quote_key(range.key));
    options.push_back(option);
  }
  const ScrambledHalton sequence(search.ranges.size(), search.seed);
  // 4 significant digits keep labels readable and ids independent of the last bits of exp() and log(). A point
  // that would then equal an earlier one gets the fewest more digits that set it apart; earlier points never
  // change, so a study that raises `trials` keeps the trials (and results) it has.
  std::set<std::vector<double>> taken;
  std::vector<std::vector<ConfigOverride>> points;
  for (std::uint64_t index = 0; index < static_cast<std::uint64_t>(search.trials); ++index) {
    std::vector<double> exact;
    for (std::size_t column = 0; column < search.ranges.size(); ++column) {
      const SearchRange& range = search.ranges[column];
      exact.push_back(map_to_range(sequence.coordinate(index, column), range.low, range.high, range.scale));
    }
    std::vector<double> rounded(exact.size());
    for (int digits = 4; digits <= 17; ++digits) {
      for (std::size_t column = 0; column < exact.size(); ++column) {
        const SearchRange& range = search.ranges[column];
        rounded[column] = std::clamp(round_to_significant(exact[column], digits), range.low, range.high);
      }
      if (!taken.contains(rounded)) break;
    }
    if (!taken.insert(rounded).second) {
      // (No std::views here: clang with libstdc++ 12, the sanitizer build's, rejects ranges over this vector.)
      std::vector<std::string> keys;
      for (const SearchRange& range : search.ranges) keys.push_back(range.key);
      NS_FAIL("{}: search: point {} of {} over {} equals an earlier one even at 17 significant digits; widen "
              "[low, high] or ask for fewer trials",
              source, index + 1, search.trials, fmt::join(keys, ", "));
    }
    std::vector<ConfigOverride> overrides;
    for (std::size_t column = 0; column < rounded.size(); ++column) {
      overrides.push_back({search.ranges[column].key, real_literal(*options[column], rounded[column])});
    }
    points.push_back(std::move(overrides));
  }
  return points;
}

std::string grid_point_json(const Trial& trial) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const ConfigOverride& item : trial.grid_point) {
    // Canonical TOML literals of numbers, booleans, quoted strings and integer lists are JSON too.
    nlohmann::ordered_json value = nlohmann::ordered_json::parse(item.value, nullptr, false);
    object[item.key] = value.is_discarded() ? nlohmann::ordered_json(item.value) : value;
  }
  return object.dump();
}

std::string describe_trial(const Trial& trial) {
  std::string text = fmt::format("regime={} batch={} ranks={} seed={}", trial.regime,
                                 batch_text(trial.batch), trial.ranks, trial.seed);
  for (const ConfigOverride& item : trial.grid_point) text += fmt::format(" {}={}", item.key, item.value);
  return text;
}

}  // namespace normscale
