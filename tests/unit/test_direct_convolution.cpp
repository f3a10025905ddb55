// oneDNN's direct convolution (what Conv2d<float> runs wherever oneDNN is built) against im2col + GEMM, whose
// float64 twin is checked against a naive convolution and finite differences (test_layers.cpp).
#include "normscale/core/error.hpp"
#include "normscale/model/architectures.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/gemm_backend.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace normscale {
namespace {

class ScopedConvolutionKernel {
 public:
  explicit ScopedConvolutionKernel(ConvolutionKernel kernel) : before_(active_convolution_kernel()) {
    set_convolution_kernel(kernel);
  }
  ~ScopedConvolutionKernel() { set_convolution_kernel(before_); }
  ScopedConvolutionKernel(const ScopedConvolutionKernel&) = delete;
  ScopedConvolutionKernel& operator=(const ScopedConvolutionKernel&) = delete;

 private:
  ConvolutionKernel before_;
};

bool direct_built() { return automatic_convolution_kernel() == ConvolutionKernel::kOneDnnDirect; }

Matrix<float> normal_matrix(Index rows, Index cols, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Matrix<float> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

// Largest difference relative to the reference's largest value.
double relative_difference(const float* a, const float* reference, Index size) {
  double diff = 0.0, scale = 0.0;
  for (Index i = 0; i < size; ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - reference[i])));
    scale = std::max(scale, static_cast<double>(std::abs(reference[i])));
  }
  return diff / scale;
}

struct Passes {
  Matrix<float> out, din;
  std::vector<float> grads;  // dW, then db
};

// Forward and backward of a fresh layer with these parameters.
Passes passes(ConvolutionKernel kernel, FeatureMapShape shape, Index out_channels, Index k, bool bias,
              std::vector<float> params, const Matrix<float>& x, const Matrix<float>& dout, bool input_gradient) {
  const ScopedConvolutionKernel scope(kernel);
  Conv2d<float> conv(shape, out_channels, k, bias);
  Passes p;
  p.grads.assign(params.size(), 0.0f);
  conv.bind(params.data(), p.grads.data());
  conv.forward(x, p.out, Mode::kTrain);
  conv.backward(x, p.out, dout, input_gradient ? &p.din : nullptr);
  return p;
}

TEST(DirectConvolution, AgreesWithIm2colForwardAndBackward) {
  if (!direct_built()) GTEST_SKIP() << "this build has no oneDNN";
  struct Case {
    FeatureMapShape shape;
    Index out_channels, k;
    bool bias;
  };
  // Three input channels (oneDNN reads them in the planar layout itself), channel counts off its block of 8 or 16,
  // H != W, a kernel wider than the image, 1 x 1.
  const std::vector<Case> cases{{{3, 8, 8}, 5, 3, false},
                                {{16, 6, 5}, 32, 3, true},
                                {{20, 7, 9}, 12, 5, true},
                                {{4, 2, 1}, 3, 5, true},
                                {{8, 4, 4}, 4, 1, false}};
  std::mt19937 rng(41);
  for (const Case& c : cases) {
    Conv2d<float> probe(c.shape, c.out_channels, c.k, c.bias);
    for (const Index rows : {1, 3, 17}) {
      std::vector<float> params(static_cast<std::size_t>(probe.parameter_count()));
      std::normal_distribution<float> normal;
      for (float& p : params) p = normal(rng);
      const Matrix<float> x = normal_matrix(rows, c.shape.size(), rng);
      const Matrix<float> dout = normal_matrix(rows, probe.output_shape().size(), rng);
      const Passes direct =
          passes(ConvolutionKernel::kOneDnnDirect, c.shape, c.out_channels, c.k, c.bias, params, x, dout, true);
      const Passes reference =
          passes(ConvolutionKernel::kIm2colGemm, c.shape, c.out_channels, c.k, c.bias, params, x, dout, true);
      const std::string what = fmt::format("{} x {} x {} -> {}, kernel {}, bias {}, {} rows", c.shape.channels,
                                           c.shape.height, c.shape.width, c.out_channels, c.k, c.bias, rows);
      ASSERT_EQ(direct.out.rows(), rows) << what;
      ASSERT_EQ(direct.out.cols(), reference.out.cols()) << what;
      ASSERT_EQ(direct.din.cols(), reference.din.cols()) << what;
      EXPECT_LT(relative_difference(direct.out.data(), reference.out.data(), reference.out.size()), 1e-5) << what;
      const Index weights = c.out_channels * c.shape.channels * c.k * c.k;
      EXPECT_LT(relative_difference(direct.grads.data(), reference.grads.data(), weights), 1e-5) << what << ": dW";
      if (c.bias) {
        EXPECT_LT(relative_difference(direct.grads.data() + weights, reference.grads.data() + weights, c.out_channels),
                  1e-5)
            << what << ": db";
      }
      EXPECT_LT(relative_difference(direct.din.data(), reference.din.data(), reference.din.size()), 1e-5) << what;
    }
  }
}

