// Max and average pooling over non-overlapping windows; backward re-derives the max positions from
// the input instead of keeping an index buffer from forward. Sides that are not multiples of the window
// lose their last rows / columns (floor, as PyTorch's pooling): they get no gradient.
#include "normscale/model/pooling.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/team_parallel.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>

namespace normscale {

template <class T>
Pooling<T>::Pooling(FeatureMapShape input, PoolKind pool, Index window) : input_(input), pool_(pool), window_(window) {
  NS_CHECK(window_ > 0, "pooling window must be positive, got {}", window_);
  NS_CHECK(input_.channels > 0 && input_.height >= window_ && input_.width >= window_,
           "pooling needs H and W of at least the window {}, got {} x {} x {}", window_, input_.channels,
           input_.height, input_.width);
}

namespace {

// Offset (dy * W + dx) of the first maximum in the window whose top-left corner is `corner`.
template <class T>
Index argmax_in_window(const T* corner, Index row_stride, Index window) {
  Index best = 0;
  T best_value = corner[0];
  for (Index dy = 0; dy < window; ++dy) {
    for (Index dx = 0; dx < window; ++dx) {
      const T v = corner[dy * row_stride + dx];
      if (v > best_value) {
        best_value = v;
        best = dy * row_stride + dx;
      }
    }
  }
  return best;
}

// Examples [begin, end) of the batch x (C x H x W each) pooled into y (C x H/window x W/window each, rounded down). Kept out of line
// like the convolution's im2col_rows (conv2d.cpp), and so is unpool_rows.
template <class T>
[[gnu::noinline]] void pool_rows(const T* x, FeatureMapShape input, PoolKind pool, Index win, T* y, Index begin,
                                 Index end) {
  const Index w = input.width, area = input.area(), oh = input.height / win, ow = input.width / win;
  const Index in_cols = input.size(), out_cols = input.channels * oh * ow;
  const T inv_area = T(1) / static_cast<T>(win * win);
  for (Index n = begin; n < end; ++n) {
    for (Index c = 0; c < input.channels; ++c) {
      const T* src = x + n * in_cols + c * area;
      T* dst = y + n * out_cols + c * oh * ow;
      for (Index oy = 0; oy < oh; ++oy) {
        for (Index ox = 0; ox < ow; ++ox) {
          const T* corner = src + oy * win * w + ox * win;
          if (pool == PoolKind::kMax) {
            dst[oy * ow + ox] = corner[argmax_in_window(corner, w, win)];
          } else {
            T sum = T(0);
            for (Index dy = 0; dy < win; ++dy) {
              for (Index dx = 0; dx < win; ++dx) sum += corner[dy * w + dx];
            }
            dst[oy * ow + ox] = sum * inv_area;
          }
        }
      }
    }
  }
}

// The input gradient dx of examples [begin, end) from the output gradient dy (the maxima re-derived from x).
template <class T>
[[gnu::noinline]] void unpool_rows(const T* x, const T* dy, FeatureMapShape input, PoolKind pool, Index win, T* dx,
                                   Index begin, Index end) {
  const Index w = input.width, area = input.area(), oh = input.height / win, ow = input.width / win;
  const Index in_cols = input.size(), out_cols = input.channels * oh * ow;
  const T inv_area = T(1) / static_cast<T>(win * win);
  std::fill(dx + begin * in_cols, dx + end * in_cols, T(0));
  for (Index n = begin; n < end; ++n) {
    for (Index c = 0; c < input.channels; ++c) {
      const T* src = x + n * in_cols + c * area;
      const T* g = dy + n * out_cols + c * oh * ow;
      T* dst = dx + n * in_cols + c * area;
      for (Index oy = 0; oy < oh; ++oy) {
        for (Index ox = 0; ox < ow; ++ox) {
          const Index corner = oy * win * w + ox * win;
          const T grad = g[oy * ow + ox];
          if (pool == PoolKind::kMax) {
            dst[corner + argmax_in_window(src + corner, w, win)] += grad;
          } else {
            for (Index ddy = 0; ddy < win; ++ddy) {
              for (Index ddx = 0; ddx < win; ++ddx) dst[corner + ddy * w + ddx] += grad * inv_area;
            }
          }
        }
      }
    }
  }
}

// The 2 x 2 max window (the ConvNet's), the same values as argmax_in_window's scan: each candidate taken where it
// is greater than the maximum so far, which the compiler emits as MAXPS (whose operand order keeps the earlier
// value on ties, signed zeros and NaN). An output row reads two input rows: row r of all channels' output rows is
// input rows 2r and 2r + 1, H and W being even (two_by_two_even).
template <class T>
[[gnu::noinline]] void max_pool_2x2_rows(const T* x, FeatureMapShape input, T* y, Index begin, Index end) {
  const Index w = input.width, ow = w / 2, out_rows = input.channels * (input.height / 2);
  for (Index n = begin; n < end; ++n) {
    const T* src = x + n * input.size();
    T* dst = y + n * out_rows * ow;
    for (Index r = 0; r < out_rows; ++r) {
      const T* __restrict top = src + 2 * r * w;
      const T* __restrict bottom = top + w;
      T* __restrict out = dst + r * ow;
      for (Index ox = 0; ox < ow; ++ox) {
        T m = top[2 * ox];
        m = top[2 * ox + 1] > m ? top[2 * ox + 1] : m;
        m = bottom[2 * ox] > m ? bottom[2 * ox] : m;
        m = bottom[2 * ox + 1] > m ? bottom[2 * ox + 1] : m;
        out[ox] = m;
      }
    }
  }
}

// Its input gradient: each window's gradient goes to its first maximum, 0 + dy as the generic path adds it to a
// zeroed dx, and every other entry is written 0 (no separate zeroing pass).
template <class T>
[[gnu::noinline]] void max_unpool_2x2_rows(const T* x, const T* dy, FeatureMapShape input, T* dx, Index begin,
                                           Index end) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  const Index w = input.width, ow = w / 2, out_rows = input.channels * (input.height / 2);
  for (Index n = begin; n < end; ++n) {
    const T* src = x + n * input.size();
    const T* g = dy + n * out_rows * ow;
    T* dst = dx + n * input.size();
    for (Index r = 0; r < out_rows; ++r) {
      const T* __restrict top = src + 2 * r * w;
      const T* __restrict bottom = top + w;
      const T* __restrict grad = g + r * ow;
      T* __restrict dtop = dst + 2 * r * w;
      T* __restrict dbottom = dtop + w;
      for (Index ox = 0; ox < ow; ++ox) {
        // No branches (the maxima's places are data: a branch per window mispredicts, and GCC makes branches of
        // value selects wherever it does not vectorise, as on the 16- and 8-wide maps): each entry is the gradient's
        // bits and-ed with an all-ones or all-zeros mask. `took_k`: the scan took candidate k (ab, abc: its maximum
        // after two and three candidates, MAXSS's selects); the first maximum is the last candidate taken.
        const T a = top[2 * ox], b = top[2 * ox + 1], c = bottom[2 * ox], d = bottom[2 * ox + 1];
        const T ab = b > a ? b : a;
        const T abc = c > ab ? c : ab;
        const Bits took_b = b > a, took_c = c > ab, took_d = d > abc;
        const Bits v = std::bit_cast<Bits>(T(0) + grad[ox]);
        const auto where = [v](Bits taken) { return std::bit_cast<T>(v & (Bits(0) - taken)); };  // v or +0
        dtop[2 * ox] = where(!(took_b | took_c | took_d));
        dtop[2 * ox + 1] = where(took_b & !(took_c | took_d));
        dbottom[2 * ox] = where(took_c & !took_d);
        dbottom[2 * ox + 1] = where(took_d);
      }
    }
  }
}

// The 2 x 2 max paths above: even sides, so that every input entry lies in one window.
bool two_by_two_even(FeatureMapShape input, PoolKind pool, Index win) {
  return pool == PoolKind::kMax && win == 2 && input.height % 2 == 0 && input.width % 2 == 0;
}

}  // namespace

