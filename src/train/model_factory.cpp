// Maps model.* options onto the model layer's builders.
#include "normscale/train/model_factory.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/architectures.hpp"

namespace normscale {

template <class T>
std::unique_ptr<Network<T>> make_network(const ModelConfig& config, const Dataset& train, Index outputs,
                                         Communicator& comm) {
  BatchNormOptions bn;
  bn.affine = config.bn_affine;
  if (config.sync_bn) bn.reducer = [&comm](std::span<double> sums) { comm.allreduce_sum(sums); };
  const std::vector<Index> hidden(config.hidden.begin(), config.hidden.end());
  if (config.type == "convnet") {
    NS_CHECK(train.image.valid(),
             "model.type = convnet needs image data; the data set '{}' has no image shape (use model.type = mlp)",
             train.name);
    ConvNetSpec spec;
    spec.input = {train.image.channels, train.image.height, train.image.width};
    spec.channels.assign(config.channels.begin(), config.channels.end());
    spec.outputs = outputs;
    spec.classifier_bias = config.bias;
    spec.use_batch_norm = config.batch_norm;
    spec.weight_norm = config.weight_norm;
    spec.batch_norm = bn;
    return make_convnet<T>(spec);
  }
  if (config.batch_norm || config.weight_norm) {
    BnMlpSpec spec{train.cols, hidden, outputs};
    spec.hidden_bias = config.bias && !config.batch_norm;  // a bias before batch norm is cancelled by it
    spec.output_bias = config.bias;
    spec.use_batch_norm = config.batch_norm;
    spec.weight_norm = config.weight_norm;
    spec.batch_norm = bn;
    return make_bn_mlp<T>(spec);
  }
  return make_mlp<T>({train.cols, hidden, outputs, config.activation, config.bias});
}

template std::unique_ptr<Network<float>> make_network<float>(const ModelConfig&, const Dataset&, Index, Communicator&);
template std::unique_ptr<Network<double>> make_network<double>(const ModelConfig&, const Dataset&, Index,
                                                               Communicator&);

}  // namespace normscale
