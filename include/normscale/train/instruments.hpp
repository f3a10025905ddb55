// The square-loss papers' instruments on the training set (ALGORITHMS §3): margins of the normalized
// network f/rho, the histogram of |f_n|/rho, and neural collapse NC1-NC4 on the penultimate features,
// computed across ranks in two passes (sums, then what needs the class means and the ranges).
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/model/network.hpp"
#include "normscale/train/training_engine.hpp"

#include <nlohmann/json.hpp>

namespace normscale {

// Collective. Reads the engine's forward passes and the host network's layer shapes and last weight
// matrix (current after engine.sync_to_host()); `rho` is prod_l ||W_l||_F. Returns {"normalized_margin",
// "near_min_margin_fraction" (examples with margin within 5% of the smallest; only when it is > 0),
// "margins": {...}, "output_magnitude": {...}, "neural_collapse": {...}} (neural collapse needs a hidden
// layer and two classes present); null for regression data, a rho that is not > 0 and finite, or margins beyond a
// double's range.
template <class T>
nlohmann::json evaluate_instruments(TrainingEngine<T>& engine, const Network<T>& network, Communicator& comm,
                                    const Dataset& train, double rho);

}  // namespace normscale
