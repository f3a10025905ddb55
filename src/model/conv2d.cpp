// Convolution by im2col + GEMM over the whole batch: forward Y = W cols, backward dW = dY cols^T and
// dcols = W^T dY folded back by col2im. Zero padding is written explicitly into the columns.
#include "normscale/model/conv2d.hpp"

#include "convolution_onednn.hpp"
#include "normscale/core/error.hpp"
#include "normscale/model/bf16_rounding.hpp"
#include "normscale/model/gemm.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/model/team_parallel.hpp"
#include "normscale/model/weight_norm.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

namespace normscale {

template <class T>
Conv2d<T>::Conv2d(FeatureMapShape input, Index out_channels, Index kernel, bool bias)
    : input_(input), out_channels_(out_channels), kernel_(kernel), bias_(bias) {
  NS_CHECK(input_.channels > 0 && input_.height > 0 && input_.width > 0,
           "conv2d needs a positive input shape, got {} x {} x {}", input_.channels, input_.height, input_.width);
  NS_CHECK(out_channels_ > 0, "conv2d needs positive output channels, got {}", out_channels_);
  NS_CHECK(kernel_ > 0 && kernel_ % 2 == 1, "conv2d kernel must be odd for 'same' padding, got {}", kernel_);
}

template <class T>
Conv2d<T>::~Conv2d() = default;

template <class T>
onednn::DirectConvolution* Conv2d<T>::direct() {
  if constexpr (std::is_same_v<T, float>) {
    if (active_convolution_kernel() == ConvolutionKernel::kOneDnnDirect) {
      if (direct_ == nullptr) {
        direct_ = std::make_unique<onednn::DirectConvolution>(input_.channels, input_.height, input_.width,
                                                              out_channels_, kernel_, bias_);
      }
      return direct_.get();
    }
  }
  return nullptr;
}

template <class T>
void Conv2d<T>::bind(T* params, T* grads) {
  const Index wn = out_channels_ * patch_size();
  w_ = params;
  dw_ = grads;
  b_ = bias_ ? params + wn : nullptr;
  db_ = bias_ ? grads + wn : nullptr;
}

template <class T>
void Conv2d<T>::initialize(const InitSpec& spec, RandomStream& rng) {
  const Index area = kernel_ * kernel_;
  draw_initial_weights<T>(MatrixMap<T>(w_, out_channels_, patch_size()), input_.channels * area,
                          out_channels_ * area, spec, rng);
  if (bias_) VectorMap<T>(b_, out_channels_).setZero();
}

namespace {

// One row of the columns for one example: `patch` (H x W) = the plane `src` (H x W) shifted by (oy, ox), zero where the
// shift leaves the plane. The rows that stay inside are one contiguous run of the plane: copied in one piece, then the
// |ox| columns that wrapped around from the neighbouring rows zeroed (per image row, a copy and two fills of 1-32
// values each took 14% of the ConvNet step in libc's call overhead).
template <class T>
inline void shifted_plane(const T* src, Index h, Index w, Index oy, Index ox, T* patch) {
  const Index y_begin = std::clamp<Index>(-oy, 0, h), y_end = std::clamp<Index>(h - oy, y_begin, h);
  const Index x_begin = std::clamp<Index>(-ox, 0, w), x_end = std::clamp<Index>(w - ox, x_begin, w);
  std::fill(patch, patch + y_begin * w, T(0));
  std::fill(patch + y_end * w, patch + h * w, T(0));
  if (y_begin == y_end) return;
  if (x_begin == x_end) {
    std::fill(patch + y_begin * w, patch + y_end * w, T(0));
    return;
  }
  // Element (y, x) of the run is src[(y + oy) * w + x + ox]; the run's first and last elements are those of the first
  // and last rows' valid columns, so it never reads outside the plane.
  const Index first = y_begin * w + x_begin, last = (y_end - 1) * w + x_end;
  std::copy(src + first + oy * w + ox, src + last + oy * w + ox, patch + first);
  for (Index y = y_begin; y < y_end; ++y) {
    T* row = patch + y * w;
    for (Index x = 0; x < x_begin; ++x) row[x] = T(0);
    for (Index x = x_end; x < w; ++x) row[x] = T(0);
  }
}

// The columns' rows [begin, end) (row c*k*k + ky*k + kx: channel c at kernel offset ky, kx) from the batch x (rows x
// C*H*W). Kept out of line, here and in col2im_channels: inlined into for_each_range's trampoline, where the sizes
// come from the closure, the single-threaded convolution ran 8-15% slower (col2im 1.5x; Zen 5, GCC 12).
template <class T, class Stored>
[[gnu::noinline]] void im2col_rows(const T* x, Index rows, FeatureMapShape input, Index k, Stored* columns,
                                   Index begin, Index end) {
  const Index h = input.height, w = input.width, hw = input.area(), pad = k / 2, in_cols = input.size();
  const Index cols = rows * hw;
  // bf16 columns: each example's H x W patch row built in float32 here (in cache), then rounded in one pass over it,
  // which vectorises; rounding each image row's piece as it was copied (8-32 values) ran the step 10% slower.
  constexpr bool kRounded = !std::is_same_v<T, Stored>;
  std::vector<T> patch_row(kRounded ? static_cast<std::size_t>(hw) : 0);
  for (Index row = begin; row < end; ++row) {
    const Index c = row / (k * k), ky = row / k % k, kx = row % k;
    Stored* dst_row = columns + row * cols;
    for (Index n = 0; n < rows; ++n) {
      const T* src = x + n * in_cols + c * hw;
      if constexpr (kRounded) {
        shifted_plane(src, h, w, ky - pad, kx - pad, patch_row.data());
        Stored* __restrict to = dst_row + n * hw;
        const T* __restrict from = patch_row.data();
        for (Index i = 0; i < hw; ++i) to[i] = bf16_bits(from[i]);
      } else {
        shifted_plane(src, h, w, ky - pad, kx - pad, dst_row + n * hw);
      }
    }
  }
}

// Adds the columns' rows of channels [begin, end) back into dx (rows x C*H*W), each channel's k x k rows in order.
template <class T>
[[gnu::noinline]] void col2im_channels(const T* columns, Index rows, FeatureMapShape input, Index k, T* dx,
                                       Index begin, Index end) {
  const Index h = input.height, w = input.width, hw = input.area(), pad = k / 2, in_cols = input.size();
  const Index cols = rows * hw;
  for (Index c = begin; c < end; ++c) {
    for (Index ky = 0; ky < k; ++ky) {
      for (Index kx = 0; kx < k; ++kx) {
        const Index oy = ky - pad, ox = kx - pad;
        const Index x_begin = std::max<Index>(0, -ox), x_end = std::min<Index>(w, w - ox);
        const T* src_row = columns + ((c * k + ky) * k + kx) * cols;
        for (Index n = 0; n < rows; ++n) {
          T* dst = dx + n * in_cols + c * hw;
          for (Index y = 0; y < h; ++y) {
            const Index yy = y + oy;
            if (yy < 0 || yy >= h) continue;
            const T* src = src_row + n * hw + y * w;
            T* d = dst + yy * w + ox;
            for (Index x = x_begin; x < x_end; ++x) d[x] += src[x];
          }
        }
      }
    }
  }
}

}  // namespace

template <class T>
void Conv2d<T>::im2col(const Matrix<T>& in) {
  const Index patch = patch_size(), m = in.rows() * input_.area();
  columns_.resize(patch, m);
  // Each row of the columns (one channel and kernel offset) on its own: split over the team.
  const T* x = in.data();
  const Index rows = in.rows(), k = kernel_;
  const FeatureMapShape input = input_;
  const auto write = [=](auto* columns) {
    for_each_range(patch, indices_per_thread(m),
                   [=](Index begin, Index end) { im2col_rows(x, rows, input, k, columns, begin, end); });
  };
  if constexpr (std::is_same_v<T, float>) {
    if (active_gemm_precision() == GemmPrecision::kBf16) {
      // Rounded as written: one pass instead of a float32 one and the product's rounding pass over it.
      columns16_.values.resize(static_cast<std::size_t>(patch * m));
      write(columns16_.values.data());
      columns16_.hold(columns16_.values.data(), columns_.data(), patch, m, m);
      columns_rounded_ = true;
      return;
    }
  }
  columns16_.source = nullptr;
  write(columns_.data());
  columns_rounded_ = false;
}

template <class T>
void Conv2d<T>::col2im(Matrix<T>& din) const {
  din.setZero();
  // Each input channel gathers its own k x k rows of the columns, in the same order whatever the split: split
  // over the team by channel, the sums are those of one thread.
  const T* columns = columns_.data();
  T* dx = din.data();
  const Index rows = din.rows(), k = kernel_;
  const FeatureMapShape input = input_;
  for_each_range(input_.channels, indices_per_thread(k * k * columns_.cols()),
                 [=](Index begin, Index end) { col2im_channels(columns, rows, input, k, dx, begin, end); });
}

template <class T>
void Conv2d<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  NS_CHECK(in.cols() == input_.size(), "conv2d input has {} features, expected {} x {} x {} = {}", in.cols(),
           input_.channels, input_.height, input_.width, input_.size());
  const Index rows = in.rows(), hw = input_.area();
  if constexpr (std::is_same_v<T, float>) {
    if (onednn::DirectConvolution* conv = direct()) {
      out.resize(rows, out_channels_ * hw);
      columns_of_ = nullptr;  // a backward on im2col builds its own columns
      conv->forward(in.data(), rows, w_, b_, out.data(), active_gemm_precision() == GemmPrecision::kBf16);
      return;
    }
  }
  im2col(in);
  columns_of_ = in.data(), columns_rows_ = rows;
  product_.resize(out_channels_, rows * hw);
  // product = W columns, through the GEMM back end chosen at start-up (and bf16 operands with precision = "bf16").
  const Index patch = patch_size(), m = rows * hw;
  gemm_keeping<T>({}, {&columns16_, CopyUse::kReuse}, false, false, out_channels_, m, patch, T(1), w_, patch,
                  columns_.data(), m, T(0), product_.data(), m);
  // GEMM layout (channel, example, pixel) -> batch layout (example, channel, pixel), by channel over the team.
  out.resize(rows, out_channels_ * hw);
  const T* product = product_.data();
  T* y = out.data();
  const T* bias = bias_ ? b_ : nullptr;
  const Index out_cols = out.cols();
  for_each_range(out_channels_, indices_per_thread(m), [=](Index begin, Index end) {
    for (Index co = begin; co < end; ++co) {
      const T b = bias != nullptr ? bias[co] : T(0);
      for (Index n = 0; n < rows; ++n) {
        const T* src = product + co * m + n * hw;
        T* dst = y + n * out_cols + co * hw;
        for (Index p = 0; p < hw; ++p) dst[p] = src[p] + b;
      }
    }
  });
}

