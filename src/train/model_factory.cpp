// Maps a run's data and communicator onto the registered architecture of model.type, after checking that
// the model fits in the machine's memory.
#include "normscale/train/model_factory.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/model_registry.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace normscale {

namespace {

// Parameters, gradients, momentum and one working copy (checkpoint or evaluation buffers) per parameter.
constexpr double kCopiesPerParameter = 4;
// Activation, delta and a layer's own scratch per unit and example.
constexpr double kCopiesPerActivation = 3;

// What the architecture reads, from the training set.
ModelInput model_input(const Dataset& train) {
  ModelInput input;
  input.width = train.cols;
  if (train.image.valid()) input.image = {train.image.channels, train.image.height, train.image.width};
  input.name = train.name;
  return input;
}

// Bytes as an integer while they fit one, else in scientific notation: widths are unbounded options.
std::string bytes_text(double bytes) {
  return bytes < 9e18 ? fmt::format("{}", static_cast<std::uint64_t>(bytes)) : fmt::format("{:.3e}", bytes);
}

}  // namespace

ModelMemory estimate_model_memory(const ModelConfig& config, const Dataset& train, Index outputs, Index batch_rows,
                                  std::size_t scalar_bytes) {
  const ModelEntry* entry = model_registry().find(config.type);
  if (entry == nullptr || !entry->size) return {};
  const ModelSize size = entry->size(config, model_input(train), outputs);
  ModelMemory memory;
  memory.parameters = size.parameters;
  memory.parameter_state_bytes = size.parameters * kCopiesPerParameter * static_cast<double>(scalar_bytes);
  memory.batch_bytes = static_cast<double>(batch_rows) * size.units_per_example * kCopiesPerActivation *
                       static_cast<double>(scalar_bytes);
  memory.sized_by = size.sized_by;
  memory.option = size.option;
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
  NS_FAIL("the model (model.type = \"{}\", {}, {} inputs from '{}', {} outputs) needs about {} bytes: {} for its "
          "{:.0f} parameters with their gradients and momentum, {} for the activations of {} examples per step; "
          "this machine has {} bytes of physical memory; hint: lower {} (or optim.batch when the activations "
          "dominate)",
          config.type, memory.sized_by, train.cols, train.name, outputs, bytes_text(memory.total()),
          bytes_text(memory.parameter_state_bytes), memory.parameters, bytes_text(memory.batch_bytes), batch_rows,
          bytes_text(available_bytes), memory.option);
}

template <class T>
std::unique_ptr<Network<T>> make_network(const ModelConfig& config, const Dataset& train, Index outputs,
                                         Communicator& comm, Index batch_rows) {
  check_model_memory(config, train, outputs, batch_rows, sizeof(T), physical_memory_bytes());
  BatchNormOptions bn;
  bn.affine = config.bn_affine;
  if (config.sync_bn) bn.reducer = [&comm](std::span<double> sums) { comm.allreduce_sum(sums); };
  return model_registry().get(config.type).build<T>(config, model_input(train), outputs, bn);
}

template std::unique_ptr<Network<float>> make_network<float>(const ModelConfig&, const Dataset&, Index, Communicator&,
                                                             Index);
template std::unique_ptr<Network<double>> make_network<double>(const ModelConfig&, const Dataset&, Index,
                                                               Communicator&, Index);

}  // namespace normscale
