// Batch normalisation with statistics accumulated in double, so that the sums a reducer adds over
// ranks give the same normalisation as one rank holding the whole batch.
#include "normscale/model/batch_norm.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/team_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace normscale {

template <class T>
BatchNorm<T>::BatchNorm(Index channels, Index spatial, BatchNormOptions options)
    : channels_(channels), spatial_(spatial), options_(std::move(options)) {
  NS_CHECK(channels_ > 0 && spatial_ > 0, "batch norm needs positive channels and spatial size, got {} and {}",
           channels_, spatial_);
  NS_CHECK(options_.eps > 0, "batch norm eps must be positive, got {}", options_.eps);
  NS_CHECK(options_.momentum >= 0 && options_.momentum <= 1, "batch norm momentum must lie in [0, 1], got {}",
           options_.momentum);
  const auto c = static_cast<std::size_t>(channels_);
  running_mean_.assign(c, T(0));
  running_var_.assign(c, T(1));
  mean_.assign(c, 0.0);
  inv_std_.assign(c, 1.0);
}

template <class T>
std::string BatchNorm<T>::kind() const {
  std::string name = synchronized() ? "sync-batch-norm" : "batch-norm";
  return options_.affine ? name + "-affine" : name;
}

template <class T>
void BatchNorm<T>::bind(T* params, T* grads) {
  if (!options_.affine) return;
  gamma_ = params;
  beta_ = params + channels_;
  dgamma_ = grads;
  dbeta_ = grads + channels_;
}

template <class T>
void BatchNorm<T>::initialize(const InitSpec&, RandomStream&) {
  if (options_.affine) {
    std::fill(gamma_, gamma_ + channels_, T(1));
    std::fill(beta_, beta_ + channels_, T(0));
  }
  std::fill(running_mean_.begin(), running_mean_.end(), T(0));
  std::fill(running_var_.begin(), running_var_.end(), T(1));
}

template <class T>
void BatchNorm<T>::reduce(std::span<double> sums) const {
  if (options_.reducer) options_.reducer(sums);
}

template <class T>
void BatchNorm<T>::check_width(const Matrix<T>& in) const {
  NS_CHECK(in.cols() == channels_ * spatial_,
           "batch norm input has {} features, expected {} channels x {} = {}; hint: check the layer's "
           "shape against the previous layer's output",
           in.cols(), channels_, spatial_, channels_ * spatial_);
}

template <class T>
void BatchNorm<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode mode) {
  check_width(in);
  const Index rows = in.rows();
  const Index cols = in.cols();
  const Index c_count = channels_;
  last_mode_ = mode;
  if (mode != Mode::kEval) {
    // [count | sum | sum of squares], one entry per channel, summed over rows and positions.
    sums_.assign(static_cast<std::size_t>(3 * c_count), 0.0);
    double* count = sums_.data();
    double* sum = count + c_count;
    double* sum_sq = sum + c_count;
    // Split over the team by channel: each channel's sums are added in row order whatever the split.
    for_each_range(c_count, indices_per_thread(rows * spatial_),
                   [&](Index begin, Index end) { add_statistics(in, sum, sum_sq, begin, end); });
    std::fill(count, count + c_count, static_cast<double>(rows * spatial_));
    reduce(sums_);
    const double n = count[0];
    count_ = n;
    NS_CHECK(n > 1, "batch norm in training mode needs more than one value per channel, got {}; hint: use a "
             "larger batch or eval mode", n);
    const double m = options_.momentum;
    for (Index c = 0; c < c_count; ++c) {
      const auto i = static_cast<std::size_t>(c);
      const double mean = sum[c] / n;
      const double var = std::max(sum_sq[c] / n - mean * mean, 0.0);  // biased, as used to normalise
      mean_[i] = mean;
      inv_std_[i] = 1.0 / std::sqrt(var + options_.eps);
      if (mode != Mode::kTrain) continue;
      running_mean_[i] = static_cast<T>((1 - m) * static_cast<double>(running_mean_[i]) + m * mean);
      running_var_[i] = static_cast<T>((1 - m) * static_cast<double>(running_var_[i]) + m * var * n / (n - 1));
    }
  } else {
    for (std::size_t i = 0; i < mean_.size(); ++i) {
      mean_[i] = static_cast<double>(running_mean_[i]);
      inv_std_[i] = 1.0 / std::sqrt(static_cast<double>(running_var_[i]) + options_.eps);
    }
  }
  out.resize(rows, cols);
  for_each_range(rows, indices_per_thread(cols), [&](Index begin, Index end) { normalise_rows(in, out, begin, end); });
}

template <class T>
void BatchNorm<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  check_width(in);
  const Index rows = in.rows();
  const Index cols = in.cols();
  const Index c_count = channels_;
  // Per channel: sum of dy and of dy * x_hat over this rank's rows.
  sums_.assign(static_cast<std::size_t>(2 * c_count), 0.0);
  double* sum_dy = sums_.data();
  double* sum_dy_xhat = sum_dy + c_count;
  for_each_range(c_count, indices_per_thread(rows * spatial_), [&](Index begin, Index end) {
    add_gradient_sums(in, dout, sum_dy, sum_dy_xhat, begin, end);
  });
  if (options_.affine) {
    for (Index c = 0; c < c_count; ++c) {
      dgamma_[c] = static_cast<T>(sum_dy_xhat[c]);
      dbeta_[c] = static_cast<T>(sum_dy[c]);
    }
  }
  if (din == nullptr) return;
  din->resize(rows, cols);
  if (last_mode_ == Mode::kEval) {
    // Fixed statistics: the layer is affine in its input.
    for (Index r = 0; r < rows; ++r) {
      const T* dy = dout.data() + r * cols;
      T* dx = din->data() + r * cols;
      for (Index c = 0; c < c_count; ++c) {
        const double scale = inv_std_[static_cast<std::size_t>(c)] * (options_.affine ? static_cast<double>(gamma_[c]) : 1.0);
        for (Index k = 0; k < spatial_; ++k) {
          const Index j = c * spatial_ + k;
          dx[j] = static_cast<T>(static_cast<double>(dy[j]) * scale);
        }
      }
    }
    return;
  }
  // The statistics depend on every row of the global batch, so the input gradient needs the global
  // sums; gamma is a common factor of both and of the result.
  NS_CHECK(count_ > 0, "batch norm backward in training mode needs a training forward first");
  reduce(sums_);
  for_each_range(rows, indices_per_thread(cols), [&](Index begin, Index end) {
    input_gradient_rows(in, dout, sum_dy, sum_dy_xhat, *din, begin, end);
  });
}

