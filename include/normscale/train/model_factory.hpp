// The network a configuration asks for: the registered architecture of model.type (model_registry.hpp)
// for the training set's input shape; sync-bn gets its sums over ranks from the communicator.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/model/network.hpp"
#include "normscale/train/config.hpp"

#include <memory>
#include <string>

namespace normscale {

// Roughly the bytes an architecture needs (in doubles, so no width can overflow them), from its registered size
// (ModelEntry::size): its parameters, then parameters + gradients + momentum + one working copy, then the
// activations and deltas of `batch_rows` examples. All zero for a model.type registered without a size.
struct ModelMemory {
  double parameters = 0;
  double parameter_state_bytes = 0;
  double batch_bytes = 0;
  std::string sized_by;  // ModelSize's: the options that set the size, and the one to lower
  std::string option;
  double total() const { return parameter_state_bytes + batch_bytes; }
};
ModelMemory estimate_model_memory(const ModelConfig& config, const Dataset& train, Index outputs, Index batch_rows,
                                  std::size_t scalar_bytes);

// The machine's physical memory in bytes (sysconf), 0 when unknown.
double physical_memory_bytes();

// Throws, naming the option that sized the model (model.hidden, model.channels), the input width, the outputs
// and the bytes asked for, when estimate_model_memory exceeds `available_bytes` (skipped when it is 0): a model
// that cannot fit is an error before anything is allocated, not a std::bad_alloc half-way through.
void check_model_memory(const ModelConfig& config, const Dataset& train, Index outputs, Index batch_rows,
                        std::size_t scalar_bytes, double available_bytes);

// Builds the network after check_model_memory against the physical memory (batch_rows: the examples one step
// of this rank forwards; 0 checks the parameters only).
template <class T>
std::unique_ptr<Network<T>> make_network(const ModelConfig& config, const Dataset& train, Index outputs,
                                         Communicator& comm, Index batch_rows = 0);

}  // namespace normscale
