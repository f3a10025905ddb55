// Every GEMM back end built in agrees with a naive double-precision product (transposes, odd shapes,
// strides, alpha/beta, beta = 0 never reading C), the automatic choice is one of them, and a training
// step gives the same loss and weights on each. A back end this build or CPU lacks is skipped, visibly.
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/dense.hpp"
#include "normscale/model/gemm.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace normscale {
namespace {

}  // namespace

// gtest prints the back end by name (ctest lists each parameterised test with it).
void PrintTo(GemmBackend backend, std::ostream* os) { *os << gemm_backend_name(backend); }

namespace {

// rows x cols standard normal values.
Matrix<float> normal_matrix(Index rows, Index cols, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Matrix<float> values(rows, cols);
  for (Index i = 0; i < values.size(); ++i) values.data()[i] = normal(rng);
  return values;
}

bool built_in(GemmBackend backend) {
  const std::vector<GemmBackend> available = available_gemm_backends();
  return std::find(available.begin(), available.end(), backend) != available.end();
}

// Runs each test on one back end and puts the previous one back afterwards.
class GemmBackendTest : public ::testing::TestWithParam<GemmBackend> {
 protected:
  void SetUp() override {
    if (!built_in(GetParam())) {
      GTEST_SKIP() << "GEMM back end " << gemm_backend_name(GetParam()) << " is not built in (no libdnnl-dev)";
    }
    previous_ = active_gemm_backend();
    set_gemm_backend(GetParam());
  }
  void TearDown() override { set_gemm_backend(previous_); }

