// oneDNN's direct convolution behind Conv2d<float>; stubs where this build has no oneDNN.
#include "convolution_onednn.hpp"

#include "normscale/core/error.hpp"

#ifdef NORMSCALE_HAVE_ONEDNN
#include "gemm_onednn.hpp"
#include "onednn_engine.hpp"

#include <cstddef>
#include <cstdlib>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#endif

namespace normscale::onednn {

#ifdef NORMSCALE_HAVE_ONEDNN

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using desc = dnnl::memory::desc;

// A 64-byte aligned buffer that only grows: one per layout a layer's passes need, shared by the plans of every row
// count (a plan of its own per row count would hold a copy of the evaluation chunk's activations each).
class Buffer {
 public:
  void* at_least(std::size_t bytes) {
    if (bytes > size_) {
      const std::size_t rounded = (bytes + 63) / 64 * 64;
      data_.reset(std::aligned_alloc(64, rounded));
      NS_CHECK(data_ != nullptr, "direct convolution: could not allocate {} bytes", rounded);
      size_ = rounded;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data_;
  std::size_t size_ = 0;
};

dnnl::memory wrap(const desc& d, const void* data) {
  return dnnl::memory(d, cpu_engine(), const_cast<void*>(data));  // oneDNN's handles are void*; inputs are only read
}

// Copies `from` (layout a) into `to` (layout b): a reorder made once per plan, or nothing where the layouts agree
// (then the pass reads or writes the caller's memory directly).
struct Copy {
  std::optional<dnnl::reorder> reorder;
  Copy() = default;
  Copy(const desc& a, const desc& b) {
    if (a != b) reorder.emplace(dnnl::reorder::primitive_desc(cpu_engine(), a, cpu_engine(), b));
  }
  bool needed() const { return reorder.has_value(); }
  void run(const desc& a, const void* from, const desc& b, void* to) const {
    dnnl::memory source = wrap(a, from), target = wrap(b, to);
    reorder->execute(cpu_stream(), source, target);
  }
};

// The primitives of one row count and precision (and OpenMP team size: oneDNN splits the work at creation).
struct Plan {
  desc planar_src, planar_dst, planar_weights;  // the caller's layouts, f32
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_forward forward;
  Copy to_src, to_weights, from_dst;
  // Backward, made on first use; the input gradient's pass only where one is asked for.
  std::optional<dnnl::convolution_backward_weights::primitive_desc> weights_pd;
  std::optional<dnnl::convolution_backward_weights> backward_weights;
  Copy to_weights_src, to_diff_dst, from_diff_weights;
  std::optional<dnnl::convolution_backward_data::primitive_desc> data_pd;
  std::optional<dnnl::convolution_backward_data> backward_data;
  Copy to_data_diff_dst, to_data_weights, from_diff_src;
  bool data_shares_diff_dst = false;  // backward data reads the weights pass's copy of dy
};

}  // namespace

std::string convolution_description() { return described("direct convolution"); }

struct DirectConvolution::State {
  Index channels, height, width, out_channels, kernel;
  bool bias;
  std::map<std::tuple<Index, bool, int>, Plan> plans;
  struct {
    Buffer src, weights, dst, diff_dst, data_diff_dst, data_weights, diff_src, diff_weights;
  } buffers;
  // The input whose copy buffers.src holds in the forward kernels' layout, until a backward took it.
  const float* src_of = nullptr;
  Index src_rows = 0;
  bool src_bf16 = false;

  dnnl::memory::dims dims(Index rows, Index c) const { return {rows, c, height, width}; }
  dnnl::memory::dims weight_dims() const { return {out_channels, channels, kernel, kernel}; }
  // Stride 1 and "same" padding, k / 2 on every side.
  static dnnl::memory::dims stride() { return {1, 1}; }
  dnnl::memory::dims padding() const { return {kernel / 2, kernel / 2}; }

