// Agreement checks: confirm that every rank holds the same value (config hash, data fingerprint)
// before a run starts, so a mismatch fails loudly instead of training a silently wrong model.
#pragma once

#include "normscale/comm/communicator.hpp"

#include <cstdint>
#include <string>

namespace normscale {

// Collective: one allreduce_max of four doubles. Throws normscale::Error naming `what` on EVERY rank
// when the ranks disagree, so no rank is left waiting in a later collective.
void check_same_on_all_ranks(Communicator& comm, std::uint64_t value, const std::string& what);

}  // namespace normscale