 private:
  GemmBackend previous_ = GemmBackend::kOpenBlas;
};

struct Case {
  Index m, n, k;
  Index pad;  // added to every row stride (lda, ldb, ldc > the row length)
};

std::vector<float> random_values(std::size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = u(rng);
  return v;
}

// C = alpha op(A) op(B) + beta C against a double-precision loop; the tolerance is fp32's worst-case
// rounding bound of a k-term sum, (k + 2) eps times the sum of the magnitudes, plus `operand_rounding` times
// the products' magnitudes (bf16 operands: 2 x 2^-8). Padding columns of C must stay untouched; with beta = 0
// C starts as NaN.
void check_product(bool trans_a, bool trans_b, const Case& c, float alpha, float beta, std::mt19937& rng,
                   double operand_rounding = 0.0) {
  const Index a_rows = trans_a ? c.k : c.m, a_cols = trans_a ? c.m : c.k;
  const Index b_rows = trans_b ? c.n : c.k, b_cols = trans_b ? c.k : c.n;
  const Index lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  const std::vector<float> a = random_values(static_cast<std::size_t>(a_rows * lda), rng);
  const std::vector<float> b = random_values(static_cast<std::size_t>(b_rows * ldb), rng);
  std::vector<float> out = random_values(static_cast<std::size_t>(c.m * ldc), rng);
  const float sentinel = 12345.0f;
  for (Index i = 0; i < c.m; ++i) {
    for (Index j = 0; j < ldc; ++j) {
      float& v = out[static_cast<std::size_t>(i * ldc + j)];
      if (j >= c.n) v = sentinel;
      else if (beta == 0.0f) v = std::numeric_limits<float>::quiet_NaN();
    }
  }
  const std::vector<float> before = out;
  gemm<float>(trans_a, trans_b, c.m, c.n, c.k, alpha, a.data(), lda, b.data(), ldb, beta, out.data(), ldc);
  const auto at = [](const std::vector<float>& x, Index ld, Index r, Index col) {
    return static_cast<double>(x[static_cast<std::size_t>(r * ld + col)]);
  };
  for (Index i = 0; i < c.m; ++i) {
    for (Index j = 0; j < ldc; ++j) {
      const double got = at(out, ldc, i, j);
      if (j >= c.n) {
        ASSERT_EQ(got, sentinel) << "padding of C written at " << i << "," << j;
        continue;
      }
      double sum = 0.0, magnitude = 0.0;
      for (Index p = 0; p < c.k; ++p) {
        const double x = trans_a ? at(a, lda, p, i) : at(a, lda, i, p);
        const double y = trans_b ? at(b, ldb, j, p) : at(b, ldb, p, j);
        sum += x * y;
        magnitude += std::abs(x * y);
      }
      double expected = alpha * sum, scale = std::abs(alpha) * magnitude;
      const double rounded = operand_rounding * scale;
      if (beta != 0.0f) {
        expected += beta * at(before, ldc, i, j);
        scale += std::abs(beta * at(before, ldc, i, j));
      }
      ASSERT_NEAR(got, expected, static_cast<double>(c.k + 2) * std::numeric_limits<float>::epsilon() * scale + rounded)
          << "C(" << i << "," << j << ") of " << c.m << "x" << c.n << "x" << c.k << " pad " << c.pad
          << (trans_a ? " A^T" : " A") << (trans_b ? " B^T" : " B") << " alpha " << alpha << " beta " << beta;
    }
  }
}

// 1x1x1, primes, an empty sum (k = 0: C = beta C), shapes wider than one kernel block, and the MLP's
// output layer (n = 10), every transpose, alpha and beta.
void check_products(double operand_rounding) {
  std::mt19937 rng(16);
  const std::vector<Case> cases = {{1, 1, 1, 0}, {7, 13, 5, 0}, {7, 13, 5, 3}, {13, 7, 11, 1}, {5, 3, 0, 2},
                                   {64, 33, 17, 0}, {37, 10, 97, 5}, {129, 67, 71, 1}};
  for (const Case& c : cases) {
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        for (const float alpha : {1.0f, -0.5f}) {
          for (const float beta : {0.0f, 1.0f, 0.25f}) {
            check_product(ta, tb, c, alpha, beta, rng, operand_rounding);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST_P(GemmBackendTest, AgreesWithNaiveProduct) { check_products(0.0); }

// A few SGD steps of a small MLP from the same start; the losses and weights as the first back end's.
std::pair<std::vector<double>, std::vector<float>> sgd_steps(GemmBackend backend) {
  set_gemm_backend(backend);
  const Dataset d = testing::random_classification(96, 40, 7, 3, testing::LabelRule::kCyclic);
  auto net = make_mlp<float>({40, {64, 48}, 7, "relu", true});
  net->initialize({"he", 1}, 11);
  CrossEntropy<float> objective;
  LocalComm comm;
  TrainerOptions options;
  options.batch = 32;
  options.lr = 0.05;
  Trainer<float> trainer(options, comm, d, d.rows, *net, objective);
  std::vector<double> losses;
  for (int t = 0; t < 6; ++t) losses.push_back(trainer.step().loss_sum);
  return {losses, net->parameters()};
}

TEST_P(GemmBackendTest, TrainingStepMatchesOpenBlas) {
  if (GetParam() == GemmBackend::kOpenBlas) GTEST_SKIP() << "OpenBLAS is the reference here";
  const auto [losses, weights] = sgd_steps(GetParam());
  const auto [reference_losses, reference_weights] = sgd_steps(GemmBackend::kOpenBlas);
  ASSERT_EQ(losses.size(), reference_losses.size());
  for (std::size_t t = 0; t < losses.size(); ++t) {
    EXPECT_NEAR(losses[t], reference_losses[t], 1e-5 * std::abs(reference_losses[t])) << "step " << t;
  }
  ASSERT_EQ(weights.size(), reference_weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) ASSERT_NEAR(weights[i], reference_weights[i], 1e-5) << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, GemmBackendTest, ::testing::Values(GemmBackend::kOpenBlas, GemmBackend::kOneDnn),
                         [](const ::testing::TestParamInfo<GemmBackend>& backend) {
                           return std::string(gemm_backend_name(backend.param));
                         });

// precision = "bf16": operands rounded to bf16 (relative error 2^-8 each), fp32 accumulation and output.
TEST(GemmBf16, AgreesWithNaiveProductToTheOperandsRounding) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN): " << gemm_kernel_family<float>();
  const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
  EXPECT_NE(gemm_kernel_family<float>().find("bf16"), std::string::npos) << gemm_kernel_family<float>();
  check_products(2.0 * std::ldexp(1.0, -8));
}

// Each operand is rounded to nearest even, in either orientation: 1 + 2^-8 + 2^-9 rounds up to 1 + 2^-7
// (truncation would give 1), the tie 1 + 2^-8 goes to the even 1, the tie 1 + 3 x 2^-8 up to 1 + 2^-6; a NaN
// operand stays NaN. The other operand (2) is exact, so the product shows the rounding exactly.
TEST(GemmBf16, RoundsEachOperandToNearestEven) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
  const float eps = std::ldexp(1.0f, -8);
  const std::vector<std::pair<float, float>> rounding = {  // value, its bf16
      {1.0f + eps + eps / 2, 1.0f + 2 * eps}, {1.0f + eps, 1.0f}, {1.0f + 3 * eps, 1.0f + 4 * eps}};
  for (const bool trans : {false, true}) {
    for (const auto& [value, rounded] : rounding) {
      // C = op(A) op(B), 1 x 1 x 2: [value, 0] times [2, 0]^T, so C = 2 x bf16(value); the operands stored
      // transposed (as columns) when `trans`, once as A and once as B.
      const std::vector<float> x = {value, 0.0f}, two = {2.0f, 0.0f};
      float as_a = -1.0f, as_b = -1.0f;
      gemm<float>(trans, !trans, 1, 1, 2, 1.0f, x.data(), trans ? 1 : 2, two.data(), trans ? 1 : 2, 0.0f, &as_a, 1);
      gemm<float>(trans, !trans, 1, 1, 2, 1.0f, two.data(), trans ? 1 : 2, x.data(), trans ? 1 : 2, 0.0f, &as_b, 1);
      EXPECT_EQ(as_a, 2.0f * rounded) << "value " << value << " as A, trans " << trans;
      EXPECT_EQ(as_b, 2.0f * rounded) << "value " << value << " as B, trans " << !trans;
    }
  }
  const float nan = std::numeric_limits<float>::quiet_NaN(), one = 1.0f;
  float product = 0.0f;
  gemm<float>(false, false, 1, 1, 1, 1.0f, &nan, 1, &one, 1, 0.0f, &product, 1);
  EXPECT_TRUE(std::isnan(product)) << product;
}

TEST(GemmBf16, TrainingStepsStayNearFloat32AndTheScopeRestoresIt) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const GemmBackend previous = active_gemm_backend();
  const auto [reference_losses, reference_weights] = sgd_steps(GemmBackend::kOpenBlas);
  std::vector<double> losses;
  std::vector<float> weights;
  {
    const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
    std::tie(losses, weights) = sgd_steps(GemmBackend::kOpenBlas);  // bf16 goes to oneDNN whatever the back end
  }
  EXPECT_EQ(active_gemm_precision(), GemmPrecision::kFloat32);
  set_gemm_backend(previous);
  double largest = 0.0;
  for (std::size_t t = 0; t < losses.size(); ++t) {
    EXPECT_NEAR(losses[t], reference_losses[t], 1e-2 * std::abs(reference_losses[t])) << "step " << t;
  }
  for (std::size_t i = 0; i < weights.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(weights[i] - reference_weights[i])));
  }
  EXPECT_LT(largest, 1e-2);
  EXPECT_GT(largest, 0.0) << "bf16 products changed nothing: were they used?";
}

