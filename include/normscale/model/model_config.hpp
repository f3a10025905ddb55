// The model settings of a run: architecture, normalization layers and initialisation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

struct ModelConfig {
  std::string type = "mlp";         // a registered architecture (model_registry.hpp): "mlp" or "convnet"
  std::vector<std::int64_t> hidden = {800, 800};  // hidden widths; empty = linear model
  std::vector<std::int64_t> channels = {32, 64, 128};  // convnet: channels of the 3x3 convolutions
  bool batch_norm = false;          // batch norm after each hidden layer / convolution
  bool bn_affine = false;           // batch norm with gamma and beta (the papers use none)
  bool sync_bn = false;             // batch statistics of the global batch (allreduced), not per rank
  bool weight_norm = false;         // weight-normalised dense layers (w = g v / ||v|| per unit)
  std::string activation = "relu";  // "relu" or "identity"
  bool bias = true;
  std::string init = "he";          // "he", "glorot", "normal", "scaled-normal", "frobenius", "zeros"
  double init_scale = 1.0;          // sigma for "normal", Frobenius norm per layer for "frobenius"
  std::int64_t outputs = 0;         // output width; 0 = derived (classes, 1 for binary, target columns)
};

}  // namespace normscale
