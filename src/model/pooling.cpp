// Max and average pooling over non-overlapping windows; backward re-derives the max positions from
// the input instead of keeping an index buffer from forward.
#include "normscale/model/pooling.hpp"

#include "normscale/core/error.hpp"

namespace normscale {

template <class T>
Pooling<T>::Pooling(FeatureMapShape input, PoolKind pool, Index window) : input_(input), pool_(pool), window_(window) {
  NS_CHECK(window_ > 0, "pooling window must be positive, got {}", window_);
  NS_CHECK(input_.channels > 0 && input_.height > 0 && input_.width > 0 && input_.height % window_ == 0 &&
               input_.width % window_ == 0,
           "pooling needs H and W to be positive multiples of the window {}, got {} x {} x {}", window_,
           input_.channels, input_.height, input_.width);
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

}  // namespace

template <class T>
void Pooling<T>::forward(const Matrix<T>& in, Matrix<T>& out, Mode) {
  NS_CHECK(in.cols() == input_.size(), "pooling input has {} features, expected {} x {} x {} = {}", in.cols(),
           input_.channels, input_.height, input_.width, input_.size());
  const FeatureMapShape o = output_shape();
  const Index rows = in.rows(), w = input_.width, win = window_;
  const T inv_area = T(1) / static_cast<T>(win * win);
  out.resize(rows, o.size());
  for (Index n = 0; n < rows; ++n) {
    for (Index c = 0; c < input_.channels; ++c) {
      const T* src = in.data() + n * in.cols() + c * input_.area();
      T* dst = out.data() + n * out.cols() + c * o.area();
      for (Index y = 0; y < o.height; ++y) {
        for (Index x = 0; x < o.width; ++x) {
          const T* corner = src + y * win * w + x * win;
          if (pool_ == PoolKind::kMax) {
            dst[y * o.width + x] = corner[argmax_in_window(corner, w, win)];
          } else {
            T sum = T(0);
            for (Index dy = 0; dy < win; ++dy) {
              for (Index dx = 0; dx < win; ++dx) sum += corner[dy * w + dx];
            }
            dst[y * o.width + x] = sum * inv_area;
          }
        }
      }
    }
  }
}

template <class T>
void Pooling<T>::backward(const Matrix<T>& in, const Matrix<T>&, const Matrix<T>& dout, Matrix<T>* din) {
  if (din == nullptr) return;
  const FeatureMapShape o = output_shape();
  NS_CHECK(in.cols() == input_.size() && dout.cols() == o.size() && dout.rows() == in.rows(),
           "pooling backward: input {} x {} and output gradient {} x {} do not match the layer", in.rows(),
           in.cols(), dout.rows(), dout.cols());
  const Index rows = in.rows(), w = input_.width, win = window_;
  const T inv_area = T(1) / static_cast<T>(win * win);
  din->resize(rows, input_.size());
  din->setZero();
  for (Index n = 0; n < rows; ++n) {
    for (Index c = 0; c < input_.channels; ++c) {
      const T* src = in.data() + n * in.cols() + c * input_.area();
      const T* g = dout.data() + n * dout.cols() + c * o.area();
      T* dst = din->data() + n * din->cols() + c * input_.area();
      for (Index y = 0; y < o.height; ++y) {
        for (Index x = 0; x < o.width; ++x) {
          const Index corner = y * win * w + x * win;
          const T grad = g[y * o.width + x];
          if (pool_ == PoolKind::kMax) {
            dst[corner + argmax_in_window(src + corner, w, win)] += grad;
          } else {
            for (Index dy = 0; dy < win; ++dy) {
              for (Index dx = 0; dx < win; ++dx) dst[corner + dy * w + dx] += grad * inv_area;
            }
          }
        }
      }
    }
  }
}

template class Pooling<float>;
template class Pooling<double>;

}  // namespace normscale