// A dense layer's backward multiplies the copies forward rounded (its input, its weights) and one copy of the
// output gradient: bit for bit what products rounding each operand anew give. A backward over another input
// (same shape, elsewhere) rounds that one, and leaves forward's copy for the next backward; a forward after the
// weights changed rounds the new ones.
TEST(GemmBf16, DenseBackwardReusesForwardsCopiesBitForBit) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
  const Index inputs = 37, outputs = 29, rows = 13;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  const Matrix<float> x = normal_matrix(rows, inputs, rng), other_x = normal_matrix(rows, inputs, rng);
  const Matrix<float> dout = normal_matrix(rows, outputs, rng);
  Dense<float> dense(inputs, outputs, false);
  std::vector<float> params(dense.parameter_count()), grads(params.size());
  for (float& p : params) p = normal(rng);
  dense.bind(params.data(), grads.data());
  // The same products, each operand rounded for it alone.
  const auto expect_layer = [&](const Matrix<float>& input, const Matrix<float>& backward_input,
                                const std::string& what) {
    Matrix<float> out, din, out_ref(rows, outputs), din_ref(rows, inputs);
    std::vector<float> dw_ref(grads.size());
    dense.forward(input, out, Mode::kTrain);
    dense.backward(backward_input, out, dout, &din);
    gemm<float>(false, true, rows, outputs, inputs, 1.0f, input.data(), inputs, params.data(), inputs, 0.0f,
                out_ref.data(), outputs);
    gemm<float>(true, false, outputs, inputs, rows, 1.0f, dout.data(), outputs, backward_input.data(), inputs, 0.0f,
                dw_ref.data(), inputs);
    gemm<float>(false, false, rows, inputs, outputs, 1.0f, dout.data(), outputs, params.data(), inputs, 0.0f,
                din_ref.data(), inputs);
    EXPECT_TRUE(out == out_ref) << what << ": forward";
    EXPECT_EQ(grads, dw_ref) << what << ": dW";
    EXPECT_TRUE(din == din_ref) << what << ": dX";
  };
  expect_layer(x, x, "forward's input");
  expect_layer(x, other_x, "another input in backward");
  Matrix<float> out, din;
  dense.backward(x, out, dout, &din);  // forward's copy of x is still there
  std::vector<float> dw_ref(grads.size());
  gemm<float>(true, false, outputs, inputs, rows, 1.0f, dout.data(), outputs, x.data(), inputs, 0.0f, dw_ref.data(),
              inputs);
  EXPECT_EQ(grads, dw_ref) << "backward after backward over another input";
  for (float& p : params) p *= -0.5f;
  expect_layer(x, x, "changed weights");
}