  Plan& plan(Index rows, bool bf16) {
    const std::tuple<Index, bool, int> key{rows, bf16, threads()};
    auto found = plans.find(key);
    if (found != plans.end()) return found->second;
    if (plans.size() >= 8) plans.clear();  // row counts come and go (evaluation chunks); keep the map small
    const dt operands = bf16 ? dt::bf16 : dt::f32;
    const dnnl::memory::dims w_dims = weight_dims(), pad = padding();
    Plan p;
    p.planar_src = desc(dims(rows, channels), dt::f32, tag::nchw);
    p.planar_dst = desc(dims(rows, out_channels), dt::f32, tag::nchw);
    p.planar_weights = desc(w_dims, dt::f32, tag::oihw);
    const desc src(dims(rows, channels), operands, tag::any), weights(w_dims, operands, tag::any),
        dst(dims(rows, out_channels), dt::f32, tag::any);
    const desc bias_desc = bias ? desc({out_channels}, dt::f32, tag::x) : desc();
    p.forward_pd = dnnl::convolution_forward::primitive_desc(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src,
                                        weights, bias_desc, dst, stride(), pad, pad),
        cpu_engine());
    p.forward = dnnl::convolution_forward(p.forward_pd);
    p.to_src = Copy(p.planar_src, p.forward_pd.src_desc());
    p.to_weights = Copy(p.planar_weights, p.forward_pd.weights_desc());
    p.from_dst = Copy(p.forward_pd.dst_desc(), p.planar_dst);
    return plans.emplace(key, std::move(p)).first->second;
  }

  void add_backward(Plan& p, Index rows, bool bf16, bool data) {
    const dt operands = bf16 ? dt::bf16 : dt::f32;
    const dnnl::memory::dims w_dims = weight_dims(), pad = padding();
    const desc src(dims(rows, channels), operands, tag::any), diff_dst(dims(rows, out_channels), operands, tag::any);
    if (!p.backward_weights) {
      const desc diff_weights(w_dims, dt::f32, tag::any);
      const desc diff_bias = bias ? desc({out_channels}, dt::f32, tag::x) : desc();
      p.weights_pd.emplace(
          dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src, diff_weights, diff_bias,
                                                   diff_dst, stride(), pad, pad),
          cpu_engine(), p.forward_pd);
      p.backward_weights.emplace(*p.weights_pd);
      p.to_weights_src = Copy(p.planar_src, p.weights_pd->src_desc());
      p.to_diff_dst = Copy(p.planar_dst, p.weights_pd->diff_dst_desc());
      p.from_diff_weights = Copy(p.weights_pd->diff_weights_desc(), p.planar_weights);
    }
    if (data && !p.backward_data) {
      const desc weights(w_dims, operands, tag::any), diff_src(dims(rows, channels), dt::f32, tag::any);
      p.data_pd.emplace(dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, diff_src, weights,
                                                              diff_dst, stride(), pad, pad),
                        cpu_engine(), p.forward_pd);
      p.backward_data.emplace(*p.data_pd);
      p.data_shares_diff_dst = p.data_pd->diff_dst_desc() == p.weights_pd->diff_dst_desc();
      p.to_data_diff_dst = Copy(p.planar_dst, p.data_pd->diff_dst_desc());
      p.to_data_weights = Copy(p.planar_weights, p.data_pd->weights_desc());
      p.from_diff_src = Copy(p.data_pd->diff_src_desc(), p.planar_src);
    }
  }
};

namespace {

// `from` in layout b: copied into `buffer` where the layouts differ, else `from` itself.
const void* in_layout(const Copy& copy, const desc& a, const void* from, const desc& b, Buffer& buffer) {
  if (!copy.needed()) return from;
  void* to = buffer.at_least(b.get_size());
  copy.run(a, from, b, to);
  return to;
}

// Where a pass writes a result the caller wants in layout a: `buffer` where the layouts differ, else `to` itself.
void* out_buffer(const Copy& copy, const desc& b, void* to, Buffer& buffer) {
  return copy.needed() ? buffer.at_least(b.get_size()) : to;
}

template <class Body>
void guarded(const char* pass, Index rows, Body&& body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    NS_FAIL("oneDNN's direct convolution ({} of {} rows) failed: {}; hint: NORMSCALE_CONV=im2col", pass, rows,
            e.what());
  }
}

}  // namespace

DirectConvolution::DirectConvolution(Index channels, Index height, Index width, Index out_channels, Index kernel,
                                     bool bias)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.channels = channels, s.height = height, s.width = width, s.out_channels = out_channels, s.kernel = kernel;
  s.bias = bias;
}

DirectConvolution::~DirectConvolution() = default;

