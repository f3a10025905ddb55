// The papers' architectures as layer lists: an MLP with batch norm after each hidden layer and the
// 3-conv + linear ConvNet; batch norm is made by one factory so the trainer can wire sync-bn.
#pragma once

#include "normscale/model/batch_norm.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/network.hpp"
#include "normscale/model/pooling.hpp"

#include <memory>
#include <vector>

namespace normscale {

// Every batch-norm layer of an architecture is made here, with the same options (reducer included:
// leave it empty for per-rank statistics, pass comm.allreduce_sum for sync-bn).
template <class T>
std::unique_ptr<BatchNorm<T>> make_batch_norm(Index channels, Index spatial, const BatchNormOptions& options);

// dense -> BN -> ReLU per hidden width, then dense to the outputs (no BN after the last layer).
struct BnMlpSpec {
  Index inputs = 0;
  std::vector<Index> hidden;
  Index outputs = 0;
  bool hidden_bias = false;  // a bias right before batch norm is cancelled by it
  bool output_bias = true;
  bool use_batch_norm = true;
  bool weight_norm = false;  // WeightNormDense instead of Dense for every dense layer
  BatchNormOptions batch_norm{};
};

template <class T>
std::unique_ptr<Network<T>> make_bn_mlp(const BnMlpSpec& spec);

// conv(k x k, same) -> BN (per channel) -> ReLU -> pool, per entry of `channels` (max pooling is built before the
// ReLU, which commutes with it and then passes over a quarter of the values), then a linear
// classifier on the flattened C x H x W features. The default is the papers' ConvNet on CIFAR-10
// (32/64/128 channels, 2x2 max pooling after each block: 32 -> 16 -> 8 -> 4, so 2048 features).
struct ConvNetSpec {
  FeatureMapShape input{3, 32, 32};
  std::vector<Index> channels{32, 64, 128};
  Index kernel = 3;
  Index outputs = 2;
  bool conv_bias = false;  // cancelled by the batch norm that follows
  bool classifier_bias = true;
  bool use_batch_norm = true;
  bool pool = true;
  PoolKind pool_kind = PoolKind::kMax;
  bool weight_norm = false;  // WeightNormDense for the classifier
  BatchNormOptions batch_norm{};
};

template <class T>
std::unique_ptr<Network<T>> make_convnet(const ConvNetSpec& spec);

}  // namespace normscale