// A convolution's products (forward, dW, input gradient) take bf16 operands too, on either kernel (im2col + gemm(),
// oneDNN's direct convolution): each moves off its float32 value by about the operands' rounding, and no further.
TEST(GemmBf16, ConvolutionProductsTakeBf16Operands) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  for (const ConvolutionKernel kernel : {ConvolutionKernel::kIm2colGemm, ConvolutionKernel::kOneDnnDirect}) {
    const ConvolutionKernel before = active_convolution_kernel();
    set_convolution_kernel(kernel);
    std::mt19937 rng(13);
    std::normal_distribution<float> normal;
    Conv2d<float> conv({3, 8, 8}, 5, 3, false);
    std::vector<float> params(conv.parameter_count()), grads(params.size());
    for (float& p : params) p = normal(rng);
    conv.bind(params.data(), grads.data());
    const Matrix<float> x = normal_matrix(4, 3 * 8 * 8, rng), dout = normal_matrix(4, 5 * 8 * 8, rng);
    const auto run = [&](GemmPrecision precision) {
      const ScopedGemmPrecision products(precision);
      Matrix<float> out, din;
      conv.forward(x, out, Mode::kTrain);
      conv.backward(x, out, dout, &din);
      return std::make_tuple(out, grads, din);
    };
    const auto [out32, dw32, din32] = run(GemmPrecision::kFloat32);
    const auto [out16, dw16, din16] = run(GemmPrecision::kBf16);
    set_convolution_kernel(before);
    // Largest change relative to the float32 values' scale.
    const auto relative_change = [](const float* a, const float* b, Index size) {
      double diff = 0.0, scale = 0.0;
      for (Index i = 0; i < size; ++i) {
        diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
        scale = std::max(scale, static_cast<double>(std::abs(b[i])));
      }
      return diff / scale;
    };
    const double forward = relative_change(out16.data(), out32.data(), out32.size());
    const double dw = relative_change(dw16.data(), dw32.data(), static_cast<Index>(dw32.size()));
    const double din = relative_change(din16.data(), din32.data(), din32.size());
    for (const double change : {forward, dw, din}) {
      EXPECT_GT(change, 0.0) << convolution_kernel_name(kernel) << ": forward / dW / input gradient " << forward
                             << " / " << dw << " / " << din << ": a product without bf16 operands";
      EXPECT_LT(change, 0.02) << convolution_kernel_name(kernel) << ": forward / dW / input gradient " << forward
                              << " / " << dw << " / " << din;
    }
  }
}