void DirectConvolution::forward(const float* x, Index rows, const float* w, const float* bias, float* y, bool bf16) {
  State& s = *state_;
  guarded("forward", rows, [&] {
    Plan& p = s.plan(rows, bf16);
    const auto& pd = p.forward_pd;
    const void* src = in_layout(p.to_src, p.planar_src, x, pd.src_desc(), s.buffers.src);
    const void* weights = in_layout(p.to_weights, p.planar_weights, w, pd.weights_desc(), s.buffers.weights);
    void* dst = out_buffer(p.from_dst, pd.dst_desc(), y, s.buffers.dst);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(pd.src_desc(), src)},
                                               {DNNL_ARG_WEIGHTS, wrap(pd.weights_desc(), weights)},
                                               {DNNL_ARG_DST, wrap(pd.dst_desc(), dst)}};
    if (s.bias) args.emplace(DNNL_ARG_BIAS, wrap(pd.bias_desc(), bias));
    p.forward.execute(cpu_stream(), args);
    if (p.from_dst.needed()) p.from_dst.run(pd.dst_desc(), dst, p.planar_dst, y);
    cpu_stream().wait();
  });
  s.src_of = x, s.src_rows = rows, s.src_bf16 = bf16;
}

void DirectConvolution::backward(const float* x, Index rows, const float* w, const float* dy, float* dw, float* db,
                                 float* dx, bool bf16) {
  State& s = *state_;
  const bool forwards_input = s.src_of == x && s.src_rows == rows && s.src_bf16 == bf16;
  s.src_of = nullptr;
  guarded("backward", rows, [&] {
    Plan& p = s.plan(rows, bf16);
    s.add_backward(p, rows, bf16, dx != nullptr);
    const auto& pd = *p.weights_pd;
    // Forward's copy of x where it is this input's in this pass's layout, else x copied here.
    const void* src = forwards_input && pd.src_desc() == p.forward_pd.src_desc() && p.to_src.needed()
                          ? s.buffers.src.at_least(0)
                          : in_layout(p.to_weights_src, p.planar_src, x, pd.src_desc(), s.buffers.src);
    const void* diff_dst = in_layout(p.to_diff_dst, p.planar_dst, dy, pd.diff_dst_desc(), s.buffers.diff_dst);
    void* diff_weights = out_buffer(p.from_diff_weights, pd.diff_weights_desc(), dw, s.buffers.diff_weights);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(pd.src_desc(), src)},
                                               {DNNL_ARG_DIFF_DST, wrap(pd.diff_dst_desc(), diff_dst)},
                                               {DNNL_ARG_DIFF_WEIGHTS, wrap(pd.diff_weights_desc(), diff_weights)}};
    if (s.bias) args.emplace(DNNL_ARG_DIFF_BIAS, wrap(pd.diff_bias_desc(), db));
    p.backward_weights->execute(cpu_stream(), args);
    if (p.from_diff_weights.needed())
      p.from_diff_weights.run(pd.diff_weights_desc(), diff_weights, p.planar_weights, dw);
    if (dx != nullptr) {
      const auto& data = *p.data_pd;
      const void* data_diff_dst = p.data_shares_diff_dst ? diff_dst
                                                         : in_layout(p.to_data_diff_dst, p.planar_dst, dy,
                                                                     data.diff_dst_desc(), s.buffers.data_diff_dst);
      const void* weights =
          in_layout(p.to_data_weights, p.planar_weights, w, data.weights_desc(), s.buffers.data_weights);
      void* diff_src = out_buffer(p.from_diff_src, data.diff_src_desc(), dx, s.buffers.diff_src);
      p.backward_data->execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, wrap(data.diff_dst_desc(), data_diff_dst)},
                                              {DNNL_ARG_WEIGHTS, wrap(data.weights_desc(), weights)},
                                              {DNNL_ARG_DIFF_SRC, wrap(data.diff_src_desc(), diff_src)}});
      if (p.from_diff_src.needed()) p.from_diff_src.run(data.diff_src_desc(), diff_src, p.planar_src, dx);
    }
    cpu_stream().wait();
  });
}

#else

std::string convolution_description() { return "onednn (not built)"; }

struct DirectConvolution::State {};

DirectConvolution::DirectConvolution(Index, Index, Index, Index, Index, bool) {
  NS_FAIL("this build has no oneDNN, which runs the direct convolution; hint: NORMSCALE_CONV=im2col");
}
DirectConvolution::~DirectConvolution() = default;
void DirectConvolution::forward(const float*, Index, const float*, const float*, float*, bool) {}
void DirectConvolution::backward(const float*, Index, const float*, const float*, float*, float*, float*, bool) {}

#endif

}  // namespace normscale::onednn
