// The flat-buffer network: layers get views into two allocations, so zeroing, reducing and updating
// the whole model are single loops over contiguous memory.
#include "normscale/model/network.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/dense.hpp"
#include "normscale/model/gemm_backend.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace normscale {

template <class T>
Network<T>::Network(Index input_width, std::vector<std::unique_ptr<Layer<T>>> layers)
    : input_width_(input_width), layers_(std::move(layers)) {
  NS_CHECK(!layers_.empty(), "a network needs at least one layer");
  Index width = input_width_;
  Index total = 0;
  for (auto& layer : layers_) {
    offsets_.push_back(total);
    total += layer->parameter_count();
    width = layer->output_width(width);
  }
  output_width_ = width;
  params_.assign(static_cast<std::size_t>(total), T(0));
  grads_.assign(static_cast<std::size_t>(total), T(0));
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->bind(params_.data() + offsets_[i], grads_.data() + offsets_[i]);
    layers_[i]->bind_rounded(&rounded_, offsets_[i]);
  }
  activations_.resize(layers_.size() + 1);
  deltas_.resize(layers_.size() + 1);
}

template <class T>
std::span<std::uint16_t> Network<T>::rounding_to_write() {
  rounded_.current = false;
  if (!std::is_same_v<T, float> || active_gemm_precision() != GemmPrecision::kBf16) return {};
  rounded_.values.resize(params_.size());
  return rounded_.values;
}

template <class T>
void Network<T>::initialize(const InitSpec& spec, std::uint64_t seed) {
  rounded_.current = false;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    RandomStream rng(seed, StreamPurpose::kInit, i);
    layers_[i]->initialize(spec, rng);
  }
}

template <class T>
const Matrix<T>& Network<T>::forward(const Matrix<T>& input, Mode mode) {
  NS_CHECK(input.cols() == input_width_, "network input has {} features, expected {}", input.cols(),
           input_width_);
  activations_[0] = input;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(activations_[i], activations_[i + 1], mode);
  }
  return activations_.back();
}

template <class T>
void Network<T>::backward(const Matrix<T>& output_gradient) {
  backward_through(activations_, output_gradient);
}

template <class T>
void Network<T>::backward_through(const std::vector<Matrix<T>>& acts, const Matrix<T>& output_gradient) {
  NS_CHECK(output_gradient.rows() == acts.back().rows() && output_gradient.cols() == output_width_,
           "output gradient is {} x {}, expected {} x {}", output_gradient.rows(), output_gradient.cols(),
           acts.back().rows(), output_width_);
  // One buffer per layer boundary: same shapes every step, so nothing is reallocated or copied.
  const Matrix<T>* dout = &output_gradient;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    // The input layer's gradient is never needed.
    Matrix<T>* din = i > 0 ? &deltas_[i] : nullptr;
    layers_[i]->backward(acts[i], acts[i + 1], *dout, din);
    dout = din;
  }
}

template <class T>
bool Network<T>::rows_independent() const {
  for (const auto& layer : layers_) {
    if (!layer->rows_independent()) return false;
  }
  return true;
}

template <class T>
void Network<T>::backward_rows(const Matrix<T>& output_gradient, std::span<const Index> active) {
  NS_CHECK(rows_independent(), "backward_rows needs row-independent layers (no batch norm)");
  const Index n = static_cast<Index>(active.size());
  active_activations_.resize(activations_.size());
  for (std::size_t i = 0; i < activations_.size(); ++i) {
    const Matrix<T>& all = activations_[i];
    Matrix<T>& part = active_activations_[i];
    part.resize(n, all.cols());
    for (Index k = 0; k < n; ++k) {
      const Index r = active[static_cast<std::size_t>(k)];
      NS_CHECK(r >= 0 && r < all.rows(), "active row {} outside the last forward's {} rows", r, all.rows());
      std::copy_n(all.data() + r * all.cols(), all.cols(), part.data() + k * all.cols());
    }
  }
  backward_through(active_activations_, output_gradient);
}

template <class T>
std::vector<NamedWeight<T>> Network<T>::weights() const {
  std::vector<NamedWeight<T>> result;
  for (const auto& layer : layers_) {
    if (auto w = layer->weight()) {
      result.push_back({"layer" + std::to_string(result.size() + 1), *w});
    }
  }
  return result;
}

template <class T>
std::vector<NamedWeight<T>> Network<T>::biases() const {
  std::vector<NamedWeight<T>> result;
  Index weighted = 0;
  for (const auto& layer : layers_) {
    if (layer->weight()) ++weighted;
    if (auto b = layer->bias()) result.push_back({"layer" + std::to_string(weighted), *b});
  }
  return result;
}

template <class T>
std::vector<T> Network<T>::layer_state() const {
  std::vector<T> state;
  for (const auto& layer : layers_) {
    for (const std::vector<T>* part : layer->state()) state.insert(state.end(), part->begin(), part->end());
  }
  return state;
}

template <class T>
void Network<T>::set_layer_state(const std::vector<T>& state) {
  std::size_t total = 0;
  for (const auto& layer : layers_) {
    for (const std::vector<T>* part : layer->state()) total += part->size();
  }
  NS_CHECK(state.size() == total, "layer state has {} values, but this network's layers keep {}", state.size(),
           total);
  auto next = state.begin();
  for (const auto& layer : layers_) {
    for (std::vector<T>* part : layer->state()) {
      std::copy(next, next + static_cast<std::ptrdiff_t>(part->size()), part->begin());
      next += static_cast<std::ptrdiff_t>(part->size());
    }
  }
}

template <class T>
double Network<T>::squared_norm() const {
  double sum = 0.0;
  for (T v : params_) sum += static_cast<double>(v) * static_cast<double>(v);
  return sum;
}

template <class T>
std::string Network<T>::first_nonfinite_layer() const {
  Index weighted = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Index begin = offsets_[i];
    const Index end = begin + layers_[i]->parameter_count();
    if (layers_[i]->weight()) ++weighted;
    for (Index k = begin; k < end; ++k) {
      if (!std::isfinite(static_cast<double>(params_[static_cast<std::size_t>(k)]))) {
        return "layer" + std::to_string(weighted) + " (" + layers_[i]->kind() + ")";
      }
    }
  }
  return {};
}

template <class T>
std::unique_ptr<Network<T>> make_mlp(const MlpSpec& spec) {
  NS_CHECK(spec.inputs > 0 && spec.outputs > 0, "an MLP needs inputs and outputs (got {} and {})",
           spec.inputs, spec.outputs);
  NS_CHECK(spec.activation == "relu" || spec.activation == "identity",
           "model.activation: expected relu or identity, got '{}'", spec.activation);
  std::vector<std::unique_ptr<Layer<T>>> layers;
  Index width = spec.inputs;
  for (Index hidden : spec.hidden) {
    NS_CHECK(hidden > 0, "model.hidden: every width must be positive, got {}", hidden);
    layers.push_back(std::make_unique<Dense<T>>(width, hidden, spec.bias));
    if (spec.activation == "relu") layers.push_back(std::make_unique<Relu<T>>());
    width = hidden;
  }
  layers.push_back(std::make_unique<Dense<T>>(width, spec.outputs, spec.bias));
  return std::make_unique<Network<T>>(spec.inputs, std::move(layers));
}

template class Network<float>;
template class Network<double>;
template std::unique_ptr<Network<float>> make_mlp<float>(const MlpSpec&);
template std::unique_ptr<Network<double>> make_mlp<double>(const MlpSpec&);

}  // namespace normscale