// The im2col convolution writes its columns rounded (im2col into bf16) and rounds the output gradient once for
// backward's two products: bit for bit the products of each operand rounded for it alone, over columns built here.
TEST(GemmBf16, ConvolutionRoundsItsColumnsAsWrittenBitForBit) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
  const ConvolutionKernel before = active_convolution_kernel();
  set_convolution_kernel(ConvolutionKernel::kIm2colGemm);
  const FeatureMapShape shape{3, 6, 5};
  const Index out_channels = 4, k = 3, pad = 1, rows = 3, hw = shape.area(), m = rows * hw;
  const Index patch = shape.channels * k * k;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  Conv2d<float> conv(shape, out_channels, k, false);
  std::vector<float> params(conv.parameter_count()), grads(params.size());
  for (float& p : params) p = normal(rng);
  conv.bind(params.data(), grads.data());
  // Column (c k + ky) k + kx, n hw + y w + x: input pixel (y + ky - pad, x + kx - pad) of channel c, or 0.
  const auto for_each_tap = [&](const auto& visit) {
    for (Index c = 0; c < shape.channels; ++c) {
      for (Index ky = 0; ky < k; ++ky) {
        for (Index kx = 0; kx < k; ++kx) {
          for (Index n = 0; n < rows; ++n) {
            for (Index y = 0; y < shape.height; ++y) {
              for (Index x = 0; x < shape.width; ++x) {
                const Index yy = y + ky - pad, xx = x + kx - pad;
                const bool inside = yy >= 0 && yy < shape.height && xx >= 0 && xx < shape.width;
                visit((c * k + ky) * k + kx, n * hw + y * shape.width + x, n,
                      inside ? c * hw + yy * shape.width + xx : Index{-1});
              }
            }
          }
        }
      }
    }
  };
  const auto expect_layer = [&](const Matrix<float>& input, const Matrix<float>& dout, const std::string& what) {
    Matrix<float> out, din;
    conv.forward(input, out, Mode::kTrain);
    conv.backward(input, out, dout, &din);
    Matrix<float> columns(patch, m), product(out_channels, m), gradient(out_channels, m), dcolumns(patch, m);
    for_each_tap([&](Index row, Index col, Index n, Index pixel) {
      columns(row, col) = pixel < 0 ? 0.0f : input(n, pixel);
    });
    for (Index co = 0; co < out_channels; ++co) {
      for (Index n = 0; n < rows; ++n) {
        for (Index p = 0; p < hw; ++p) gradient(co, n * hw + p) = dout(n, co * hw + p);
      }
    }
    std::vector<float> dw_ref(grads.size());
    gemm<float>(false, false, out_channels, m, patch, 1.0f, params.data(), patch, columns.data(), m, 0.0f,
                product.data(), m);
    gemm<float>(false, true, out_channels, patch, m, 1.0f, gradient.data(), m, columns.data(), m, 0.0f,
                dw_ref.data(), patch);
    gemm<float>(true, false, patch, m, out_channels, 1.0f, params.data(), patch, gradient.data(), m, 0.0f,
                dcolumns.data(), m);
    Matrix<float> din_ref = Matrix<float>::Zero(rows, shape.size());
    for_each_tap([&](Index row, Index col, Index n, Index pixel) {
      if (pixel >= 0) din_ref(n, pixel) += dcolumns(row, col);
    });
    for (Index co = 0; co < out_channels; ++co) {
      for (Index n = 0; n < rows; ++n) {
        for (Index p = 0; p < hw; ++p) {
          ASSERT_EQ(out(n, co * hw + p), product(co, n * hw + p)) << what << ": forward at " << co << ", " << n;
        }
      }
    }
    EXPECT_EQ(grads, dw_ref) << what << ": dW";
    EXPECT_TRUE(din == din_ref) << what << ": input gradient";
  };
  const Matrix<float> x = normal_matrix(rows, shape.size(), rng), dout = normal_matrix(rows, out_channels * hw, rng);
  expect_layer(x, dout, "first pass");
  expect_layer(normal_matrix(rows, shape.size(), rng), normal_matrix(rows, out_channels * hw, rng),
               "new input and gradient");
  for (float& p : params) p *= -0.5f;
  expect_layer(x, dout, "changed weights");
  set_convolution_kernel(before);
}

