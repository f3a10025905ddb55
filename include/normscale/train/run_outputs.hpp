// The files a finished run leaves in its run directory: weights and multipliers as NumPy arrays, the
// support vectors as CSV and, for image data, a PNG gallery of the top support vectors.
#pragma once

#include "normscale/data/dataset.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/multiplier_store.hpp"

#include <string>

namespace normscale {

// layerN_weight.npy (outputs x inputs) and layerN_bias.npy for every layer, in `dir`.
template <class T>
void write_weights(const std::string& dir, const Network<T>& network);

// alpha.npy (examples x multipliers per example, float64, row = global id - first_id),
// support_vectors.csv and, if the data are images and gallery > 0, support_vectors.png.
void write_multipliers(const std::string& dir, const MultiplierStore& store, const Dataset& train,
                       Index gallery);

}  // namespace normscale
