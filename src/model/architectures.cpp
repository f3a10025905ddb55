// Builders of the papers' architectures: plain lists of layers handed to Network.
#include "normscale/model/architectures.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/dense.hpp"
#include "normscale/model/weight_norm.hpp"

namespace normscale {

template <class T>
std::unique_ptr<BatchNorm<T>> make_batch_norm(Index channels, Index spatial, const BatchNormOptions& options) {
  return std::make_unique<BatchNorm<T>>(channels, spatial, options);
}

namespace {

template <class T>
std::unique_ptr<Layer<T>> make_dense(Index inputs, Index outputs, bool bias, bool weight_norm) {
  if (weight_norm) return std::make_unique<WeightNormDense<T>>(inputs, outputs, bias);
  return std::make_unique<Dense<T>>(inputs, outputs, bias);
}

}  // namespace

template <class T>
std::unique_ptr<Network<T>> make_bn_mlp(const BnMlpSpec& spec) {
  NS_CHECK(spec.inputs > 0 && spec.outputs > 0, "a batch-norm MLP needs inputs and outputs (got {} and {})",
           spec.inputs, spec.outputs);
  std::vector<std::unique_ptr<Layer<T>>> layers;
  Index width = spec.inputs;
  for (Index hidden : spec.hidden) {
    NS_CHECK(hidden > 0, "model.hidden: every width must be positive, got {}", hidden);
    layers.push_back(make_dense<T>(width, hidden, spec.hidden_bias, spec.weight_norm));
    if (spec.use_batch_norm) layers.push_back(make_batch_norm<T>(hidden, 1, spec.batch_norm));
    layers.push_back(std::make_unique<Relu<T>>());
    width = hidden;
  }
  layers.push_back(make_dense<T>(width, spec.outputs, spec.output_bias, spec.weight_norm));
  return std::make_unique<Network<T>>(spec.inputs, std::move(layers));
}

template <class T>
std::unique_ptr<Network<T>> make_convnet(const ConvNetSpec& spec) {
  NS_CHECK(spec.input.size() > 0, "a ConvNet needs a positive input shape, got {} x {} x {}", spec.input.channels,
           spec.input.height, spec.input.width);
  NS_CHECK(spec.outputs > 0, "a ConvNet needs positive outputs, got {}", spec.outputs);
  std::vector<std::unique_ptr<Layer<T>>> layers;
  FeatureMapShape shape = spec.input;
  for (std::size_t block = 0; block < spec.channels.size(); ++block) {
    const Index channels = spec.channels[block];
    NS_CHECK(channels > 0, "model.channels: every channel count must be positive, got {}", channels);
    auto conv = std::make_unique<Conv2d<T>>(shape, channels, spec.kernel, spec.conv_bias);
    shape = conv->output_shape();
    layers.push_back(std::move(conv));
    if (spec.use_batch_norm) layers.push_back(make_batch_norm<T>(shape.channels, shape.area(), spec.batch_norm));
    // ReLU commutes with max pooling (both take maxima): after the pooling it passes over a quarter of the values,
    // with the same outputs and gradients. Average pooling does not commute with it.
    const bool relu_after_pool = spec.pool && spec.pool_kind == PoolKind::kMax;
    if (!relu_after_pool) layers.push_back(std::make_unique<Relu<T>>());
    if (spec.pool) {
      NS_CHECK(shape.height >= 2 && shape.width >= 2,
               "ConvNet pooling needs maps of at least 2 x 2, got {} x {} in block {}; hint: use fewer conv blocks "
               "(model.channels has one entry per block, and each block halves the sides, rounding down)",
               shape.height, shape.width, block + 1);
      auto pool = std::make_unique<Pooling<T>>(shape, spec.pool_kind, 2);
      shape = pool->output_shape();
      layers.push_back(std::move(pool));
    }
    if (relu_after_pool) layers.push_back(std::make_unique<Relu<T>>());
  }
  layers.push_back(make_dense<T>(shape.size(), spec.outputs, spec.classifier_bias, spec.weight_norm));
  return std::make_unique<Network<T>>(spec.input.size(), std::move(layers));
}

template std::unique_ptr<BatchNorm<float>> make_batch_norm<float>(Index, Index, const BatchNormOptions&);
template std::unique_ptr<BatchNorm<double>> make_batch_norm<double>(Index, Index, const BatchNormOptions&);
template std::unique_ptr<Network<float>> make_bn_mlp<float>(const BnMlpSpec&);
template std::unique_ptr<Network<double>> make_bn_mlp<double>(const BnMlpSpec&);
template std::unique_ptr<Network<float>> make_convnet<float>(const ConvNetSpec&);
template std::unique_ptr<Network<double>> make_convnet<double>(const ConvNetSpec&);

}  // namespace normscale
