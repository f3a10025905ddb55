// Agreement across ranks: confirm that every rank holds the same value (config hash, data fingerprint,
// the checkpoints it sees), and learn on every rank whether any rank failed, with the failing rank's
// message. A decision that changes the sequence of collectives is taken from what these return, which
// is the same on every rank, so no rank is left waiting in a collective the others skipped.
#pragma once

#include "normscale/comm/communicator.hpp"

#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>

namespace normscale {

// Collective: one allreduce_max of four doubles. True on every rank when every rank passed `value`.
bool same_on_all_ranks(Communicator& comm, std::uint64_t value);

// Collective, like same_on_all_ranks. Throws AgreedError naming `what` on EVERY rank when the
// ranks disagree, so no rank is left waiting in a later collective.
void check_same_on_all_ranks(Communicator& comm, std::uint64_t value, const std::string& what);

// What every rank learns when some rank failed.
struct RankFailure {
  int rank = -1;         // the lowest failing rank, whose message is reported
  int failed_ranks = 0;  // how many ranks failed
  // That rank's message; with several ranks, "(reported by rank r; k of p ranks failed)" follows, and
  // on a rank that failed too, its own message.
  std::string message;
};

// Collective: one allreduce_max of one flag per rank, then, only when some rank failed, one broadcast
// of the lowest failing rank's message. `local_error` is this rank's message, empty where it succeeded.
// Returns the same answer on every rank: none when every rank succeeded.
std::optional<RankFailure> agree_on_failure(Communicator& comm, const std::string& local_error);

// The second half of agree_on_failure, for callers that reduced the flags themselves (with other data
// in the same allreduce): `failed[r]` is nonzero where rank r failed, the same span on every rank.
std::optional<RankFailure> first_failure(Communicator& comm, std::span<const double> failed,
                                         const std::string& local_error);

// Collective: throws AgreedError with the agreed failure's message on every rank when any rank failed.
void throw_if_any_rank_failed(Communicator& comm, const std::string& local_error);

// Runs `action` on this rank only; returns its error message, empty when it succeeded. Feeds
// agree_on_failure, so that a local failure becomes a decision of every rank.
template <class Action>
std::string error_of(Action&& action) {
  try {
    action();
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return message.empty() ? std::string("unknown error") : message;
  }
  return "";
}

}  // namespace normscale
