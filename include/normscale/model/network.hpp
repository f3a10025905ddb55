// A feed-forward stack of layers over one flat parameter buffer and one flat gradient buffer.
#pragma once

#include "normscale/model/layer.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace normscale {

// A named weight matrix of the network, for metrics and export.
template <class T>
struct NamedWeight {
  std::string name;  // e.g. "layer1"
  ConstMatrixMap<T> matrix;
};

template <class T>
class Network {
 public:
  Network(Index input_width, std::vector<std::unique_ptr<Layer<T>>> layers);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Index input_width() const { return input_width_; }
  Index output_width() const { return output_width_; }
  Index parameter_count() const { return static_cast<Index>(params_.size()); }
  const std::vector<T>& parameters() const { return params_; }
  // The parameters for writing: their kept bf16 rounding stops being current, the next forward rounds them itself.
  std::vector<T>& mutable_parameters() {
    rounded_.current = false;
    return params_;
  }
  // Hands the parameters to update(params, rounded) for writing, with the span that their bf16 rounding (bf16_bits)
  // is to be written into in the same pass where the products take bf16 operands (else an empty span): the
  // optimizer's update. The rounding is current afterwards, and the next forward's products take it.
  template <class Update>
  void update_parameters(Update&& update) {
    const std::span<std::uint16_t> rounded = rounding_to_write();
    update(params_, rounded);
    rounded_.current = !rounded.empty();
  }
  const RoundedParameters& rounded_parameters() const { return rounded_; }
  std::vector<T>& gradient() { return grads_; }
  const std::vector<T>& gradient() const { return grads_; }
  std::size_t layer_count() const { return layers_.size(); }
  const Layer<T>& layer(std::size_t i) const { return *layers_[i]; }

  // Draws initial weights from the stream (seed, kInit).
  void initialize(const InitSpec& spec, std::uint64_t seed);

  // Forward pass; keeps the activations for backward(). Returns the outputs (rows x output_width).
  const Matrix<T>& forward(const Matrix<T>& input, Mode mode = Mode::kTrain);
  // Overwrites the flat gradient with d(sum over rows of output_gradient . outputs)/dW, using the
  // activations of the last forward().
  void backward(const Matrix<T>& output_gradient);
  // The same gradient when only the rows `active` of the last forward() have a nonzero output
  // gradient: output_gradient holds those rows only (in that order), and the backward pass runs on
  // them alone. Exact: the other rows contribute zero. Needs rows_independent().
  void backward_rows(const Matrix<T>& output_gradient, std::span<const Index> active);
  // True when every layer is row-independent (no batch norm), so backward_rows() applies.
  bool rows_independent() const;
  // Activation after layer i-1 (i = 0 is the input, i = layer_count() the output).
  const Matrix<T>& activation(std::size_t i) const { return activations_[i]; }

  // The weight matrices in order (dense and convolution layers), named layer1, layer2, ...
  std::vector<NamedWeight<T>> weights() const;
  // The biases of the layers that have one, named like their weights (layer1, ...).
  std::vector<NamedWeight<T>> biases() const;
  // Every layer's non-parameter state (batch-norm running statistics) as one vector, and back.
  std::vector<T> layer_state() const;
  void set_layer_state(const std::vector<T>& state);
  // Sum over layers of ||W_l||_F^2 plus squared biases: the minnorm norm term times two.
  double squared_norm() const;
  // Name of the layer whose parameters contain a non-finite value, or empty when all are finite.
  std::string first_nonfinite_layer() const;

 private:
  Index input_width_;
  Index output_width_;
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::vector<Index> offsets_;  // start of each layer's parameters in the flat buffers
  std::vector<T> params_;
  std::vector<T> grads_;
  RoundedParameters rounded_;  // float networks with bf16 products only; sized by the first update
  // Marks the kept rounding stale and returns it sized to the parameters where the products take bf16 operands.
  std::span<std::uint16_t> rounding_to_write();
  // Gradient through layers_ on the activations acts (rows x width per layer boundary).
  void backward_through(const std::vector<Matrix<T>>& acts, const Matrix<T>& output_gradient);

  std::vector<Matrix<T>> activations_;
  std::vector<Matrix<T>> active_activations_;  // backward_rows(): the active rows of activations_
  std::vector<Matrix<T>> deltas_;              // deltas_[i]: gradient with respect to activation i
};

// The multilayer perceptron: widths = input, hidden..., output; activation "relu" or "identity"
// between layers (none after the last).
struct MlpSpec {
  Index inputs = 0;
  std::vector<Index> hidden;
  Index outputs = 0;
  std::string activation = "relu";
  bool bias = true;
};

template <class T>
std::unique_ptr<Network<T>> make_mlp(const MlpSpec& spec);

}  // namespace normscale
