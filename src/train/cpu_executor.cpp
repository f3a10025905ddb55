// The step's arithmetic on the CPU (see cpu_executor.hpp).
#include "normscale/train/cpu_executor.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/stopwatch.hpp"

#include <Eigen/Core>

namespace normscale {

namespace {

constexpr Index kEvalChunk = 4096;

template <class T>
double squared_norm_of(const std::vector<T>& v) {
  return Eigen::Map<const Vector<T>>(v.data(), static_cast<Index>(v.size())).template cast<double>().squaredNorm();
}

}  // namespace

template <class T>
CpuExecutor<T>::CpuExecutor(double momentum, Communicator& comm, const Dataset& train, Network<T>& network,
                            Objective<T>& objective)
    : comm_(comm), train_(train), network_(network), objective_(objective), optimizer_(0.0, momentum) {}

template <class T>
void CpuExecutor<T>::load_rows(std::span<const Index> rows) {
  rows_.assign(rows.begin(), rows.end());
  x_.resize(static_cast<Index>(rows_.size()), train_.cols);
  for (std::size_t k = 0; k < rows_.size(); ++k) {
    x_.row(static_cast<Index>(k)) = ConstMatrixMap<float>(train_.row(rows_[k]), 1, train_.cols).template cast<T>();
  }
}

template <class T>
void CpuExecutor<T>::forward(Mode mode) {
  outputs_ = &network_.forward(x_, mode);
}

template <class T>
void CpuExecutor<T>::update_multipliers() {
  const Stopwatch time;
  curvature_.clear();
  if (objective_.traits().curvature_step) {
    // ||h||^2 + 1 per example, h the last layer's input in the last forward: the squared norm of the example's
    // gradient of its outputs with respect to the last layer's weights and bias.
    const Matrix<T>& h = network_.activation(network_.layer_count() - 1);
    for (Index k = 0; k < h.rows(); ++k) curvature_.push_back(1.0 + h.row(k).template cast<double>().squaredNorm());
  }
  objective_.update_multipliers(train_, rows_, *outputs_, curvature_);
  times_.multiplier += time.seconds();
}

template <class T>
void CpuExecutor<T>::output_gradient(double scale, bool skip_zero_rows, bool lagged_update) {
  objective_.output_gradient(train_, rows_, *outputs_, scale, output_grad_);
  loss_sum_ = objective_.loss_sum(train_, rows_, *outputs_);
  // Which rows have a nonzero output gradient: decided with the multipliers that made output_grad_,
  // before the lagged update changes them.
  active_.clear();
  skip_ = skip_zero_rows;
  if (skip_) {
    for (std::size_t k = 0; k < rows_.size(); ++k) {
      if (!objective_.gradient_is_zero(train_.first_id + rows_[k])) active_.push_back(static_cast<Index>(k));
    }
    skip_ = active_.size() < rows_.size();
  }
  if (lagged_update) update_multipliers();
}

template <class T>
BackwardResult CpuExecutor<T>::backward_and_reduce(bool sample_noise) {
  BackwardResult result;
  result.loss_sum = loss_sum_;
  if (!skip_) {
    network_.backward(output_grad_);
    result.backward_rows = static_cast<Index>(rows_.size());
  } else {
    // Support-vector skipping (ALGORITHMS §1): the zero rows contribute nothing to the weight gradient.
    const Index n = static_cast<Index>(active_.size());
    active_grad_.resize(n, output_grad_.cols());
    for (Index k = 0; k < n; ++k) active_grad_.row(k) = output_grad_.row(active_[static_cast<std::size_t>(k)]);
    network_.backward_rows(active_grad_, active_);
    result.backward_rows = n;
  }
  auto& grad = network_.gradient();
  if (sample_noise) local_grad_sq_ = squared_norm_of(grad);
  const Stopwatch time;
  comm_.allreduce_sum(std::span<T>(grad.data(), grad.size()));
  times_.comm += time.seconds();
  result.bytes_reduced = static_cast<double>(grad.size() * sizeof(T));
  return result;
}

template <class T>
void CpuExecutor<T>::update_parameters(double lr, double l2) {
  optimizer_.set_lr(lr);
  network_.update_parameters([&](std::vector<T>& params, std::span<std::uint16_t> rounded) {
    optimizer_.step(params, network_.gradient(), l2, rounded);
  });
}

template <class T>
std::vector<BlockDots> CpuExecutor<T>::block_dots(std::span<const ParameterBlock> blocks) {
  const T* w = network_.parameters().data();
  const T* g = network_.gradient().data();
  std::vector<BlockDots> dots;
  for (const ParameterBlock& block : blocks) {
    BlockDots d;
    for (Index i = block.offset; i < block.offset + block.size; ++i) {
      const double wi = static_cast<double>(w[i]), gi = static_cast<double>(g[i]);
      d.ww += wi * wi;
      d.wg += wi * gi;
      d.gg += gi * gi;
    }
    dots.push_back(d);
  }
  return dots;
}

template <class T>
void CpuExecutor<T>::update_blocks(std::span<const ParameterBlock> blocks, std::span<const ScaleAdd> steps, double lr,
                                   double l2) {
  T* w = network_.mutable_parameters().data();
  const T* g = network_.gradient().data();
  const auto plain = [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) w[i] -= static_cast<T>(lr) * (g[i] + static_cast<T>(l2) * w[i]);
  };
  Index done = 0;
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    plain(done, blocks[k].offset);
    const T a = static_cast<T>(steps[k].a), b = static_cast<T>(steps[k].b);
    for (Index i = blocks[k].offset; i < blocks[k].offset + blocks[k].size; ++i) w[i] = a * w[i] + b * g[i];
    done = blocks[k].offset + blocks[k].size;
  }
  plain(done, static_cast<Index>(network_.parameters().size()));
}

