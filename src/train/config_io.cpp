// The option table of TrainConfig and everything it drives: TOML in and out, --set, listing, hash,
// validation.
#include "normscale/train/config_io.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/whole_file.hpp"
#include "normscale/data/class_count.hpp"
#include "normscale/data/data_source_registry.hpp"
#include "normscale/model/model_registry.hpp"
#include "normscale/objective/objective_registry.hpp"
#include "normscale/train/presets.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

namespace normscale {
namespace {

// Captureless lambda giving the address of one member, so one table row reads and writes it.
#define NS_FIELD(member) [](TrainConfig& c) -> FieldRef { return &c.member; }

// The rows up to objective.regime.
const std::vector<OptionDescriptor>& leading_rows() {
  using T = OptionType;
  static const std::vector<OptionDescriptor> options = {
      {"preset", T::kString, {},
       "preset this run started from (applied before the file's values; empty: none)",
       NS_FIELD(preset)},
      {"precision", T::kString, {"float32", "float64", "bf16"},
       "arithmetic of model and objective; bf16: the products' operands in bf16, accumulated and kept in fp32 "
       "(CPUs with avx512_bf16 or AMX, and GPU ranks)",
       NS_FIELD(precision)},
      {"device", T::kString, {"cpu", "cuda"},
       "where each rank trains: cpu, or cuda (one GPU per rank, device = local rank mod GPU count; "
       "float32 or bf16; needs a build with NORMSCALE_ENABLE_CUDA)",
       NS_FIELD(device)},
      {"cuda_tf32", T::kBoolean, {},
       "device = cuda: let the fp32 matrix products use TF32 tensor cores (faster, ~1e-3 relative error)",
       NS_FIELD(cuda_tf32)},
      {"cuda_graphs", T::kBoolean, {},
       "device = cuda: replay the step's forward and backward launches as CUDA graphs on one rank (same results; "
       "1.7x the fp32 step at batch 128 on an H200)",
       NS_FIELD(cuda_graphs), nullptr, nullptr, true},
      {"epochs", T::kInteger, {}, "passes over the training set (>= 1 unless steps >= 1)",
       NS_FIELD(epochs)},
      {"steps", T::kInteger, {}, "number of optimizer steps; if > 0 it overrides epochs (>= 0)",
       NS_FIELD(steps)},
      {"eval_every", T::kInteger, {},
       "steps between evaluations; 0 = once per epoch, at full batch every 1/20 of the run (>= 0)",
       NS_FIELD(eval_every)},
      {"seed", T::kUnsigned, {}, "seed of initialisation and minibatch sampling",
       NS_FIELD(seed)},
      {"virtual_shards", T::kInteger, {},
       "virtual shards V of the training set; the rank count must divide it (>= 1)",
       NS_FIELD(virtual_shards)},
      {"threads", T::kInteger, {}, "BLAS threads per rank; 0 = the rank's share of the cores",
       NS_FIELD(threads)},
      {"out", T::kString, {}, "run directory (config, logs, checkpoints, exports)", NS_FIELD(out)},
      {"divergence_limit", T::kReal, {},
       "a |loss| above this (or NaN/Inf) stops the run as diverged (> 0)",
       NS_FIELD(divergence_limit)},
      {"collective_timeout", T::kReal, {},
       "seconds a collective (allreduce, broadcast, barrier) may wait for the other ranks; then the "
       "waiting ranks name it, the step, host and rank, and end the job (a stopped or hung rank); 0 = wait "
       "forever (>= 0)",
       NS_FIELD(collective_timeout), nullptr, nullptr, true},
      {"progress", T::kBoolean, {}, "one-line console progress on rank 0", NS_FIELD(progress)},
      {"gallery", T::kInteger, {}, "top support vectors drawn in the PNG gallery (0: none)",
       NS_FIELD(gallery)},
      {"checkpoint_every", T::kInteger, {},
       "steps between checkpoints in <out>/checkpoints (0: once per epoch, or every 1/20 of a "
       "full-batch run)",
       NS_FIELD(checkpoint_every)},
      {"keep_checkpoints", T::kInteger, {}, "newest checkpoints kept (>= 1)", NS_FIELD(keep_checkpoints)},
      {"instruments", T::kBoolean, {},
       "per evaluation also margins of f/rho and neural collapse NC1-NC4 of the training set (two "
       "more passes over it)",
       NS_FIELD(instruments)},
      {"resume", T::kBoolean, {},
       "continue from the newest checkpoint in <out> (on any rank count dividing virtual_shards)",
       NS_FIELD(resume)},
      {"overwrite", T::kBoolean, {},
       "a fresh run may replace the run already in <out> (its metrics and checkpoints); without it, "
       "training into a directory that holds a run is refused",
       NS_FIELD(overwrite), nullptr, nullptr, true},

      {"data.source", T::kString, {},
       "data set, a registered source: built-in Fashion-MNIST, MNIST-format IDX files, npy files, "
       "CIFAR-10 binary batches, a synthetic problem, or one an extension registered",
       NS_FIELD(data.source), [] { return data_source_registry().names(); }},
      {"data.path", T::kString, {},
       "folder of the IDX / npy files, or of the CIFAR-10 .bin files (or the folder holding "
       "cifar-10-batches-bin); empty: the source's default",
       NS_FIELD(data.path)},
      {"data.train_features", T::kString, {}, "training features file in data.path (empty: default)",
       NS_FIELD(data.train_features)},
      {"data.train_labels", T::kString, {}, "training labels file in data.path (empty: default)",
       NS_FIELD(data.train_labels)},
      {"data.test_features", T::kString, {}, "test features file in data.path (empty: default)",
       NS_FIELD(data.test_features)},
      {"data.test_labels", T::kString, {}, "test labels file in data.path (empty: default)",
       NS_FIELD(data.test_labels)},
      {"data.validation", T::kInteger, {},
       "examples carved from the training files for validation (>= 0; paper: 10000 of 60000); generated "
       "sources have no validation split",
       NS_FIELD(data.validation)},
      {"data.split_seed", T::kUnsigned, {}, "fixed seed of the validation split",
       NS_FIELD(data.split_seed)},
      {"data.train_limit", T::kInteger, {},
       "train on the first N examples after the split (0: all)", NS_FIELD(data.train_limit)},
      {"data.test_limit", T::kInteger, {}, "evaluate on the first N test examples (0: all)",
       NS_FIELD(data.test_limit)},
      {"data.preprocess", T::kString, {"none", "scale01", "unit-norm", "standardize"},
       "input preprocessing: none, pixels to [0,1], unit-norm rows, or per-feature standardisation",
       NS_FIELD(data.preprocess)},
      {"data.classes", T::kIntegerList, {},
       "class subset, e.g. [3, 5]: keeps only these classes and relabels them 0, 1, ... in list "
       "order ([3, 5]: class 3 is the negative class 0, class 5 the positive class 1); taken "
       "before the validation split, limits and sharding; [] = all classes (else >= 2 distinct)",
       NS_FIELD(data.classes)},
      {"data.num_classes", T::kInteger, {},
       "class count of a classification file source; 0 = the source's own (10 for fashion-mnist and cifar10) "
       "or the largest training label + 1; at most 100000; test labels must lie below it",
       NS_FIELD(data.num_classes), nullptr, nullptr, true},
      {"data.synthetic_examples", T::kInteger, {}, "examples of a synthetic problem (>= 1)",
       NS_FIELD(data.synthetic_examples)},
      {"data.synthetic_dim", T::kInteger, {}, "input dimension of a synthetic problem (>= 1)",
       NS_FIELD(data.synthetic_dim)},
      {"data.synthetic_snr", T::kReal, {}, "signal-to-noise ratio of a synthetic problem (>= 0)",
       NS_FIELD(data.synthetic_snr)},
      {"data.synthetic_seed", T::kUnsigned, {}, "seed of the synthetic data generator",
       NS_FIELD(data.synthetic_seed)},
      {"data.degree", T::kInteger, {}, "polynomial-sine: degree of the monomial features (0 ... 1000)",
       NS_FIELD(data.degree), nullptr, nullptr, true},
      {"data.nodes", T::kString, {"random", "chebyshev"},
       "polynomial-sine: training points uniform at random in [-1, 1], or at the Chebyshev nodes",
       NS_FIELD(data.nodes), nullptr, nullptr, true},

      {"model.type", T::kString, {},
       "network, a registered architecture: MLP (model.hidden) or the square-loss papers' ConvNet "
       "(3x3 convolutions with model.channels, BN, ReLU, 2x2 max pooling, linear classifier; image "
       "data), or one an extension registered",
       NS_FIELD(model.type), [] { return model_registry().names(); }},
      {"model.channels", T::kIntegerList, {}, "convnet: channels of the convolution layers (each >= 1)",
       NS_FIELD(model.channels)},
      {"model.batch_norm", T::kBoolean, {},
       "batch norm after each hidden layer (dense -> BN -> ReLU); the convnet always has it unless false",
       NS_FIELD(model.batch_norm)},
      {"model.bn_affine", T::kBoolean, {}, "batch norm with learned scale and shift (papers: none)",
       NS_FIELD(model.bn_affine)},
      {"model.sync_bn", T::kBoolean, {},
       "batch statistics of the global batch (allreduced) instead of each rank's part",
       NS_FIELD(model.sync_bn)},
      {"model.weight_norm", T::kBoolean, {}, "weight-normalised dense layers, w = g v / ||v|| per unit",
       NS_FIELD(model.weight_norm)},
      {"model.hidden", T::kIntegerList, {},
       "hidden layer widths, e.g. [800, 800]; [] = linear model (each >= 1)",
       NS_FIELD(model.hidden)},
      {"model.activation", T::kString, {"relu", "identity"},
       "activation of the hidden layers (identity: deep linear network)",
       NS_FIELD(model.activation)},
      {"model.bias", T::kBoolean, {}, "layers have biases (penalised like any weight)",
       NS_FIELD(model.bias)},
      {"model.init", T::kString, {"he", "glorot", "normal", "scaled-normal", "frobenius", "zeros"},
       "weight initialisation: He, Glorot, normal(init_scale), normal(init_scale / sqrt(fan_in)), "
       "each layer at Frobenius norm init_scale, or zeros (not with weight_norm)",
       NS_FIELD(model.init)},
      {"model.init_scale", T::kReal, {},
       "sigma for init normal, Frobenius norm per layer for init frobenius (> 0)",
       NS_FIELD(model.init_scale)},
      {"model.outputs", T::kInteger, {},
       "output width; 0 = derived from the data (classes, 1 for binary, target columns)",
       NS_FIELD(model.outputs)},

      {"objective.regime", T::kString, {},
       "training objective, a registered objective: sgd (cross-entropy), square (square loss), minnorm "
       "(Minnorm dual ascent), or one an extension registered",
       NS_FIELD(objective.regime), [] { return objective_registry().names(); }},
  };
  return options;
}

// The rows after the objective section.
const std::vector<OptionDescriptor>& optim_rows() {
  using T = OptionType;
  static const std::vector<OptionDescriptor> options = {
      {"optim.lr", T::kReal, {}, "learning rate eta (> 0)", NS_FIELD(optim.lr)},
      {"optim.momentum", T::kReal, {}, "heavy-ball momentum, as PyTorch's SGD (in [0, 1))",
       NS_FIELD(optim.momentum)},
      {"optim.weight_decay", T::kReal, {},
       "weight decay lambda_0 for sgd / square (>= 0); Minnorm's norm term is fixed at 1",
       NS_FIELD(optim.weight_decay)},
      {"optim.decay_power", T::kReal, {},
       "NMGD vanishing decay lambda_t = lambda_0 / (1 + t)^a (a in [0, 1]; 0 = constant)",
       NS_FIELD(optim.decay_power)},
      {"optim.warmup_epochs", T::kReal, {},
       "linear learning-rate warmup: lr * min(1, (t + 1) / W) over the first W steps, W = this many "
       "epochs of steps (>= 0; 0 = none); large-batch runs use it with lr scaling",
       NS_FIELD(optim.warmup_epochs)},
      {"optim.batch", T::kBatch, {}, "global minibatch size Q (>= 1), or \"full\" for Q = P",
       NS_FIELD(optim.batch)},
      {"optim.normalization", T::kString, {"none", "lagrange", "tangent"},
       "Theory III's normalized weight matrices W_k = rho_k V_k, ||V_k|| = 1 kept exactly: lagrange (§6.1, "
       "gradient steps on rho_k and V_k) or tangent (§21, weight normalization's tangent-space form); momentum 0, "
       "no weight decay or norm term, no weight_norm",
       NS_FIELD(optim.normalization), nullptr, nullptr, true},
      {"perturb.every", T::kInteger, {},
       "perturb and retrain (Theory III): epochs between Gaussian perturbations of every layer (0: none)",
       NS_FIELD(perturb.every), nullptr, nullptr, true},
      {"perturb.start", T::kInteger, {},
       "epoch of the first perturbation; 0: the first multiple of perturb.every at or after the first evaluation "
       "with zero training error (the paper's rule; regression: from the start) (>= 0)",
       NS_FIELD(perturb.start), nullptr, nullptr, true},
      {"perturb.until", T::kInteger, {},
       "no perturbation after this epoch (0: until the end; the paper stops halfway) (>= 0)",
       NS_FIELD(perturb.until), nullptr, nullptr, true},
      {"perturb.scale", T::kReal, {},
       "noise sd as a fraction of the sd of each layer's parameters (the paper's 0.25; >= 0)",
       NS_FIELD(perturb.scale), nullptr, nullptr, true},
      {"perturb.sd", T::kReal, {},
       "> 0: this absolute noise sd for every layer instead of perturb.scale (the paper's Fig. 6-7: 0.45, 0.6)",
       NS_FIELD(perturb.sd), nullptr, nullptr, true},
  };
  return options;
}

// The one table: the leading rows, each registered objective's rows, the optim rows. Top-level keys
// come first and each section is contiguous, because to_toml writes rows in this order and TOML needs
// root keys before the first [section]. Rebuilt when an objective was registered since.
const std::vector<OptionDescriptor>& table() {
  static std::vector<OptionDescriptor> options;
  static std::size_t objectives = 0;
  const std::size_t registered = objective_registry().names().size();
  if (options.empty() || registered != objectives) {
    options = leading_rows();
    for (const std::string& name : objective_registry().names()) {
      for (const ObjectiveOption& o : objective_registry().get(name).options) {
        OptionDescriptor row{o.key, o.type, o.choices, o.doc, nullptr};
        row.objective_field = o.field;
        row.written_only_when_set = o.written_only_when_set;
        options.push_back(row);
      }
    }
    options.insert(options.end(), optim_rows().begin(), optim_rows().end());
    objectives = registered;
  }
  return options;
}

#undef NS_FIELD

// The field an option reads and writes: a member of TrainConfig, or of its ObjectiveConfig for a row
// an objective contributes.
template <class T>
T& write_field(const OptionDescriptor& option, TrainConfig& config) {
  return *std::get<T*>(option.field != nullptr ? option.field(config) : option.objective_field(config.objective));
}

// Reads a field through the table; the const_cast is sound because the value is only read.
template <class T>
const T& read_field(const OptionDescriptor& option, const TrainConfig& config) {
  return write_field<T>(option, const_cast<TrainConfig&>(config));
}

constexpr std::uint64_t kMaxUnsigned =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

std::string_view expected_text(OptionType type) {
  switch (type) {
    case OptionType::kString: return "a string";
    case OptionType::kInteger: return "an integer";
    case OptionType::kUnsigned: return "an integer in [0, 9223372036854775807]";
    case OptionType::kReal: return "a number";
    case OptionType::kBoolean: return "true or false";
    case OptionType::kIntegerList: return "a list of integers such as [800, 800]";
    case OptionType::kBatch: return "an integer >= 1 or \"full\"";
  }
  return "a value";
}

std::string_view leaf_of(std::string_view key) {
  const auto dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

[[noreturn]] void fail_unknown_key(std::string_view where, std::string_view key) {
  NS_FAIL("{}unknown option '{}'; did you mean '{}'? (normscale train --list-options lists every "
          "option)",
          where, key, closest_option_key(key));
}

bool is_section(std::string_view prefix) {
  for (const OptionDescriptor& option : table()) {
    if (option.key.size() > prefix.size() && option.key.starts_with(prefix) &&
        option.key[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

// ---- Formatting values as TOML literals -------------------------------------------------------

std::string quote(std::string_view text) {
  std::string quoted = "\"";
  for (const char ch : text) {
    switch (ch) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\t': quoted += "\\t"; break;
      case '\r': quoted += "\\r"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
          quoted += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(ch)));
        } else {
          quoted += ch;
        }
    }
  }
  return quoted + "\"";
}

// Shortest text that reads back to the same double; always a TOML float, never an integer.
std::string format_real(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

// ---- Parsing command-line text -----------------------------------------------------------------

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::optional<std::vector<std::int64_t>> parse_integer_list(std::string_view text) {
  text = trim(text);
  if (text.starts_with('[')) {
    if (!text.ends_with(']')) return std::nullopt;
    text = trim(text.substr(1, text.size() - 2));
  }
  std::vector<std::int64_t> values;
  if (text.empty()) return values;
  while (true) {
    const auto comma = text.find(',');
    const auto value = parse_number<std::int64_t>(text.substr(0, comma));
    if (!value) return std::nullopt;
    values.push_back(*value);
    if (comma == std::string_view::npos) return values;
    text.remove_prefix(comma + 1);
  }
}

std::string_view unquote(std::string_view text) {
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') &&
      text.back() == text.front()) {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

// ---- Reading TOML nodes ------------------------------------------------------------------------

std::string describe_node(const toml::node& node) {
  if (const auto* s = node.as_string()) return fmt::format("string {}", quote(s->get()));
  if (const auto* i = node.as_integer()) return fmt::format("integer {}", i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("float {}", format_real(f->get()));
  if (const auto* b = node.as_boolean()) return fmt::format("boolean {}", b->get());
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date/time";
}

std::string location(std::string_view source_name, const toml::source_region& region) {
  return fmt::format("{}:{}: ", source_name, region.begin.line);
}

void assign_node(const OptionDescriptor& option, const toml::node& node, TrainConfig& config,
                 std::string_view source_name) {
  const auto fail_type = [&]() {
    NS_FAIL("{}{}: expected {}, got {}", location(source_name, node.source()), option.key,
            expected_text(option.type), describe_node(node));
  };
  switch (option.type) {
    case OptionType::kString:
      if (!node.is_string()) fail_type();
      write_field<std::string>(option, config) = node.as_string()->get();
      return;
    case OptionType::kInteger:
      if (!node.is_integer()) fail_type();
      write_field<std::int64_t>(option, config) = node.as_integer()->get();
      return;
    case OptionType::kUnsigned:
      if (!node.is_integer() || node.as_integer()->get() < 0) fail_type();
      write_field<std::uint64_t>(option, config) =
          static_cast<std::uint64_t>(node.as_integer()->get());
      return;
    case OptionType::kReal:
      if (node.is_floating_point()) {
        write_field<double>(option, config) = node.as_floating_point()->get();
      } else if (node.is_integer()) {
        write_field<double>(option, config) = static_cast<double>(node.as_integer()->get());
      } else {
        fail_type();
      }
      return;
    case OptionType::kBoolean:
      if (!node.is_boolean()) fail_type();
      write_field<bool>(option, config) = node.as_boolean()->get();
      return;
    case OptionType::kIntegerList: {
      const auto* array = node.as_array();
      if (array == nullptr) fail_type();
      std::vector<std::int64_t> values;
      for (const toml::node& element : *array) {
        if (!element.is_integer()) {
          NS_FAIL("{}{}: expected {}, got an array holding {}",
                  location(source_name, node.source()), option.key, expected_text(option.type),
                  describe_node(element));
        }
        values.push_back(element.as_integer()->get());
      }
      write_field<std::vector<std::int64_t>>(option, config) = std::move(values);
      return;
    }
    case OptionType::kBatch:
      if (node.is_string() && node.as_string()->get() == "full") {
        write_field<std::int64_t>(option, config) = kFullBatch;
      } else if (node.is_integer() && node.as_integer()->get() >= 1) {
        write_field<std::int64_t>(option, config) = node.as_integer()->get();
      } else {
        fail_type();
      }
      return;
  }
}

// `given`: the options the document set so far, with their lines (TOML refuses a key twice in one table, not
// "optim.lr" beside [optim] lr, which would leave one of the two unused without a word).
void apply_table(const toml::table& toml_table, const std::string& prefix, TrainConfig& config,
                 std::string_view source_name, std::map<std::string, std::uint32_t>& given) {
  for (auto&& [key, node] : toml_table) {
    const std::string dotted = prefix.empty() ? std::string(key.str())
                                              : fmt::format("{}.{}", prefix, key.str());
    if (const OptionDescriptor* option = find_option(dotted)) {
      const std::uint32_t line = key.source().begin.line;
      const auto [earlier, first] = given.emplace(dotted, line);
      NS_CHECK(first, "{}:{}: {} is set twice in this file, at lines {} and {}; expected it once", source_name,
               std::min(line, earlier->second), dotted, std::min(line, earlier->second),
               std::max(line, earlier->second));
      assign_node(*option, node, config, source_name);
    } else if (is_section(dotted)) {
      if (!node.is_table()) {
        NS_FAIL("{}'{}' is a section, not an option: write its options under [{}] or as {}.key",
                location(source_name, key.source()), dotted, dotted, dotted);
      }
      apply_table(*node.as_table(), dotted, config, source_name, given);
    } else {
      fail_unknown_key(location(source_name, key.source()), dotted);
    }
  }
}

void apply_table(const toml::table& document, TrainConfig& config, std::string_view source_name) {
  std::map<std::string, std::uint32_t> given;
  apply_table(document, "", config, source_name, given);
}

toml::table parse_document(std::string_view text, std::string_view source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    NS_FAIL("{}:{}:{}: TOML syntax error: {}", source_name, error.source().begin.line,
            error.source().begin.column, error.description());
  }
}

// The document's `preset` key, or "" (its type is checked when the key is applied).
std::string preset_of(const toml::table& document) {
  if (const auto* node = document.get("preset"); node != nullptr && node->is_string()) {
    return node->as_string()->get();
  }
  return {};
}

// ---- Validation helpers ------------------------------------------------------------------------

// Bounds on what sizes a loop or an allocation, far above any real run and far below an overflow.
constexpr std::int64_t kMaxSteps = 1'000'000'000'000;      // optimizer steps of one run
constexpr double kMaxExamplesVisited = 9007199254740992.0;  // steps x batch: 2^53, exact in a double
constexpr std::int64_t kMaxVirtualShards = 1 << 20;         // one checkpoint file each
constexpr std::int64_t kMaxThreads = 4096;
constexpr std::int64_t kMaxSyntheticValues = std::int64_t{1} << 32;  // 16 GiB of float features

// Calls visit(option) for each objective option that objective.regime = `regime` neither owns nor lists in `reads`.
template <class Visit>
void for_each_unread_objective_option(const std::string& regime, Visit visit) {
  const ObjectiveEntry& own = objective_registry().get(regime);
  const auto read = [&own](std::string_view key) {
    return std::find(own.reads.begin(), own.reads.end(), key) != own.reads.end() ||
           std::any_of(own.options.begin(), own.options.end(),
                       [key](const ObjectiveOption& option) { return option.key == key; });
  };
  for (const std::string& name : objective_registry().names()) {
    for (const ObjectiveOption& option : objective_registry().get(name).options) {
      if (!read(option.key)) visit(option);
    }
  }
}

}  // namespace

std::span<const OptionDescriptor> option_table() { return table(); }

const OptionDescriptor* find_option(std::string_view key) {
  for (const OptionDescriptor& option : table()) {
    if (option.key == key) return &option;
  }
  return nullptr;
}

// Compares whole keys and also leaf names (so "lr" finds "optim.lr" and "optim.hidden" finds
// "model.hidden"); a wrong section costs one edit.
std::string_view closest_option_key(std::string_view key) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const OptionDescriptor& option : table()) {
    const std::size_t distance =
        std::min({edit_distance(key, option.key), edit_distance(key, leaf_of(option.key)) + 1,
                  edit_distance(leaf_of(key), leaf_of(option.key)) + 1});
    if (distance < best_distance) {
      best_distance = distance;
      best = option.key;
    }
  }
  return best;
}

std::string_view type_name(OptionType type) {
  switch (type) {
    case OptionType::kString: return "string";
    case OptionType::kInteger: return "integer";
    case OptionType::kUnsigned: return "unsigned integer";
    case OptionType::kReal: return "real";
    case OptionType::kBoolean: return "boolean";
    case OptionType::kIntegerList: return "integer list";
    case OptionType::kBatch: return "integer or \"full\"";
  }
  return "value";
}

std::string format_value(const OptionDescriptor& option, const TrainConfig& config) {
  switch (option.type) {
    case OptionType::kString: return quote(read_field<std::string>(option, config));
    case OptionType::kInteger: return fmt::format("{}", read_field<std::int64_t>(option, config));
    case OptionType::kUnsigned: return fmt::format("{}", read_field<std::uint64_t>(option, config));
    case OptionType::kReal: return format_real(read_field<double>(option, config));
    case OptionType::kBoolean: return read_field<bool>(option, config) ? "true" : "false";
    case OptionType::kIntegerList:
      return fmt::format("[{}]", fmt::join(read_field<std::vector<std::int64_t>>(option, config), ", "));
    case OptionType::kBatch: {
      const std::int64_t batch = read_field<std::int64_t>(option, config);
      return batch == kFullBatch ? std::string("\"full\"") : fmt::format("{}", batch);
    }
  }
  return {};
}

void set_option(TrainConfig& config, std::string_view key, std::string_view value) {
  const OptionDescriptor* option = find_option(key);
  if (option == nullptr) fail_unknown_key("--set: ", key);
  const std::string_view text = trim(value);
  const auto fail_type = [&]() {
    NS_FAIL("--set {}={}: expected {}, got '{}'", key, value, expected_text(option->type), text);
  };
  switch (option->type) {
    case OptionType::kString:
      write_field<std::string>(*option, config) = std::string(unquote(text));
      return;
    case OptionType::kInteger: {
      const auto parsed = parse_number<std::int64_t>(text);
      if (!parsed) fail_type();
      write_field<std::int64_t>(*option, config) = *parsed;
      return;
    }
    case OptionType::kUnsigned: {
      const auto parsed = parse_number<std::uint64_t>(text);
      if (!parsed || text.starts_with('-') || *parsed > kMaxUnsigned) fail_type();
      write_field<std::uint64_t>(*option, config) = *parsed;
      return;
    }
    case OptionType::kReal: {
      const auto parsed = parse_number<double>(text);
      if (!parsed) fail_type();
      write_field<double>(*option, config) = *parsed;
      return;
    }
    case OptionType::kBoolean:
      if (text != "true" && text != "false") fail_type();
      write_field<bool>(*option, config) = text == "true";
      return;
    case OptionType::kIntegerList: {
      auto parsed = parse_integer_list(text);
      if (!parsed) fail_type();
      write_field<std::vector<std::int64_t>>(*option, config) = std::move(*parsed);
      return;
    }
    case OptionType::kBatch: {
      if (unquote(text) == "full") {
        write_field<std::int64_t>(*option, config) = kFullBatch;
        return;
      }
      const auto parsed = parse_number<std::int64_t>(text);
      if (!parsed || *parsed < 1) fail_type();
      write_field<std::int64_t>(*option, config) = *parsed;
      return;
    }
  }
}

void apply_override(TrainConfig& config, std::string_view assignment) {
  const auto equals = assignment.find('=');
  NS_CHECK(equals != std::string_view::npos,
           "--set {}: expected key=value, e.g. --set optim.lr=0.01", assignment);
  set_option(config, trim(assignment.substr(0, equals)), assignment.substr(equals + 1));
}

void apply_toml(TrainConfig& config, std::string_view text, std::string_view source_name) {
  apply_table(parse_document(text, source_name), config, source_name);
}

TrainConfig config_from_toml(std::string_view text, std::string_view source_name) {
  const toml::table document = parse_document(text, source_name);
  TrainConfig config;
  if (const std::string preset = preset_of(document); !preset.empty()) apply_preset(preset, config);
  apply_table(document, config, source_name);
  return config;
}

std::string read_config_file(const std::filesystem::path& path) {
  std::error_code error;
  NS_CHECK(std::filesystem::exists(path, error),
           "config file {}: no such file (check the path given to --config)", path.string());
  NS_CHECK(std::filesystem::is_regular_file(path, error),
           "config file {}: not a regular file (a folder or a device?); expected a TOML file", path.string());
  return read_whole_file(path, "config file");
}

std::string to_toml(const TrainConfig& config) {
  std::string text;
  std::string_view section;
  static const TrainConfig defaults;
  for (const OptionDescriptor& option : table()) {
    if (option.written_only_when_set && format_value(option, config) == format_value(option, defaults)) continue;
    const auto dot = option.key.find('.');
    const std::string_view option_section =
        dot == std::string_view::npos ? std::string_view{} : option.key.substr(0, dot);
    if (option_section != section) {
      section = option_section;
      text += fmt::format("\n[{}]\n", section);
    }
    text += fmt::format("{} = {}\n", leaf_of(option.key), format_value(option, config));
  }
  return text;
}

std::uint64_t config_hash(const TrainConfig& config) {
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  for (const char ch : to_toml(config)) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 1099511628211ULL;  // FNV-1a 64 prime
  }
  return hash;
}

TrainConfig trajectory_settings(const TrainConfig& config) {
  // Settings that do not change the trajectory may differ between a run and its resumption.
  TrainConfig canonical = config;
  const TrainConfig defaults;
  canonical.epochs = defaults.epochs;
  canonical.steps = defaults.steps;
  canonical.eval_every = defaults.eval_every;
  canonical.threads = defaults.threads;
  // Where a run trains changes only rounding: a GPU run may resume on CPU ranks and back.
  canonical.device = defaults.device;
  canonical.cuda_tf32 = defaults.cuda_tf32;
  canonical.cuda_graphs = defaults.cuda_graphs;
  canonical.out = defaults.out;
  canonical.progress = defaults.progress;
  canonical.gallery = defaults.gallery;
  canonical.checkpoint_every = defaults.checkpoint_every;
  canonical.keep_checkpoints = defaults.keep_checkpoints;
  canonical.resume = defaults.resume;
  canonical.overwrite = defaults.overwrite;
  canonical.instruments = defaults.instruments;
  canonical.divergence_limit = defaults.divergence_limit;
  canonical.collective_timeout = defaults.collective_timeout;
  // When to stop, like steps: a run may be resumed with another tolerance.
  canonical.objective.tolerance = defaults.objective.tolerance;
  return canonical;
}

std::uint64_t trajectory_hash(const TrainConfig& config) { return config_hash(trajectory_settings(config)); }

TrainConfig with_unread_objective_options_at_defaults(const TrainConfig& config) {
  TrainConfig result = config;
  ObjectiveConfig defaults;
  for_each_unread_objective_option(config.objective.regime, [&](const ObjectiveOption& option) {
    const FieldRef from = option.field(defaults);
    std::visit([&from](auto* to) { *to = *std::get<decltype(to)>(from); }, option.field(result.objective));
  });
  return result;
}

std::vector<std::string_view> unread_objective_options_that_differ(const TrainConfig& config,
                                                                   const TrainConfig& other) {
  ObjectiveConfig a = config.objective;
  ObjectiveConfig b = other.objective;
  std::vector<std::string_view> keys;
  for_each_unread_objective_option(config.objective.regime, [&](const ObjectiveOption& option) {
    const FieldRef in_b = option.field(b);
    const bool differ = std::visit([&in_b](auto* in_a) { return !(*in_a == *std::get<decltype(in_a)>(in_b)); },
                                   option.field(a));
    if (differ) keys.push_back(option.key);
  });
  return keys;
}

std::vector<std::string> option_choices(const OptionDescriptor& option) {
  if (option.registered_choices != nullptr) return option.registered_choices();
  return {option.choices.begin(), option.choices.end()};
}

std::string describe_options(const TrainConfig& config) {
  std::string text =
      "Options (in a TOML file as [section] key = value or section.key = value; on the command "
      "line as --set section.key=value):\n";
  for (const OptionDescriptor& option : table()) {
    text += fmt::format("  {} = {}  ({})\n      {}", option.key, format_value(option, config),
                        type_name(option.type), option.doc);
    if (const auto choices = option_choices(option); !choices.empty()) {
      text += fmt::format("; one of: {}", fmt::join(choices, ", "));
    }
    text += "\n";
  }
  return text;
}

TrainConfig resolve_config(const ConfigSources& sources) {
  std::optional<toml::table> document;
  std::string source_name;
  if (sources.config_file) {
    source_name = sources.config_file->string();
    document = parse_document(read_config_file(*sources.config_file), source_name);
  }
  std::string preset = sources.preset;
  if (document) {
    const std::string file_preset = preset_of(*document);
    NS_CHECK(preset.empty() || file_preset.empty() || preset == file_preset,
             "--preset {} conflicts with preset = \"{}\" in {}; keep one of them", preset,
             file_preset, source_name);
    if (preset.empty()) preset = file_preset;
  }

  TrainConfig config;
  try {
    if (!preset.empty()) apply_preset(preset, config);
  } catch (const Error& error) {
    // The file's preset key: named with the file, as its other keys are.
    if (!document || !sources.preset.empty()) throw;
    NS_FAIL("{}: preset: {}", source_name, error.what());
  }
  if (document) apply_table(*document, config, source_name);
  for (const std::string& assignment : sources.overrides) {
    const auto equals = assignment.find('=');
    // A preset is applied before the file, so setting it last would silently override nothing.
    NS_CHECK(trim(std::string_view(assignment).substr(0, equals)) != "preset",
             "--set {}: choose the preset with --preset NAME (it is applied before the config "
             "file and the other --set values)",
             assignment);
    apply_override(config, assignment);
  }
  if (sources.out) config.out = *sources.out;
  return config;
}

void validate(const TrainConfig& c) {
  // Enumerated strings and the unsigned range, straight from the table.
  for (const OptionDescriptor& option : table()) {
    if (const auto choices = option_choices(option); !choices.empty()) {
      const std::string& value = read_field<std::string>(option, c);
      NS_CHECK(std::find(choices.begin(), choices.end(), value) != choices.end(),
               "{} = {} is not valid; expected one of: {}", option.key, quote(value), fmt::join(choices, ", "));
    }
    if (option.type == OptionType::kUnsigned) {
      // TOML integers are signed 64-bit: a larger value could not be written to the run record.
      check_option_range(read_field<std::uint64_t>(option, c) <= kMaxUnsigned, option.key,
                         read_field<std::uint64_t>(option, c), expected_text(option.type));
    }
  }
  NS_CHECK(c.preset.empty() || is_known_preset(c.preset),
           "preset = {} is not a known preset (normscale train --list-presets lists them)",
           quote(c.preset));

  check_option_range(c.data.validation >= 0, "data.validation", c.data.validation, "an integer >= 0");
  check_option_range(c.data.train_limit >= 0, "data.train_limit", c.data.train_limit, "an integer >= 0 (0: all)");
  check_option_range(c.data.test_limit >= 0, "data.test_limit", c.data.test_limit, "an integer >= 0 (0: all)");
  check_option_range(c.data.synthetic_examples >= 1, "data.synthetic_examples", c.data.synthetic_examples,
                     "an integer >= 1");
  check_option_range(c.data.synthetic_dim >= 1, "data.synthetic_dim", c.data.synthetic_dim, "an integer >= 1");
  check_option_range(c.data.synthetic_snr >= 0, "data.synthetic_snr", c.data.synthetic_snr, "a number >= 0");
  check_option_range(c.data.degree >= 0 && c.data.degree <= 1000, "data.degree", c.data.degree,
                     "an integer in [0, 1000]");
  NS_CHECK(c.data.source != "polynomial-sine" || c.data.synthetic_examples <= kMaxSyntheticValues / (c.data.degree + 1),
           "data.synthetic_examples = {} x (data.degree + 1) = {} feature values; expected at most {}",
           c.data.synthetic_examples, c.data.degree + 1, kMaxSyntheticValues);
  NS_CHECK(c.data.synthetic_examples <= kMaxSyntheticValues / c.data.synthetic_dim,
           "data.synthetic_examples = {} x data.synthetic_dim = {} is {} feature values; expected at most {} (16 GiB "
           "of floats)",
           c.data.synthetic_examples, c.data.synthetic_dim,
           static_cast<double>(c.data.synthetic_examples) * static_cast<double>(c.data.synthetic_dim),
           kMaxSyntheticValues);
  check_option_range(c.data.num_classes >= 0 && c.data.num_classes <= kMaxClasses, "data.num_classes",
                     c.data.num_classes,
                     fmt::format("an integer in [0, {}] (0: from the training labels)", kMaxClasses));
  // Whether each class exists is known only once the data is read (load_data checks it).
  NS_CHECK(c.data.classes.empty() || c.data.classes.size() >= 2,
           "data.classes = [{}] selects one class; expected at least 2 distinct classes, or [] for "
           "all classes",
           fmt::join(c.data.classes, ", "));
  std::set<std::int64_t> seen_classes;
  for (std::size_t i = 0; i < c.data.classes.size(); ++i) {
    const std::int64_t label = c.data.classes[i];
    check_option_range(label >= 0, fmt::format("data.classes[{}]", i), label, "a class label >= 0");
    NS_CHECK(seen_classes.insert(label).second, "data.classes = [{}] names class {} twice; expected distinct labels",
             fmt::join(c.data.classes, ", "), label);
  }

  for (std::size_t i = 0; i < c.model.hidden.size(); ++i) {
    check_option_range(c.model.hidden[i] >= 1, fmt::format("model.hidden[{}]", i), c.model.hidden[i],
                       "a layer width >= 1");
  }
  check_option_range(c.model.init_scale > 0 && std::isfinite(c.model.init_scale), "model.init_scale",
                     c.model.init_scale, "a finite number > 0");
  check_option_range(c.model.outputs >= 0, "model.outputs", c.model.outputs,
                     "an integer >= 0 (0: derived from the data)");
  for (std::size_t i = 0; i < c.model.channels.size(); ++i) {
    check_option_range(c.model.channels[i] >= 1, fmt::format("model.channels[{}]", i), c.model.channels[i],
                       "a channel count >= 1");
  }
  // No convolution block would leave the classifier alone: a linear model under the ConvNet's name.
  NS_CHECK(c.model.type != "convnet" || !c.model.channels.empty(),
           "model.channels = []: a ConvNet needs at least one convolution block; hint: model.channels = [32, 64, 128] "
           "(the papers'), or model.type = \"mlp\" with model.hidden = [] for a linear model");
  // A dense layer's batch norm in training mode needs two rows to take a variance (the convolutions' have positions).
  NS_CHECK(!(c.model.type == "mlp" && c.model.batch_norm) || c.optim.batch == kFullBatch || c.optim.batch >= 2,
           "model.batch_norm = true with optim.batch = {}: batch norm normalises each unit over the batch and needs at "
           "least 2 examples per step (per rank without model.sync_bn); raise optim.batch",
           c.optim.batch);
  NS_CHECK(!c.model.sync_bn || c.model.batch_norm || c.model.type == "convnet",
           "model.sync_bn = true needs batch norm; set model.batch_norm = true");
  NS_CHECK(c.model.activation == "relu" || (!c.model.batch_norm && !c.model.weight_norm && c.model.type == "mlp"),
           "model.activation = {} is only available for the plain MLP; batch norm, weight norm and the convnet "
           "use relu",
           c.model.activation);
  NS_CHECK(c.optim.normalization == "none" || (!c.model.weight_norm && c.optim.momentum == 0.0 &&
                                               c.optim.weight_decay == 0.0 && c.objective.regime != "minnorm"),
           "optim.normalization = {} normalizes the stored weight matrices and replaces any norm term: it needs "
           "model.weight_norm = false, optim.momentum = 0, optim.weight_decay = 0 and an objective.regime other than "
           "minnorm",
           quote(c.optim.normalization));
  // The coordinate rule's model, known from the options: said here, once, before any rank loads data (the trainer
  // checks the network it gets too).
  NS_CHECK(
      c.objective.regime != "minnorm" || c.objective.dual != "coordinate" ||
          (c.model.type == "mlp" && c.model.hidden.empty() && !c.model.weight_norm &&
           c.objective.multipliers != "single"),
      "objective.dual = \"coordinate\" is exact dual coordinate ascent on a linear model (model.type = \"mlp\", "
      "model.hidden = [], model.weight_norm = false, objective.multipliers = \"per-output\"), but model.type = "
      "\"{}\", model.hidden = [{}], model.weight_norm = {}, objective.multipliers = \"{}\"; hint: objective.dual = "
      "\"ascent\" for other models",
      c.model.type, fmt::join(c.model.hidden, ", "), c.model.weight_norm, c.objective.multipliers);
  NS_CHECK(
      c.objective.regime != "minnorm" || c.objective.dual != "coordinate" || std::isinf(c.objective.average_from_epoch),
      "objective.average_from_epoch = {} averages the updates of the step's multiplier rules; objective.dual = "
      "\"coordinate\" takes its own (hint: leave objective.average_from_epoch at inf)",
      c.objective.average_from_epoch);
  // Minnorm's objective holds the norm term (1/2 sum ||W||^2, its factor fixed at 1): a weight decay would be ignored.
  NS_CHECK(
      c.objective.regime != "minnorm" || (c.optim.weight_decay == 0.0 && c.optim.decay_power == 0.0),
      "optim.weight_decay = {} and optim.decay_power = {} with objective.regime = \"minnorm\": Minnorm's objective "
      "holds the norm term 1/2 sum ||W||^2 itself (its factor fixed at 1), so weight decay would not be applied; "
      "set both to 0",
      c.optim.weight_decay, c.optim.decay_power);
  // Zero weights: no gradient reaches a hidden layer (every unit stays alike and dead), and no unit-norm V exists.
  NS_CHECK(c.model.init != "zeros" ||
               (c.model.type == "mlp" && c.model.hidden.empty() && c.optim.normalization == "none") ||
               c.model.weight_norm,
           "model.init = \"zeros\" starts every weight at 0, which suits a linear model without optim.normalization "
           "only (got model.type = \"{}\", model.hidden = [{}], optim.normalization = {}): no gradient reaches hidden "
           "layers at 0, and normalized weights need a direction; choose another model.init (\"he\", \"frobenius\") "
           "or model.hidden = []",
           c.model.type, fmt::join(c.model.hidden, ", "), quote(c.optim.normalization));
  NS_CHECK(c.model.init != "zeros" || !c.model.weight_norm,
           "model.init = \"zeros\" with model.weight_norm = true: w = g v / ||v|| is undefined at v = 0; choose "
           "another model.init");

  // The objectives' own rows, whichever the regime (every option of a run is checked).
  for (const std::string& name : objective_registry().names()) {
    if (const auto& check = objective_registry().get(name).check_options) check(c.objective);
  }

  check_option_range(c.optim.lr > 0 && std::isfinite(c.optim.lr), "optim.lr", c.optim.lr, "a finite number > 0");
  check_option_range(c.optim.momentum >= 0 && c.optim.momentum < 1, "optim.momentum", c.optim.momentum,
                     "a number in [0, 1)");
  check_option_range(c.optim.weight_decay >= 0 && std::isfinite(c.optim.weight_decay), "optim.weight_decay",
                     c.optim.weight_decay, "a finite number >= 0");
  check_option_range(c.optim.decay_power >= 0 && c.optim.decay_power <= 1, "optim.decay_power", c.optim.decay_power,
                     "a number in [0, 1]");
  check_option_range(std::isfinite(c.optim.warmup_epochs) && c.optim.warmup_epochs >= 0, "optim.warmup_epochs",
                     c.optim.warmup_epochs, "a finite number >= 0");
  check_option_range(c.optim.batch >= 1 || c.optim.batch == kFullBatch, "optim.batch", c.optim.batch,
                     "an integer >= 1 or \"full\"");

  check_option_range(c.steps >= 0 && c.steps <= kMaxSteps, "steps", c.steps,
                     fmt::format("an integer in [0, {}] (0: use epochs)", kMaxSteps));
  if (c.steps == 0) {
    check_option_range(c.epochs >= 1 && c.epochs <= kMaxSteps, "epochs", c.epochs,
                       fmt::format("an integer in [1, {}] (or set steps >= 1)", kMaxSteps));
  }
  check_option_range(c.eval_every >= 0, "eval_every", c.eval_every, "an integer >= 0 (0: once per epoch)");
  check_option_range(c.virtual_shards >= 1 && c.virtual_shards <= kMaxVirtualShards, "virtual_shards", c.virtual_shards,
                     fmt::format("an integer in [1, {}]", kMaxVirtualShards));
  check_option_range(c.threads >= 0 && c.threads <= kMaxThreads, "threads", c.threads,
                     fmt::format("an integer in [0, {}] (0: automatic)", kMaxThreads));
  NS_CHECK(c.device != "cuda" || c.precision != "float64",
           "device = \"cuda\" trains in float32 (or bf16 products) only, but precision = \"float64\"; set precision = "
           "\"float32\" or device = \"cpu\"");
  NS_CHECK(c.precision != "bf16" || !c.cuda_tf32,
           "precision = \"bf16\" and cuda_tf32 = true both choose the GPU's products; set one of them");
  check_option_range(c.divergence_limit > 0, "divergence_limit", c.divergence_limit, "a number > 0");
  check_option_range(c.perturb.every >= 0, "perturb.every", c.perturb.every, "an integer >= 0 (0: no perturbation)");
  check_option_range(c.perturb.start >= 0, "perturb.start", c.perturb.start, "an integer >= 0 (0: after the fit)");
  check_option_range(c.perturb.until >= 0, "perturb.until", c.perturb.until, "an integer >= 0 (0: until the end)");
  NS_CHECK(c.perturb.every == 0 || c.perturb.start == 0 || c.perturb.until == 0 || c.perturb.until >= c.perturb.start,
           "perturb.until = {} is before perturb.start = {}: no perturbation would happen (perturb.every = {}); "
           "expected perturb.until >= perturb.start, 0 (until the end), or perturb.every = 0 (none)",
           c.perturb.until, c.perturb.start, c.perturb.every);
  check_option_range(c.perturb.scale >= 0 && std::isfinite(c.perturb.scale), "perturb.scale", c.perturb.scale,
                     "a finite number >= 0");
  check_option_range(c.perturb.sd >= 0 && std::isfinite(c.perturb.sd), "perturb.sd", c.perturb.sd,
                     "a finite number >= 0");
  check_option_range(c.collective_timeout >= 0 && std::isfinite(c.collective_timeout), "collective_timeout",
                     c.collective_timeout, "a finite number of seconds >= 0 (0: wait forever)");
  check_option_range(c.gallery >= 0, "gallery", c.gallery, "an integer >= 0 (0: no gallery)");
  check_option_range(c.checkpoint_every >= 0, "checkpoint_every", c.checkpoint_every, "an integer >= 0");
  check_option_range(c.keep_checkpoints >= 1, "keep_checkpoints", c.keep_checkpoints, "an integer >= 1");
  NS_CHECK(!c.out.empty(), "out = \"\" is not valid; expected a run directory path");
}

void validate_against_data(const TrainConfig& c, Index train_rows, Index num_classes) {
  NS_CHECK(train_rows >= 1,
           "the training set is empty (data.validation = {}, data.train_limit = {}); expected at "
           "least one training example",
           c.data.validation, c.data.train_limit);
  // The coordinate rule's round takes the place of optim.batch (unused there): a pass, or local_steps per block.
  const bool coordinate = c.objective.regime == "minnorm" && c.objective.dual == "coordinate";
  NS_CHECK(coordinate || c.optim.batch == kFullBatch || c.optim.batch <= train_rows,
           "optim.batch = {} is larger than the training set ({} examples); expected a batch "
           "<= {} or \"full\"",
           c.optim.batch, train_rows, train_rows);
  // The steps a run of `epochs` takes, and the examples it draws, in doubles: they may not fit an Index.
  const double rows = static_cast<double>(train_rows);
  const double batch = coordinate
                           ? (c.objective.local_steps == 0
                                  ? rows
                                  : std::min(rows, static_cast<double>(c.objective.local_steps) * c.virtual_shards))
                       : c.optim.batch == kFullBatch ? rows
                                                     : static_cast<double>(c.optim.batch);
  const double steps =
      c.steps > 0 ? static_cast<double>(c.steps) : std::ceil(static_cast<double>(c.epochs) * train_rows / batch);
  NS_CHECK(steps <= static_cast<double>(kMaxSteps) && steps * batch <= kMaxExamplesVisited,
           "{} = {} makes {} steps of batch {} over {} training examples; expected at most {} steps and {} examples "
           "drawn",
           c.steps > 0 ? "steps" : "epochs", c.steps > 0 ? c.steps : c.epochs, steps, batch, train_rows, kMaxSteps,
           kMaxExamplesVisited);
  // Each virtual shard is a file of every checkpoint: more shards than examples (or than the default 64
  // on a small set) only multiply files.
  NS_CHECK(c.virtual_shards <= std::max<Index>(train_rows, TrainConfig{}.virtual_shards),
           "virtual_shards = {} exceeds the {} training examples; expected at most max({}, {}) shards (each is a "
           "file of every checkpoint); hint: a power of two no larger than the example count, divisible by the rank "
           "count",
           c.virtual_shards, train_rows, train_rows, TrainConfig{}.virtual_shards);
  // load_data has checked data.classes against the labels and relabelled the subset 0..k-1.
  NS_CHECK(c.data.classes.empty() || num_classes == static_cast<Index>(c.data.classes.size()),
           "data.classes = [{}] selects {} classes but the loaded data has {}; expected the data of "
           "the class subset (load_data with this configuration)",
           fmt::join(c.data.classes, ", "), c.data.classes.size(), num_classes);
}

}  // namespace normscale