// The layer keeps forward's input in the kernels' layout for backward's dW, and takes it only for forward's own
// input, once: after a forward of another input, a second backward, a buffer refilled between two backward calls (as
// Network::backward_rows refills its gathered rows) and a change of row count, each pass gives what a fresh layer
// gives, bit for bit.
TEST(DirectConvolution, BackwardTakesForwardsCopyOnlyForForwardsInput) {
  if (!direct_built()) GTEST_SKIP() << "this build has no oneDNN";
  const ScopedConvolutionKernel direct(ConvolutionKernel::kOneDnnDirect);
  const FeatureMapShape shape{16, 5, 4};
  const Index out_channels = 16, rows = 3;
  std::mt19937 rng(43);
  Conv2d<float> conv(shape, out_channels, 3, true);
  std::vector<float> params(static_cast<std::size_t>(conv.parameter_count())), grads(params.size());
  std::normal_distribution<float> normal;
  for (float& p : params) p = normal(rng);
  conv.bind(params.data(), grads.data());
  const Matrix<float> x1 = normal_matrix(rows, shape.size(), rng), x2 = normal_matrix(rows, shape.size(), rng);
  const Matrix<float> dy = normal_matrix(rows, out_channels * shape.area(), rng);
  const Passes expected = passes(ConvolutionKernel::kOneDnnDirect, shape, out_channels, 3, true, params, x2, dy, true);
  Matrix<float> y, din;
  conv.forward(x1, y, Mode::kTrain);
  conv.backward(x2, y, dy, &din);  // not the input forward saw
  EXPECT_EQ(grads, expected.grads) << "backward of another input than forward's";
  EXPECT_TRUE(din == expected.din);
  std::fill(grads.begin(), grads.end(), 0.0f);
  conv.backward(x2, y, dy, &din);
  EXPECT_EQ(grads, expected.grads) << "a second backward without a forward";
  EXPECT_TRUE(din == expected.din);
  Matrix<float> refilled = x2;
  conv.forward(refilled, y, Mode::kTrain);
  conv.backward(refilled, y, dy, nullptr);
  EXPECT_EQ(grads, expected.grads) << "forward's own input";
  refilled = x1;
  conv.backward(refilled, y, dy, nullptr);
  const Passes expected1 = passes(ConvolutionKernel::kOneDnnDirect, shape, out_channels, 3, true, params, x1, dy, true);
  EXPECT_EQ(grads, expected1.grads) << "a buffer refilled after its backward";
  // Another row count (its own primitives, the same buffers grown), then the first again.
  const Matrix<float> x3 = normal_matrix(7, shape.size(), rng),
                      dy3 = normal_matrix(7, out_channels * shape.area(), rng);
  const Passes expected3 =
      passes(ConvolutionKernel::kOneDnnDirect, shape, out_channels, 3, true, params, x3, dy3, true);
  conv.forward(x3, y, Mode::kTrain);
  EXPECT_TRUE(y == expected3.out) << "7 rows";
  conv.backward(x3, y, dy3, &din);
  EXPECT_EQ(grads, expected3.grads) << "7 rows";
  EXPECT_TRUE(din == expected3.din) << "7 rows";
  conv.forward(x2, y, Mode::kTrain);
  EXPECT_TRUE(y == expected.out) << "3 rows again";
  conv.backward(x2, y, dy, &din);
  EXPECT_EQ(grads, expected.grads) << "3 rows again";
}

