// The files a finished run leaves in its run directory: weights and multipliers as NumPy arrays, the
// support vectors as CSV and, for image data, a PNG gallery of the top support vectors.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/data/dataset.hpp"
#include "normscale/metrics/support_vectors.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/multiplier_store.hpp"

#include <string>

namespace normscale {

// layerN_weight.npy (outputs x inputs) and layerN_bias.npy for every layer, in `dir`.
template <class T>
void write_weights(const std::string& dir, const Network<T>& network);

// Collective. Gathers every rank's multipliers, labels and the features of the top support vectors,
// then rank 0 writes alpha.npy (all examples x multipliers per example, float64, row = global id),
// support_vectors.csv and, for image data with gallery > 0, support_vectors.png.
void export_multipliers(const std::string& dir, Communicator& comm, const MultiplierStore& local,
                        const Dataset& train, Index gallery);

// Multiplier statistics over all ranks (counts and sums added, the maximum taken).
AlphaStats global_alpha_stats(Communicator& comm, const MultiplierStore& local, SupportRule rule);

}  // namespace normscale
