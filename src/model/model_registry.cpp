// The architecture registry and the built-in architectures, listed in one place: the MLP (plain, or with
// batch / weight norm) and the square-loss papers' ConvNet, each built from the model.* options here.
#include "normscale/model/model_registry.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/architectures.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace normscale {

namespace {

ModelSize mlp_size(const ModelConfig& c, const ModelInput& input, Index outputs) {
  std::vector<double> widths = {static_cast<double>(input.width)};
  for (const std::int64_t hidden : c.hidden) widths.push_back(static_cast<double>(hidden));
  widths.push_back(static_cast<double>(outputs));
  ModelSize size;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) size.parameters += (widths[i] + 1) * widths[i + 1];
  for (const double width : widths) size.units_per_example += width;
  size.sized_by = fmt::format("model.hidden = [{}]", fmt::join(c.hidden, ", "));
  size.option = "model.hidden";
  return size;
}

// 3 x 3 "same" convolutions, each followed by 2 x 2 pooling, then the linear classifier.
ModelSize convnet_size(const ModelConfig& c, const ModelInput& input, Index outputs) {
  if (input.image.size() == 0) return {};  // refused by the builder, with its reason
  double channels = static_cast<double>(input.image.channels);
  double area = static_cast<double>(input.image.height) * static_cast<double>(input.image.width);
  ModelSize size;
  size.units_per_example = channels * area;
  for (const std::int64_t out : c.channels) {
    size.parameters += 9 * channels * static_cast<double>(out) + 2 * static_cast<double>(out);
    size.units_per_example += area * (9 * channels + static_cast<double>(out));  // im2col and the output map
    channels = static_cast<double>(out);
    area = std::max(1.0, std::floor(area / 4));
  }
  size.parameters += (channels * area + 1) * static_cast<double>(outputs);
  size.units_per_example += static_cast<double>(outputs);
  size.sized_by = fmt::format("model.channels = [{}]", fmt::join(c.channels, ", "));
  size.option = "model.channels";
  return size;
}

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
      },
      mlp_size));
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
      },
      convnet_size));
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
