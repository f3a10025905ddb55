// A picture gallery of chosen examples (e.g. the support vectors, the paper's Fig. 7) as one PNG.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"

#include <string>
#include <vector>

namespace normscale {

// Tiles the examples at local rows `row_indices` of `data` (in that order, row-major) into a grid of
// `columns` columns (fewer when there are fewer examples), with a 1-pixel white separator and white
// empty cells. Each image is min-max normalised over all its channels to 0..255 (a constant image
// is black). data.image must be valid with 1 channel (8-bit gray PNG) or 3 channels (RGB PNG, planar
// features as in CIFAR: channel c of pixel (y, x) at feature c*H*W + y*W + x).
// Written to a temporary name and renamed into place; errors name the file.
void write_gallery_png(const std::string& path, const Dataset& data,
                       const std::vector<Index>& row_indices, Index columns);

}  // namespace normscale