template <class T>
GradientNorms CpuExecutor<T>::gradient_norms() {
  return {local_grad_sq_, squared_norm_of(network_.gradient())};
}

template <class T>
ExecutorTimes CpuExecutor<T>::take_times() {
  const ExecutorTimes times = times_;
  times_ = {};
  return times;
}

template <class T>
template <class Visit>
void CpuExecutor<T>::forward_chunks(const Dataset& data, Visit&& visit) {
  Matrix<T> x;
  std::vector<Index> rows;
  for (Index begin = 0; begin < data.rows; begin += kEvalChunk) {
    const Index end = std::min(data.rows, begin + kEvalChunk);
    rows.resize(static_cast<std::size_t>(end - begin));
    for (Index r = begin; r < end; ++r) rows[static_cast<std::size_t>(r - begin)] = r;
    x = ConstMatrixMap<float>(data.row(begin), end - begin, data.cols).template cast<T>();
    visit(rows, network_.forward(x, Mode::kEval));
  }
}

template <class T>
void CpuExecutor<T>::forward_each_chunk(const Dataset& data, const ChunkVisitor<T>& visit) {
  const std::size_t last = network_.layer_count() - 1;
  forward_chunks(data, [&](const std::vector<Index>& rows, const Matrix<T>& f) {
    visit(rows, f, network_.activation(last));
  });
}

template <class T>
LocalEvaluation CpuExecutor<T>::evaluate(const Dataset& data, DualTerms* dual) {
  NS_CHECK(dual == nullptr || &data == &train_, "the dual terms are the training set's");
  LocalEvaluation local;
  if (dual != nullptr) *dual = {};
  forward_chunks(data, [&](const std::vector<Index>& rows, const Matrix<T>& f) {
    local.count += static_cast<double>(rows.size());
    local.errors += static_cast<double>(count_errors(data, rows, f));
    local.loss_sum += objective_.loss_sum(data, rows, f);
    if (dual == nullptr) return;
    const DualTerms chunk = objective_.dual_terms_sum(train_, rows, f);
    dual->lagrangian += chunk.lagrangian;
    dual->violated += chunk.violated;
    dual->slackness += chunk.slackness;
  });
  return local;
}

template <class T>
double CpuExecutor<T>::squared_norm() {
  return network_.squared_norm();
}

template <class T>
Index CpuExecutor<T>::support_count() {
  const MultiplierStore* store = objective_.multipliers();
  return store != nullptr ? store->support_count() : 0;
}

template class CpuExecutor<float>;
template class CpuExecutor<double>;

}  // namespace normscale
