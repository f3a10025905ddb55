// Maps a run's data and communicator onto the registered architecture of model.type.
#include "normscale/train/model_factory.hpp"

#include "normscale/model/model_registry.hpp"

namespace normscale {

template <class T>
std::unique_ptr<Network<T>> make_network(const ModelConfig& config, const Dataset& train, Index outputs,
                                         Communicator& comm) {
  BatchNormOptions bn;
  bn.affine = config.bn_affine;
  if (config.sync_bn) bn.reducer = [&comm](std::span<double> sums) { comm.allreduce_sum(sums); };
  ModelInput input;
  input.width = train.cols;
  if (train.image.valid()) input.image = {train.image.channels, train.image.height, train.image.width};
  input.name = train.name;
  return model_registry().get(config.type).build<T>(config, input, outputs, bn);
}

template std::unique_ptr<Network<float>> make_network<float>(const ModelConfig&, const Dataset&, Index, Communicator&);
template std::unique_ptr<Network<double>> make_network<double>(const ModelConfig&, const Dataset&, Index,
                                                               Communicator&);

}  // namespace normscale
