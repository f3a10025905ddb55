// The architectures by name: `model.type` picks an entry. The built-in architectures are listed in one
// place (model_registry.cpp); an extension adds its own with model_registry().add(...) before the
// configuration is validated. The option table takes model.type's choices from here.
#pragma once

#include "normscale/core/registry.hpp"
#include "normscale/model/batch_norm.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/model_config.hpp"
#include "normscale/model/network.hpp"

#include <functional>
#include <memory>
#include <string>
#include <type_traits>

namespace normscale {

// What the network reads: rows of `width` features, which are C x H x W images when image.size() > 0.
struct ModelInput {
  Index width = 0;
  FeatureMapShape image{};
  std::string name;  // the data set, for messages
};

// An architecture's size for one input, roughly: what the memory check before building needs.
struct ModelSize {
  double parameters = 0;         // in doubles, so no width can overflow them
  double units_per_example = 0;  // activations and per-example scratch (pre-activations, im2col) over all layers
  std::string sized_by;          // the options that set the size, e.g. "model.hidden = [800, 800]"
  std::string option;            // the one to lower, e.g. "model.hidden"
};

struct ModelEntry {
  // Builds the network for `input` with `outputs` outputs; every batch-norm layer gets `batch_norm`
  // (model.bn_affine, and the sync-bn reducer the trainer wires to its communicator).
  template <class T>
  using Builder = std::function<std::unique_ptr<Network<T>>(const ModelConfig&, const ModelInput& input,
                                                            Index outputs, const BatchNormOptions& batch_norm)>;

  std::string name;         // the value of model.type
  std::string description;  // one line
  Builder<float> build_float;
  Builder<double> build_double;
  // Optional: the size of the network build() would make (all zero where unknown); an entry without it is built
  // without the memory check.
  std::function<ModelSize(const ModelConfig&, const ModelInput& input, Index outputs)> size;

  template <class T>
  std::unique_ptr<Network<T>> build(const ModelConfig& config, const ModelInput& input, Index outputs,
                                    const BatchNormOptions& batch_norm) const {
    if constexpr (std::is_same_v<T, float>) {
      return build_float(config, input, outputs, batch_norm);
    } else {
      return build_double(config, input, outputs, batch_norm);
    }
  }
};

// An entry whose two builders are one generic callable build(T{}, config, input, outputs, batch_norm)
// (the first argument only carries the precision).
template <class Build>
ModelEntry model_entry(std::string name, std::string description, Build build,
                       std::function<ModelSize(const ModelConfig&, const ModelInput&, Index)> size = {}) {
  ModelEntry entry;
  entry.name = std::move(name);
  entry.description = std::move(description);
  entry.size = std::move(size);
  entry.build_float = [build](const ModelConfig& c, const ModelInput& in, Index o, const BatchNormOptions& bn) {
    return build(float{}, c, in, o, bn);
  };
  entry.build_double = [build](const ModelConfig& c, const ModelInput& in, Index o, const BatchNormOptions& bn) {
    return build(double{}, c, in, o, bn);
  };
  return entry;
}

using ModelRegistry = Registry<ModelEntry>;

// The process's registry, holding the built-in architectures from its first use on ("mlp", "convnet").
ModelRegistry& model_registry();

}  // namespace normscale
