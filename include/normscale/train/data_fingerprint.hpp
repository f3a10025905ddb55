// A fingerprint of the training set that a checkpoint records, so a resume on changed data files is
// refused rather than continued on other examples.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>

namespace normscale {

// Collective: a 64-bit hash of every example of the split (features, label or targets, global id),
// the same on any number of ranks however the examples are spread over them. Take it before
// preprocessing: preprocessing statistics are sums whose rounding depends on the rank count.
std::uint64_t data_fingerprint(Communicator& comm, const Dataset& split);

}  // namespace normscale
