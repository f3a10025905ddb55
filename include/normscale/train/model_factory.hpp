// The network a configuration asks for: the registered architecture of model.type (model_registry.hpp)
// for the training set's input shape; sync-bn gets its sums over ranks from the communicator.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/model/network.hpp"
#include "normscale/train/config.hpp"

#include <memory>

namespace normscale {

template <class T>
std::unique_ptr<Network<T>> make_network(const ModelConfig& config, const Dataset& train, Index outputs,
                                         Communicator& comm);

}  // namespace normscale
