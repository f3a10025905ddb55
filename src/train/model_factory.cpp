// Maps a run's data and communicator onto the registered architecture of model.type, after checking that
// the model fits in the machine's memory.
#include "normscale/train/model_factory.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/model_registry.hpp"

#include <fmt/ranges.h>
#include <unistd.h>

#include <cmath>
#include <vector>

namespace normscale {

namespace {

// Parameters, gradients, momentum and one working copy (checkpoint or evaluation buffers) per parameter.
constexpr double kCopiesPerParameter = 4;
// Activation, delta and a layer's own scratch (pre-activation, im2col) per unit and example.
constexpr double kCopiesPerActivation = 3;

// Bytes as an integer while they fit one, else in scientific notation: widths are unbounded options.
std::string bytes_text(double bytes) {
  return bytes < 9e18 ? fmt::format("{}", static_cast<std::uint64_t>(bytes)) : fmt::format("{:.3e}", bytes);
}

}  // namespace

ModelMemory estimate_model_memory(const ModelConfig& config, const Dataset& train, Index outputs, Index batch_rows,
                                  std::size_t scalar_bytes) {
  double parameters = 0;
  double units_per_example = 0;  // activations of one example over all layers
  if (config.type == "mlp") {
    std::vector<double> widths = {static_cast<double>(train.cols)};
    for (const std::int64_t hidden : config.hidden) widths.push_back(static_cast<double>(hidden));
    widths.push_back(static_cast<double>(outputs));
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) parameters += (widths[i] + 1) * widths[i + 1];
    for (const double width : widths) units_per_example += width;
  } else if (config.type == "convnet" && train.image.valid()) {
    // 3 x 3 "same" convolutions, each followed by 2 x 2 pooling, then the linear classifier.
    double channels = static_cast<double>(train.image.channels);
    double area = static_cast<double>(train.image.height) * static_cast<double>(train.image.width);
    units_per_example = channels * area;
    for (const std::int64_t out : config.channels) {
      parameters += 9 * channels * static_cast<double>(out) + 2 * static_cast<double>(out);
      units_per_example += area * (9 * channels + static_cast<double>(out));  // im2col and the output map
      channels = static_cast<double>(out);
      area = std::max(1.0, std::floor(area / 4));
    }
    parameters += (channels * area + 1) * static_cast<double>(outputs);
    units_per_example += static_cast<double>(outputs);
  } else {
    return {};
  }
  ModelMemory memory;
  memory.parameters = parameters;
  memory.parameter_state_bytes = parameters * kCopiesPerParameter * static_cast<double>(scalar_bytes);
  memory.batch_bytes =
      static_cast<double>(batch_rows) * units_per_example * kCopiesPerActivation * static_cast<double>(scalar_bytes);
  return memory;
}

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size) : 0.0;
}

void check_model_memory(const ModelConfig& config, const Dataset& train, Index outputs, Index batch_rows,
                        std::size_t scalar_bytes, double available_bytes) {
  const ModelMemory memory = estimate_model_memory(config, train, outputs, batch_rows, scalar_bytes);
  if (available_bytes <= 0 || memory.total() <= available_bytes) return;
  const bool mlp = config.type == "mlp";
  const std::string sized_by = mlp ? fmt::format("model.hidden = [{}]", fmt::join(config.hidden, ", "))
                                   : fmt::format("model.channels = [{}]", fmt::join(config.channels, ", "));
  NS_FAIL("the model (model.type = \"{}\", {}, {} inputs from '{}', {} outputs) needs about {} bytes: {} for its "
          "{:.0f} parameters with their gradients and momentum, {} for the activations of {} examples per step; "
          "this machine has {} bytes of physical memory; hint: lower {} (or optim.batch when the activations "
          "dominate)",
          config.type, sized_by, train.cols, train.name, outputs, bytes_text(memory.total()),
          bytes_text(memory.parameter_state_bytes), memory.parameters, bytes_text(memory.batch_bytes), batch_rows,
          bytes_text(available_bytes), mlp ? "model.hidden" : "model.channels");
}

template <class T>
std::unique_ptr<Network<T>> make_network(const ModelConfig& config, const Dataset& train, Index outputs,
                                         Communicator& comm, Index batch_rows) {
  check_model_memory(config, train, outputs, batch_rows, sizeof(T), physical_memory_bytes());
  BatchNormOptions bn;
  bn.affine = config.bn_affine;
  if (config.sync_bn) bn.reducer = [&comm](std::span<double> sums) { comm.allreduce_sum(sums); };
  ModelInput input;
  input.width = train.cols;
  if (train.image.valid()) input.image = {train.image.channels, train.image.height, train.image.width};
  input.name = train.name;
  return model_registry().get(config.type).build<T>(config, input, outputs, bn);
}

template std::unique_ptr<Network<float>> make_network<float>(const ModelConfig&, const Dataset&, Index, Communicator&,
                                                             Index);
template std::unique_ptr<Network<double>> make_network<double>(const ModelConfig&, const Dataset&, Index,
                                                               Communicator&, Index);

}  // namespace normscale
