// The contract of one layer: forward and backward on a batch (rows = examples), parameters as views
// into the network's flat buffers. A layer neither talks to other ranks nor knows its objective.
#pragma once

#include "normscale/core/rng.hpp"
#include "normscale/core/types.hpp"
#include "normscale/model/bf16_rounding.hpp"

#include <optional>
#include <string>
#include <vector>

namespace normscale {

// kTrain: the step's pass (batch norm normalises with the batch statistics and updates its running ones).
// kTrainRepeat: a training-mode pass again over a batch at the same step -- Minnorm's exact multiplier update at the
// new weights -- with the batch statistics but the running ones left alone, so that evaluations, checkpoints and the
// update rule do not change what the running statistics average. kEval: the running statistics.
enum class Mode { kTrain, kTrainRepeat, kEval };

// How to draw initial weights (biases start at zero).
struct InitSpec {
  std::string method = "he";  // "he", "glorot", "normal", "scaled-normal", "frobenius", "zeros"
  double scale = 1.0;         // sigma (normal), sigma/sqrt(fan_in) (scaled-normal), ||W||_F (frobenius)
};

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string kind() const = 0;
  virtual Index output_width(Index input_width) const { return input_width; }
  virtual Index parameter_count() const { return 0; }
  // Points the layer at its slices of the flat parameter and gradient buffers.
  virtual void bind(T* /*params*/, T* /*grads*/) {}
  // Points the layer at the network's bf16 rounding of its parameters (kept by the update), which starts at
  // `offset` in the flat order; a layer whose products could use its weights' rounding takes it.
  virtual void bind_rounded(const RoundedParameters* /*rounded*/, Index /*offset*/) {}
  virtual void initialize(const InitSpec& /*spec*/, RandomStream& /*rng*/) {}
  virtual void forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) = 0;
  // Overwrites this layer's parameter gradients; writes the input gradient when din is not null.
  virtual void backward(const Matrix<T>& in, const Matrix<T>& out, const Matrix<T>& dout, Matrix<T>* din) = 0;
  // True when each output row depends only on the same input row (no batch statistics), so the
  // backward pass may run on a subset of the rows (the others having zero output gradient).
  virtual bool rows_independent() const { return false; }
  // The weight matrix (outputs x inputs) for norm metrics, if the layer has one.
  virtual std::optional<ConstMatrixMap<T>> weight() const { return std::nullopt; }
  // State that is not a parameter but must survive a checkpoint (batch norm's running statistics).
  virtual std::vector<std::vector<T>*> state() { return {}; }
  // The bias (one row, one entry per output), if the layer has one.
  virtual std::optional<ConstMatrixMap<T>> bias() const { return std::nullopt; }
};

}  // namespace normscale