// A whole ConvNet (convolutions, batch norm, pooling, a classifier; its first convolution without an input gradient)
// gives the same outputs and gradients on either kernel, to float32's rounding.
TEST(DirectConvolution, ConvNetAgreesWithIm2col) {
  if (!direct_built()) GTEST_SKIP() << "this build has no oneDNN";
  const ConvNetSpec spec{.input = {3, 12, 12}, .channels = {16, 24}, .outputs = 4, .conv_bias = true};
  std::mt19937 rng(47);
  const Matrix<float> x = normal_matrix(6, spec.input.size(), rng), r = normal_matrix(6, spec.outputs, rng);
  const auto run = [&](ConvolutionKernel kernel) {
    const ScopedConvolutionKernel scope(kernel);
    auto net = make_convnet<float>(spec);
    net->initialize({"he", 1.0}, 5);
    Matrix<float> out = net->forward(x, Mode::kTrain);
    net->backward(r);
    return std::make_pair(out, std::vector<float>(net->gradient().begin(), net->gradient().end()));
  };
  const auto [out, gradient] = run(ConvolutionKernel::kOneDnnDirect);
  const auto [out_reference, gradient_reference] = run(ConvolutionKernel::kIm2colGemm);
  EXPECT_LT(relative_difference(out.data(), out_reference.data(), out.size()), 1e-5);
  ASSERT_EQ(gradient.size(), gradient_reference.size());
  EXPECT_LT(relative_difference(gradient.data(), gradient_reference.data(), static_cast<Index>(gradient.size())), 1e-4);
  EXPECT_NE(gradient, gradient_reference) << "both runs took the same kernel";
}

// On a fixed thread count the direct convolution gives the same bits run after run (a resumed run continues the
// same trajectory); across thread counts the forward is bit for bit the same, but oneDNN sums dW's per-thread parts,
// so the gradients move by float32's rounding (README: "Threads").
TEST(DirectConvolution, SameBitsRunAfterRunAndRoundingAcrossThreadCounts) {
  if (!direct_built()) GTEST_SKIP() << "this build has no oneDNN";
  const ScopedConvolutionKernel scope(ConvolutionKernel::kOneDnnDirect);
  const ConvNetSpec spec{.input = {3, 16, 16}, .channels = {32, 64}, .outputs = 10};
  std::mt19937 rng(53);
  const Matrix<float> x = normal_matrix(64, spec.input.size(), rng), r = normal_matrix(64, spec.outputs, rng);
  std::vector<Matrix<float>> outs;
  std::vector<std::vector<float>> gradients;
  for (const int threads : {1, 2, 2}) {
    set_gemm_threads(threads);
    auto net = make_convnet<float>(spec);
    net->initialize({"he", 1.0}, 5);
    outs.push_back(net->forward(x, Mode::kTrain));
    net->backward(r);
    gradients.push_back(net->gradient());
  }
  set_gemm_threads(1);
  EXPECT_TRUE(outs[1] == outs[2]) << "2 threads, twice";
  EXPECT_EQ(gradients[1], gradients[2]) << "2 threads, twice";
  EXPECT_TRUE(outs[0] == outs[1]) << "1 and 2 threads";
  EXPECT_LT(relative_difference(gradients[1].data(), gradients[0].data(), static_cast<Index>(gradients[0].size())),
            1e-5)
      << "1 and 2 threads";
}

TEST(DirectConvolution, NamesParseAndUnknownOnesThrow) {
  EXPECT_EQ(parse_convolution_kernel("im2col"), ConvolutionKernel::kIm2colGemm);
  EXPECT_STREQ(convolution_kernel_name(ConvolutionKernel::kOneDnnDirect), "direct");
  EXPECT_THROW(parse_convolution_kernel("winograd"), Error);
  if (!direct_built()) {
    EXPECT_THROW(parse_convolution_kernel("direct"), Error);
    EXPECT_THROW(set_convolution_kernel(ConvolutionKernel::kOneDnnDirect), Error);
    EXPECT_EQ(convolution_kernel_family<float>(), "im2col + gemm");
    EXPECT_EQ(convolution_kernel_family<double>(), "im2col + gemm");
    return;
  }
  EXPECT_EQ(parse_convolution_kernel("direct"), ConvolutionKernel::kOneDnnDirect);
  const ScopedConvolutionKernel direct(ConvolutionKernel::kOneDnnDirect);
  EXPECT_NE(convolution_kernel_family<float>().find("direct convolution"), std::string::npos)
      << convolution_kernel_family<float>();
  EXPECT_EQ(convolution_kernel_family<double>(), "im2col + gemm");  // oneDNN has no float64 convolution
  const ScopedConvolutionKernel im2col(ConvolutionKernel::kIm2colGemm);
  EXPECT_EQ(convolution_kernel_family<float>(), "im2col + gemm");
}

}  // namespace
}  // namespace normscale