// Forward's columns are reused by backward only in the precision they were written in: a forward with bf16 products
// (which writes only the rounded columns) followed by a float32 backward, and the other way round, give what a
// forward and backward in the backward's precision give.
TEST(GemmBf16, ConvolutionBackwardTakesColumnsOnlyInItsOwnPrecision) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const FeatureMapShape shape{16, 6, 5};  // 16 channels: the direct convolution keeps its input in a blocked copy
  std::mt19937 rng(23);
  std::normal_distribution<float> normal;
  std::vector<float> params(Conv2d<float>(shape, 4, 3, false).parameter_count());
  for (float& p : params) p = normal(rng);
  const Matrix<float> x = normal_matrix(2, shape.size(), rng), dout = normal_matrix(2, 4 * shape.area(), rng);
  // dW and the input gradient of a layer whose forward ran in `forward_precision`, its backward in `precision`.
  const auto gradients = [&](GemmPrecision forward_precision, GemmPrecision precision) {
    Conv2d<float> conv(shape, 4, 3, false);
    std::vector<float> p = params, grads(params.size());
    conv.bind(p.data(), grads.data());
    Matrix<float> out, din;
    {
      const ScopedGemmPrecision scope(forward_precision);
      conv.forward(x, out, Mode::kTrain);
    }
    const ScopedGemmPrecision scope(precision);
    conv.backward(x, out, dout, &din);
    return std::make_pair(grads, din);
  };
  const ConvolutionKernel before = active_convolution_kernel();
  for (const ConvolutionKernel kernel : {ConvolutionKernel::kIm2colGemm, ConvolutionKernel::kOneDnnDirect}) {
    set_convolution_kernel(kernel);
    for (const auto& [first, second] : {std::pair{GemmPrecision::kBf16, GemmPrecision::kFloat32},
                                        std::pair{GemmPrecision::kFloat32, GemmPrecision::kBf16}}) {
      const auto mixed = gradients(first, second), same = gradients(second, second);
      const bool bf16 = second == GemmPrecision::kBf16;
      EXPECT_EQ(mixed.first, same.first) << convolution_kernel_name(kernel) << ": dW, backward with bf16: " << bf16;
      EXPECT_TRUE(mixed.second == same.second)
          << convolution_kernel_name(kernel) << ": input gradient, backward with bf16: " << bf16;
    }
  }
  set_convolution_kernel(before);
}

TEST(GemmBf16, IsRefusedNamingThePrecisionWhereTheCpuLacksIt) {
  if (bf16_gemm_supported()) {
    EXPECT_NO_THROW(set_gemm_precision(GemmPrecision::kBf16));
    set_gemm_precision(GemmPrecision::kFloat32);
    GTEST_SKIP() << "this CPU has bf16 dot products (the refusal is tested through the binary with "
                    "ONEDNN_MAX_CPU_ISA, CommandLine.Bf16WithoutBf16InstructionsIsRefused)";
  }
  try {
    set_gemm_precision(GemmPrecision::kBf16);
    FAIL() << "bf16 accepted without bf16 dot products";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("precision = \"bf16\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(active_gemm_precision(), GemmPrecision::kFloat32);
}

TEST(GemmBackend, AutomaticChoiceIsBuiltInAndOpenBlasWithoutAvx512) {
  const GemmBackend automatic = automatic_gemm_backend();
  EXPECT_TRUE(built_in(automatic)) << gemm_backend_name(automatic);
  // No regression where no faster kernel exists: an AVX2-only CPU keeps OpenBLAS.
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(automatic, GemmBackend::kOpenBlas);
  }
}

TEST(GemmBackend, NamesParseAndUnknownOnesThrow) {
  for (const GemmBackend backend : available_gemm_backends()) {
    EXPECT_EQ(parse_gemm_backend(gemm_backend_name(backend)), backend);
  }
  EXPECT_THROW(parse_gemm_backend("mkl"), Error);
  if (!built_in(GemmBackend::kOneDnn)) {
    EXPECT_THROW(parse_gemm_backend("onednn"), Error);
  }
}

TEST(GemmBackend, KernelFamilyNamesTheActiveLibrary) {
  const std::string family = gemm_kernel_family<float>();
  EXPECT_EQ(family.rfind(gemm_backend_name(active_gemm_backend()), 0), 0u) << family;
  EXPECT_EQ(gemm_kernel_family<double>().rfind("openblas", 0), 0u);
}

}  // namespace
}  // namespace normscale