namespace {

// first += sum of terms(k).first, second += sum of terms(k).second over k < n, in a fixed order that vectorises (in
// double, where a single running sum is one dependent add per value): eight interleaved partial sums, combined
// pairwise, then the n mod 8 last terms in order. Below eight terms that is the plain sum in order.
template <class Terms>
inline void add_two_sums(Index n, double& first, double& second, Terms terms) {
  constexpr Index kLanes = 8;
  double a[kLanes] = {}, b[kLanes] = {};
  Index k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (Index l = 0; l < kLanes; ++l) {
      const auto [u, v] = terms(k + l);
      a[l] += u;
      b[l] += v;
    }
  }
  double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  double q = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
  for (; k < n; ++k) {
    const auto [u, v] = terms(k);
    s += u;
    q += v;
  }
  first += s;
  second += q;
}

}  // namespace

// The passes are member functions of their own, kept out of line: inlined into for_each_range's trampoline the
// single-threaded ConvNet step ran 8% slower (Zen 5, GCC 12), as the convolution's im2col did (conv2d.cpp).

template <class T>
[[gnu::noinline]] void BatchNorm<T>::add_statistics(const Matrix<T>& in, double* sum, double* sum_sq, Index begin,
                                                    Index end) const {
  const Index cols = in.cols();
  for (Index r = 0; r < in.rows(); ++r) {
    const T* x = in.data() + r * cols;
    for (Index c = begin; c < end; ++c) {
      const T* __restrict values = x + c * spatial_;
      add_two_sums(spatial_, sum[c], sum_sq[c], [values](Index k) {
        const double v = static_cast<double>(values[k]);
        return std::pair{v, v * v};
      });
    }
  }
}

template <class T>
[[gnu::noinline]] void BatchNorm<T>::normalise_rows(const Matrix<T>& in, Matrix<T>& out, Index begin,
                                                    Index end) const {
  const Index cols = in.cols();
  for (Index r = begin; r < end; ++r) {
    const T* x = in.data() + r * cols;
    T* y = out.data() + r * cols;
    for (Index c = 0; c < channels_; ++c) {
      const auto i = static_cast<std::size_t>(c);
      double scale = inv_std_[i];
      double shift = -mean_[i] * inv_std_[i];
      if (options_.affine) {
        scale *= static_cast<double>(gamma_[c]);
        shift = shift * static_cast<double>(gamma_[c]) + static_cast<double>(beta_[c]);
      }
      for (Index k = 0; k < spatial_; ++k) {
        const Index j = c * spatial_ + k;
        y[j] = static_cast<T>(static_cast<double>(x[j]) * scale + shift);
      }
    }
  }
}

template <class T>
[[gnu::noinline]] void BatchNorm<T>::add_gradient_sums(const Matrix<T>& in, const Matrix<T>& dout, double* sum_dy,
                                                       double* sum_dy_xhat, Index begin, Index end) const {
  const Index cols = in.cols();
  for (Index r = 0; r < in.rows(); ++r) {
    const T* x = in.data() + r * cols;
    const T* dy = dout.data() + r * cols;
    for (Index c = begin; c < end; ++c) {
      const auto i = static_cast<std::size_t>(c);
      const T* __restrict values = x + c * spatial_;
      const T* __restrict gradient = dy + c * spatial_;
      const double mean = mean_[i], inv_std = inv_std_[i];
      add_two_sums(spatial_, sum_dy[c], sum_dy_xhat[c], [=](Index k) {
        const double g = static_cast<double>(gradient[k]);
        return std::pair{g, g * (static_cast<double>(values[k]) - mean) * inv_std};
      });
    }
  }
}

template <class T>
[[gnu::noinline]] void BatchNorm<T>::input_gradient_rows(const Matrix<T>& in, const Matrix<T>& dout,
                                                         const double* sum_dy, const double* sum_dy_xhat,
                                                         Matrix<T>& din, Index begin, Index end) const {
  const Index cols = in.cols();
  const double total = count_;
  for (Index r = begin; r < end; ++r) {
    const T* x = in.data() + r * cols;
    const T* dy = dout.data() + r * cols;
    T* dx = din.data() + r * cols;
    for (Index c = 0; c < channels_; ++c) {
      const auto i = static_cast<std::size_t>(c);
      const double gamma = options_.affine ? static_cast<double>(gamma_[c]) : 1.0;
      const double scale = gamma * inv_std_[i];
      const double mean_dy = sum_dy[c] / total;
      const double mean_dy_xhat = sum_dy_xhat[c] / total;
      for (Index k = 0; k < spatial_; ++k) {
        const Index j = c * spatial_ + k;
        const double xhat = (static_cast<double>(x[j]) - mean_[i]) * inv_std_[i];
        dx[j] = static_cast<T>(scale * (static_cast<double>(dy[j]) - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
}

template class BatchNorm<float>;
template class BatchNorm<double>;

}  // namespace normscale