template <class T>
void Pooling<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  NS_CHECK(in.cols() == input_.size(), "pooling input has {} features, expected {} x {} x {} = {}", in.cols(),
           input_.channels, input_.height, input_.width, input_.size());
  const Index rows = in.rows(), win = window_;
  out.resize(rows, output_shape().size());
  const T* x = in.data();
  T* y = out.data();
  const FeatureMapShape input = input_;
  const PoolKind pool = pool_;
  // Each example on its own: split over the GEMMs' team.
  if (two_by_two_even(input, pool, win)) {
    for_each_range(rows, indices_per_thread(in.cols()),
                   [=](Index begin, Index end) { max_pool_2x2_rows(x, input, y, begin, end); });
    return;
  }
  for_each_range(rows, indices_per_thread(in.cols()),
                 [=](Index begin, Index end) { pool_rows(x, input, pool, win, y, begin, end); });
}

template <class T>
void Pooling<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  if (din == nullptr) return;
  const FeatureMapShape o = output_shape();
  NS_CHECK(in.cols() == input_.size() && dout.cols() == o.size() && dout.rows() == in.rows(),
           "pooling backward: input {} x {} and output gradient {} x {} do not match the layer", in.rows(),
           in.cols(), dout.rows(), dout.cols());
  const Index rows = in.rows(), win = window_;
  din->resize(rows, input_.size());
  const T* x = in.data();
  const T* dy = dout.data();
  T* dx = din->data();
  const FeatureMapShape input = input_;
  const PoolKind pool = pool_;
  // Each example on its own: split over the GEMMs' team.
  if (two_by_two_even(input, pool, win)) {
    for_each_range(rows, indices_per_thread(in.cols()),
                   [=](Index begin, Index end) { max_unpool_2x2_rows(x, dy, input, dx, begin, end); });
    return;
  }
  for_each_range(rows, indices_per_thread(in.cols()),
                 [=](Index begin, Index end) { unpool_rows(x, dy, input, pool, win, dx, begin, end); });
}

template class Pooling<float>;
template class Pooling<double>;

}  // namespace normscale
