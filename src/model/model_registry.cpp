// The architecture registry and the built-in architectures, listed in one place: the MLP (plain, or with
// batch / weight norm) and the square-loss papers' ConvNet, each built from the model.* options here.
#include "normscale/model/model_registry.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/architectures.hpp"

#include <vector>

namespace normscale {

namespace {

void add_builtins(ModelRegistry& registry) {
  registry.add(model_entry(
      "mlp", "multilayer perceptron with model.hidden widths (optional batch norm, weight norm, identity activation)",
      [](auto precision, const ModelConfig& c, const ModelInput& input, Index outputs, const BatchNormOptions& bn) {
        using T = decltype(precision);
        const std::vector<Index> hidden(c.hidden.begin(), c.hidden.end());
        if (c.batch_norm || c.weight_norm) {
          BnMlpSpec spec{input.width, hidden, outputs};
          spec.hidden_bias = c.bias && !c.batch_norm;  // a bias before batch norm is cancelled by it
          spec.output_bias = c.bias;
          spec.use_batch_norm = c.batch_norm;
          spec.weight_norm = c.weight_norm;
          spec.batch_norm = bn;
          return make_bn_mlp<T>(spec);
        }
        return make_mlp<T>({input.width, hidden, outputs, c.activation, c.bias});
      }));
  registry.add(model_entry(
      "convnet",
      "the square-loss papers' ConvNet: 3x3 convolutions with model.channels, BN, ReLU, 2x2 max pooling, linear "
      "classifier (image data)",
      [](auto precision, const ModelConfig& c, const ModelInput& input, Index outputs, const BatchNormOptions& bn) {
        using T = decltype(precision);
        NS_CHECK(input.image.size() > 0,
                 "model.type = convnet needs image data; the data set '{}' has no image shape (use model.type = mlp)",
                 input.name);
        ConvNetSpec spec;
        spec.input = input.image;
        spec.channels.assign(c.channels.begin(), c.channels.end());
        spec.outputs = outputs;
        spec.classifier_bias = c.bias;
        spec.use_batch_norm = c.batch_norm;
        spec.weight_norm = c.weight_norm;
        spec.batch_norm = bn;
        return make_convnet<T>(spec);
      }));
}

void check_entry(const ModelEntry& entry) {
  NS_CHECK(entry.build_float && entry.build_double, "model '{}' is registered without its builders", entry.name);
}

}  // namespace

ModelRegistry& model_registry() {
  static ModelRegistry registry("model.type", "model type", check_entry, add_builtins);
  return registry;
}

}  // namespace normscale