template <class T>
void Conv2d<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  NS_CHECK(in.cols() == input_.size() && dout.cols() == output_shape().size() && dout.rows() == in.rows(),
           "conv2d backward: input {} x {} and output gradient {} x {} do not match the layer", in.rows(),
           in.cols(), dout.rows(), dout.cols());
  const Index rows = in.rows(), hw = input_.area();
  if constexpr (std::is_same_v<T, float>) {
    if (onednn::DirectConvolution* conv = direct()) {
      if (din != nullptr) din->resize(rows, input_.size());
      columns_of_ = nullptr;
      conv->backward(in.data(), rows, w_, dout.data(), dw_, db_, din != nullptr ? din->data() : nullptr,
                     active_gemm_precision() == GemmPrecision::kBf16);
      return;
    }
  }
  // Forward's columns where they are this input's (half the im2col traffic of a step), else built here. Only a
  // forward's are taken: backward's own input may be a buffer refilled between calls (Network::backward_rows).
  bool rounded = false;
  if constexpr (std::is_same_v<T, float>) rounded = active_gemm_precision() == GemmPrecision::kBf16;
  if (columns_of_ != in.data() || columns_rows_ != rows || columns_rounded_ != rounded) im2col(in);
  columns_of_ = nullptr;
  const Index patch = patch_size(), m = rows * hw;
  product_.resize(out_channels_, m);
  T* product = product_.data();
  const T* dy = dout.data();
  const Index dout_cols = dout.cols();
  for_each_range(out_channels_, indices_per_thread(m), [=](Index begin, Index end) {
    for (Index co = begin; co < end; ++co) {
      for (Index n = 0; n < rows; ++n) {
        std::memcpy(product + co * m + n * hw, dy + n * dout_cols + co * hw, static_cast<std::size_t>(hw) * sizeof(T));
      }
    }
  });
  // dW = dY columns^T; below, the input gradient's columns W^T dY.
  gemm_keeping<T>({&product16_, CopyUse::kRefresh}, {&columns16_, CopyUse::kReuse}, false, true, out_channels_, patch,
                  m, T(1), product_.data(), m, columns_.data(), m, T(0), dw_, patch);
  if (bias_) {
    // db = each channel's sum over examples and pixels, in order, split over the team by channel.
    T* db = db_;
    const T* gradient = product_.data();
    for_each_range(out_channels_, indices_per_thread(m), [=](Index begin, Index end) {
      for (Index co = begin; co < end; ++co) db[co] = std::accumulate(gradient + co * m, gradient + (co + 1) * m, T(0));
    });
  }
  if (din == nullptr) return;
  // The input gradient's columns overwrite the columns: their rounding no longer holds them.
  columns16_.source = nullptr;
  gemm_keeping<T>({}, {&product16_, CopyUse::kReuse}, true, false, patch, m, out_channels_, T(1), w_, patch,
                  product_.data(), m, T(0), columns_.data(), m);
  din->resize(rows, input_.size());
  col2im(*din);
}

template class Conv2d<float>;
template class Conv2d<double>;

}  // namespace normscale
