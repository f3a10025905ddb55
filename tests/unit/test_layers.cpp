// Batch norm, weight norm, convolution and pooling: finite-difference gradients, a naive convolution,
// running statistics, and sync-bn on two simulated ranks equal to one rank on the whole batch.
#include "normscale/core/error.hpp"
#include "normscale/model/architectures.hpp"
#include "normscale/model/batch_norm.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/dense.hpp"
#include "normscale/model/pooling.hpp"
#include "normscale/model/weight_norm.hpp"

#include "support/finite_difference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

namespace normscale {
namespace {

Matrix<double> random_matrix(Index rows, Index cols, std::uint64_t seed, double scale = 1.0, double shift = 0.0) {
  RandomStream rng(seed, StreamPurpose::kSynthetic);
  Matrix<double> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = shift + scale * rng.normal();
  return m;
}

// A layer with its own flat buffers, initialised and then perturbed so that no parameter sits at a
// special value (gamma = 1, beta = 0, g = ||v||, bias = 0).
struct BoundLayer {
  Layer<double>& layer;
  std::vector<double> params, grads;

  explicit BoundLayer(Layer<double>& l, std::uint64_t seed = 11) : layer(l) {
    params.assign(static_cast<std::size_t>(layer.parameter_count()), 0.0);
    grads.assign(params.size(), 0.0);
    layer.bind(params.data(), grads.data());
    RandomStream rng(seed, StreamPurpose::kInit);
    layer.initialize({"he", 1.0}, rng);
    for (double& p : params) p += 0.3 * rng.normal();
  }
};

// Checks parameter and input gradients of sum(R . layer(x)) against central differences.
// `prepare` runs after initialisation (e.g. to set running statistics).
void expect_layer_gradients(Layer<double>& layer, const Matrix<double>& x, Mode mode = Mode::kTrain,
                            const std::function<void()>& prepare = {}) {
  BoundLayer bound(layer);
  if (prepare) prepare();
  Matrix<double> out, din;
  layer.forward(x, out, mode);
  const Matrix<double> r = random_matrix(out.rows(), out.cols(), 99);
  layer.backward(x, out, r, &din);
  ASSERT_EQ(din.rows(), x.rows());
  ASSERT_EQ(din.cols(), x.cols());
  const std::vector<double> analytic = bound.grads;
  auto value = [&](const Matrix<double>& input) {
    Matrix<double> y;
    layer.forward(input, y, mode);
    return (y.array() * r.array()).sum();
  };
  const double worst_param =
      testing::worst_gradient_error(bound.params, analytic, [&] { return value(x); });
  Matrix<double> xp = x;
  const auto entries = static_cast<std::size_t>(x.size());
  const double worst_input = testing::worst_gradient_error(std::span<double>(xp.data(), entries),
                                                           std::span<const double>(din.data(), entries),
                                                           [&] { return value(xp); });
  EXPECT_LT(worst_param, 1e-6) << layer.kind() << " parameter gradient";
  EXPECT_LT(worst_input, 1e-6) << layer.kind() << " input gradient";
}

// Checks the flat gradient of sum(R . network(x)) in training mode against central differences.
void expect_network_gradients(Network<double>& net, const Matrix<double>& x) {
  const Matrix<double> r = random_matrix(x.rows(), net.output_width(), 98);
  net.forward(x);
  net.backward(r);
  const std::vector<double> analytic = net.gradient();
  const double worst = testing::worst_gradient_error(net.mutable_parameters(), analytic,
                                                     [&] { return (net.forward(x).array() * r.array()).sum(); });
  EXPECT_LT(worst, 1e-6);
}

// ---- batch norm -------------------------------------------------------------------------------

// ReLU passes a NaN on (relu_value, shared with GPU ranks), so that a diverged hidden layer reaches the loss.
TEST(Relu, PassesNanOnAndZeroesNegatives) {
  Relu<float> relu;
  Matrix<float> in(1, 4), out;
  in << std::numeric_limits<float>::quiet_NaN(), -1.0f, 2.0f, 0.0f;
  relu.forward(in, out, Mode::kTrain);
  EXPECT_TRUE(std::isnan(out(0, 0)));
  EXPECT_EQ(out(0, 1), 0.0f);
  EXPECT_EQ(out(0, 2), 2.0f);
  EXPECT_EQ(out(0, 3), 0.0f);
}

TEST(BatchNorm, GradientDenseNoAffine) {
  BatchNorm<double> bn(5, 1);
  EXPECT_EQ(bn.parameter_count(), 0);
  expect_layer_gradients(bn, random_matrix(6, 5, 1, 2.0, 0.5));
}

TEST(BatchNorm, GradientDenseAffine) {
  BatchNorm<double> bn(5, 1, {.affine = true});
  EXPECT_EQ(bn.parameter_count(), 10);
  expect_layer_gradients(bn, random_matrix(6, 5, 2, 2.0, -0.5));
}

TEST(BatchNorm, GradientPerChannel) {
  BatchNorm<double> bn(3, 4);
  expect_layer_gradients(bn, random_matrix(3, 12, 3, 1.5, 1.0));
}

TEST(BatchNorm, GradientPerChannelAffine) {
  BatchNorm<double> bn(3, 4, {.affine = true});
  expect_layer_gradients(bn, random_matrix(3, 12, 4, 1.5, 1.0));
}

TEST(BatchNorm, GradientEvalModeAffine) {
  BatchNorm<double> bn(2, 3, {.affine = true});
  expect_layer_gradients(bn, random_matrix(4, 6, 5), Mode::kEval, [&] {
    bn.running_mean() = {0.3, -0.2};
    bn.running_var() = {2.0, 0.5};
  });
  EXPECT_DOUBLE_EQ(bn.last_mean()[0], 0.3);
}

// Naive per-channel mean and biased variance over rows and positions.
void naive_stats(const Matrix<double>& x, Index channels, Index spatial, std::vector<double>& mean,
                 std::vector<double>& var) {
  mean.assign(static_cast<std::size_t>(channels), 0.0);
  var.assign(static_cast<std::size_t>(channels), 0.0);
  const double n = static_cast<double>(x.rows() * spatial);
  for (Index c = 0; c < channels; ++c) {
    const auto block = x.middleCols(c * spatial, spatial);
    const double m = block.sum() / n;
    mean[static_cast<std::size_t>(c)] = m;
    var[static_cast<std::size_t>(c)] = (block.array() - m).square().sum() / n;
  }
}

TEST(BatchNorm, RunningStatisticsAndEvalMode) {
  const Index channels = 2, spatial = 3;
  BatchNorm<double> bn(channels, spatial);
  const Matrix<double> x1 = random_matrix(4, 6, 6, 2.0, 1.0);
  const Matrix<double> x2 = random_matrix(5, 6, 7, 0.5, -3.0);
  Matrix<double> out;
  bn.forward(x1, out, Mode::kTrain);
  std::vector<double> m1, v1, m2, v2;
  naive_stats(x1, channels, spatial, m1, v1);
  naive_stats(x2, channels, spatial, m2, v2);
  // The training output uses the batch's biased variance.
  for (Index r = 0; r < x1.rows(); ++r) {
    for (Index j = 0; j < x1.cols(); ++j) {
      const auto c = static_cast<std::size_t>(j / spatial);
      EXPECT_NEAR(out(r, j), (x1(r, j) - m1[c]) / std::sqrt(v1[c] + 1e-5), 1e-12);
    }
  }
  bn.forward(x2, out, Mode::kTrain);
  std::vector<double> rm(2), rv(2);
  for (std::size_t c = 0; c < 2; ++c) {
    // PyTorch: momentum 0.1, unbiased variance (n = rows * spatial values per channel).
    const double u1 = v1[c] * 12.0 / 11.0, u2 = v2[c] * 15.0 / 14.0;
    rm[c] = 0.9 * (0.9 * 0.0 + 0.1 * m1[c]) + 0.1 * m2[c];
    rv[c] = 0.9 * (0.9 * 1.0 + 0.1 * u1) + 0.1 * u2;
    EXPECT_NEAR(bn.running_mean()[c], rm[c], 1e-12);
    EXPECT_NEAR(bn.running_var()[c], rv[c], 1e-12);
  }
  const Matrix<double> x3 = random_matrix(3, 6, 8);
  bn.forward(x3, out, Mode::kEval);
  for (Index r = 0; r < x3.rows(); ++r) {
    for (Index j = 0; j < x3.cols(); ++j) {
      const auto c = static_cast<std::size_t>(j / spatial);
      EXPECT_NEAR(out(r, j), (x3(r, j) - rm[c]) / std::sqrt(rv[c] + 1e-5), 1e-12);
    }
  }
  // Eval mode leaves the running statistics alone.
  EXPECT_NEAR(bn.running_mean()[0], rm[0], 1e-15);
  EXPECT_NEAR(bn.running_var()[1], rv[1], 1e-15);
}

TEST(BatchNorm, ARepeatedTrainingPassNormalisesByTheBatchAndLeavesTheRunningStatistics) {
  BatchNorm<double> bn(2, 3);
  const Matrix<double> x = random_matrix(4, 6, 9, 2.0, 1.0);
  Matrix<double> step, repeat;
  bn.forward(x, step, Mode::kTrain);
  const std::vector<double> mean = bn.running_mean(), var = bn.running_var();
  bn.forward(x, repeat, Mode::kTrainRepeat);
  EXPECT_EQ(repeat, step);
  EXPECT_EQ(bn.running_mean(), mean);
  EXPECT_EQ(bn.running_var(), var);
  // Its backward is the training-mode one (through the batch statistics).
  expect_layer_gradients(bn, x, Mode::kTrainRepeat);
}

TEST(BatchNorm, RejectsOneValuePerChannelInTraining) {
  BatchNorm<double> bn(3, 1);
  Matrix<double> out;
  EXPECT_ANY_THROW(bn.forward(random_matrix(1, 3, 9), out, Mode::kTrain));
  EXPECT_NO_THROW(bn.forward(random_matrix(1, 3, 9), out, Mode::kEval));
  EXPECT_ANY_THROW(bn.forward(random_matrix(4, 4, 9), out, Mode::kEval));
}

// An in-process allreduce for two threads standing in for two ranks.
class TwoRankAllreduce {
 public:
  StatisticsReducer reducer(int rank) {
    return [this, rank](std::span<double> values) {
      slots_[rank].assign(values.begin(), values.end());
      sync_.arrive_and_wait();
      for (std::size_t i = 0; i < values.size(); ++i) values[i] = slots_[0][i] + slots_[1][i];
      ++calls_[rank];
      sync_.arrive_and_wait();  // both have read the slots before either writes again
    };
  }
  int calls(int rank) const { return calls_[rank]; }

 private:
  std::barrier<> sync_{2};
  std::vector<double> slots_[2];
  int calls_[2] = {0, 0};
};

// Runs body(rank) on two threads and rethrows the first failure.
void run_two_ranks(const std::function<void(int)>& body) {
  std::exception_ptr errors[2];
  std::thread other([&] {
    try {
      body(1);
    } catch (...) {
      errors[1] = std::current_exception();
    }
  });
  try {
    body(0);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  other.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

void check_sync_batch_norm(Index channels, Index spatial, bool affine) {
  const Index rows = 10, half = 4;  // unequal halves: rows 0..3 on rank 0, 4..9 on rank 1
  const Index cols = channels * spatial;
  const Matrix<double> x = random_matrix(rows, cols, 21, 1.7, 0.8);
  const Matrix<double> dy = random_matrix(rows, cols, 22);
  std::vector<double> gamma_beta(static_cast<std::size_t>(2 * channels));
  RandomStream rng(23, StreamPurpose::kSynthetic);
  for (double& v : gamma_beta) v = 1.0 + 0.5 * rng.normal();

  // One rank, whole batch.
  BatchNorm<double> whole(channels, spatial, {.affine = affine});
  std::vector<double> params = gamma_beta, grads(params.size());
  whole.bind(params.data(), grads.data());
  Matrix<double> out_whole, din_whole;
  whole.forward(x, out_whole, Mode::kTrain);
  whole.backward(x, out_whole, dy, &din_whole);

  // Two ranks, halves, global sums through the reducer.
  TwoRankAllreduce allreduce;
  Matrix<double> outs[2], dins[2];
  std::vector<double> rank_params[2] = {gamma_beta, gamma_beta};
  std::vector<double> rank_grads[2] = {std::vector<double>(params.size()), std::vector<double>(params.size())};
  std::vector<double> running_mean[2], running_var[2];
  run_two_ranks([&](int rank) {
    BatchNorm<double> bn(channels, spatial, {.affine = affine, .reducer = allreduce.reducer(rank)});
    bn.bind(rank_params[rank].data(), rank_grads[rank].data());
    const Index begin = rank == 0 ? 0 : half, count = rank == 0 ? half : rows - half;
    const Matrix<double> xs = x.middleRows(begin, count), dys = dy.middleRows(begin, count);
    bn.forward(xs, outs[rank], Mode::kTrain);
    bn.backward(xs, outs[rank], dys, &dins[rank]);
    running_mean[rank] = bn.running_mean();
    running_var[rank] = bn.running_var();
  });
  EXPECT_EQ(allreduce.calls(0), 2);  // one statistics reduction in forward, one in backward
  EXPECT_EQ(allreduce.calls(1), 2);
  Matrix<double> out_sync(rows, cols), din_sync(rows, cols);
  out_sync << outs[0], outs[1];
  din_sync << dins[0], dins[1];
  EXPECT_LT((out_sync - out_whole).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT((din_sync - din_whole).cwiseAbs().maxCoeff(), 1e-10);
  for (int rank = 0; rank < 2; ++rank) {
    for (std::size_t c = 0; c < static_cast<std::size_t>(channels); ++c) {
      EXPECT_NEAR(running_mean[rank][c], whole.running_mean()[c], 1e-12);
      EXPECT_NEAR(running_var[rank][c], whole.running_var()[c], 1e-12);
    }
  }
  // Parameter gradients stay per rank; their sum (the trainer's allreduce) is the whole batch's.
  for (std::size_t i = 0; i < grads.size(); ++i) {
    EXPECT_NEAR(rank_grads[0][i] + rank_grads[1][i], grads[i], 1e-10);
  }

  // Per-rank statistics (no reducer) normalise each half by itself: different, as they should be.
  BatchNorm<double> local(channels, spatial, {.affine = affine});
  local.bind(gamma_beta.data(), rank_grads[0].data());
  Matrix<double> out_local;
  local.forward(x.topRows(half), out_local, Mode::kTrain);
  EXPECT_GT((out_local - out_whole.topRows(half)).cwiseAbs().maxCoeff(), 1e-3);
}

TEST(SyncBatchNorm, TwoRanksEqualOneRankDense) { check_sync_batch_norm(5, 1, false); }
TEST(SyncBatchNorm, TwoRanksEqualOneRankPerChannelAffine) { check_sync_batch_norm(3, 4, true); }

TEST(SyncBatchNorm, ConvNetGradientSumEqualsWholeBatch) {
  const Matrix<double> x = random_matrix(6, 3 * 8 * 8, 31);
  ConvNetSpec spec{.input = {3, 8, 8}, .channels = {4, 5}, .outputs = 3};
  auto whole = make_convnet<double>(spec);
  whole->initialize({"he", 1.0}, 5);
  const Matrix<double> dy = random_matrix(6, whole->output_width(), 32);
  const Matrix<double> f_whole = whole->forward(x);
  whole->backward(dy);

  TwoRankAllreduce allreduce;
  std::vector<double> grads[2];
  Matrix<double> outs[2];
  run_two_ranks([&](int rank) {
    ConvNetSpec rank_spec = spec;
    rank_spec.batch_norm.reducer = allreduce.reducer(rank);
    auto net = make_convnet<double>(rank_spec);
    net->initialize({"he", 1.0}, 5);
    outs[rank] = net->forward(x.middleRows(3 * rank, 3));
    net->backward(dy.middleRows(3 * rank, 3));
    grads[rank] = net->gradient();
  });
  Matrix<double> f_sync(6, whole->output_width());
  f_sync << outs[0], outs[1];
  EXPECT_LT((f_sync - f_whole).cwiseAbs().maxCoeff(), 1e-10);
  double worst = 0.0;
  for (std::size_t i = 0; i < grads[0].size(); ++i) {
    worst = std::max(worst, std::abs(grads[0][i] + grads[1][i] - whole->gradient()[i]));
  }
  EXPECT_LT(worst, 1e-10);
}

// ---- weight norm ------------------------------------------------------------------------------

TEST(WeightNormDense, GradientWithBias) {
  WeightNormDense<double> layer(4, 3, true);
  expect_layer_gradients(layer, random_matrix(5, 4, 41));
}

TEST(WeightNormDense, GradientWithoutBias) {
  WeightNormDense<double> layer(4, 3, false);
  expect_layer_gradients(layer, random_matrix(5, 4, 42));
}

TEST(WeightNormDense, InitialEffectiveWeightIsDirectionAndScalesWithMagnitude) {
  WeightNormDense<double> layer(4, 3, true);
  std::vector<double> params(static_cast<std::size_t>(layer.parameter_count())), grads(params.size());
  layer.bind(params.data(), grads.data());
  RandomStream rng(1, StreamPurpose::kInit);
  layer.initialize({"he", 1.0}, rng);
  EXPECT_LT((*layer.weight() - layer.direction()).cwiseAbs().maxCoeff(), 1e-14);
  params[12] *= 2.0;  // g_0
  params[0] *= 3.0;   // v_00: the direction changes, the row norm stays g_0
  const Matrix<double> w = *layer.weight();
  EXPECT_NEAR(w.row(0).norm(), params[12], 1e-14);
  EXPECT_NEAR(w.row(1).norm(), params[13], 1e-14);
  Matrix<double> out;
  const Matrix<double> x = random_matrix(2, 4, 43);
  layer.forward(x, out, Mode::kTrain);
  Matrix<double> expected = x * w.transpose();
  EXPECT_LT((out - expected).cwiseAbs().maxCoeff(), 1e-13);
}

// The flat buffers' address changes with the heap's history (a resumed process, another run directory name), so
// the layer's bits must not depend on it: its bias gradient, an Eigen column sum into the buffer, summed the
// columns its packets covered by a tree and the rest in order. Placed at every float offset of a 64-byte line, the
// layer gives the same outputs and gradients, which with g = ||v|| are the dense layer's of W = v, bit for bit.
TEST(WeightNormDense, ItsBitsDoNotDependOnWhereItsParametersLie) {
  const Index inputs = 37, outputs = 45, rows = 29;
  const Matrix<float> x = random_matrix(rows, inputs, 44).cast<float>();
  const Matrix<float> dout = random_matrix(rows, outputs, 45).cast<float>();
  const auto count = static_cast<std::size_t>(WeightNormDense<float>(inputs, outputs, true).parameter_count());
  std::vector<float, Eigen::aligned_allocator<float>> params(count + 16), grads(count + 16);
  Matrix<float> reference_out, reference_din;
  std::vector<float> reference_grads;
  for (std::size_t offset = 0; offset < 16; ++offset) {
    SCOPED_TRACE(offset);
    WeightNormDense<float> layer(inputs, outputs, true);
    layer.bind(params.data() + offset, grads.data() + offset);
    RandomStream rng(3, StreamPurpose::kInit);
    layer.initialize({"he", 1.0}, rng);
    Matrix<float> out, din;
    layer.forward(x, out, Mode::kTrain);
    layer.backward(x, out, dout, &din);
    const std::vector<float> layer_grads(grads.begin() + static_cast<std::ptrdiff_t>(offset),
                                         grads.begin() + static_cast<std::ptrdiff_t>(offset + count));
    if (offset == 0) {
      reference_out = out;
      reference_din = din;
      reference_grads = layer_grads;
      // The dense layer with W = v: g = ||v|| makes the effective weight v exactly.
      Dense<float> dense(inputs, outputs, true);
      std::vector<float> dense_params(static_cast<std::size_t>(dense.parameter_count()));
      std::vector<float> dense_grads(dense_params.size());
      std::copy_n(params.begin(), inputs * outputs, dense_params.begin());
      std::copy_n(params.begin() + inputs * outputs + outputs, outputs, dense_params.begin() + inputs * outputs);
      dense.bind(dense_params.data(), dense_grads.data());
      Matrix<float> dense_out, dense_din;
      dense.forward(x, dense_out, Mode::kTrain);
      dense.backward(x, dense_out, dout, &dense_din);
      EXPECT_EQ(out, dense_out);
      EXPECT_EQ(din, dense_din);
      EXPECT_TRUE(std::equal(dense_grads.begin() + inputs * outputs, dense_grads.end(),
                             layer_grads.begin() + inputs * outputs + outputs));
      continue;
    }
    EXPECT_EQ(out, reference_out);
    EXPECT_EQ(din, reference_din);
    EXPECT_EQ(layer_grads, reference_grads);
  }
}

// ---- convolution and pooling ------------------------------------------------------------------

// Direct cross-correlation with zero padding k/2, as in PyTorch's Conv2d.
Matrix<double> naive_conv(const Matrix<double>& x, FeatureMapShape in, const Matrix<double>& w, const double* bias,
                          Index out_channels, Index k) {
  const Index pad = k / 2;
  Matrix<double> y = Matrix<double>::Zero(x.rows(), out_channels * in.area());
  for (Index n = 0; n < x.rows(); ++n) {
    for (Index o = 0; o < out_channels; ++o) {
      for (Index py = 0; py < in.height; ++py) {
        for (Index px = 0; px < in.width; ++px) {
          double s = bias != nullptr ? bias[o] : 0.0;
          for (Index c = 0; c < in.channels; ++c) {
            for (Index ky = 0; ky < k; ++ky) {
              for (Index kx = 0; kx < k; ++kx) {
                const Index iy = py + ky - pad, ix = px + kx - pad;
                if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;
                s += w(o, (c * k + ky) * k + kx) * x(n, c * in.area() + iy * in.width + ix);
              }
            }
          }
          y(n, o * in.area() + py * in.width + px) = s;
        }
      }
    }
  }
  return y;
}

void check_conv_forward(FeatureMapShape in, Index out_channels, Index k, bool bias) {
  Conv2d<double> conv(in, out_channels, k, bias);
  BoundLayer bound(conv);
  const Matrix<double> x = random_matrix(3, in.size(), 51);
  Matrix<double> y;
  conv.forward(x, y, Mode::kTrain);
  const Matrix<double> expected =
      naive_conv(x, in, *conv.weight(), bias ? conv.bias()->data() : nullptr, out_channels, k);
  ASSERT_EQ(y.cols(), expected.cols());
  EXPECT_LT((y - expected).cwiseAbs().maxCoeff(), 1e-12) << "kernel " << k;
}

TEST(Conv2d, ForwardMatchesNaiveConvolution) {
  check_conv_forward({2, 5, 4}, 3, 3, true);
  check_conv_forward({3, 6, 6}, 4, 3, false);
  check_conv_forward({2, 4, 3}, 2, 5, true);  // kernel wider than the image
  check_conv_forward({3, 4, 4}, 2, 1, false);
  check_conv_forward({2, 2, 1}, 3, 5, true);  // every offset but the centre's leaves the image entirely
}

TEST(Conv2d, ShapesAndWeightView) {
  Conv2d<double> conv({3, 32, 32}, 32, 3, true);
  EXPECT_EQ(conv.output_width(3 * 32 * 32), 32 * 32 * 32);
  EXPECT_EQ(conv.parameter_count(), 32 * 27 + 32);
  BoundLayer bound(conv);
  EXPECT_EQ(conv.weight()->rows(), 32);
  EXPECT_EQ(conv.weight()->cols(), 27);
  EXPECT_EQ(conv.weight()->data(), bound.params.data());
  EXPECT_ANY_THROW(Conv2d<double>({3, 8, 8}, 4, 2, false));
}

// Backward takes forward's columns for dW only where they are its own input's: after a forward of another input, and
// after a backward whose input gradient overwrote them, it gives what a layer that just ran its input's forward gives.
TEST(Conv2d, BackwardUsesForwardsColumnsOnlyForForwardsInput) {
  const FeatureMapShape shape{2, 5, 4};
  Conv2d<double> conv(shape, 3, 3, true), reference(shape, 3, 3, true);
  BoundLayer bound(conv), bound_reference(reference);
  ASSERT_EQ(bound.params, bound_reference.params);
  const Matrix<double> x1 = random_matrix(3, shape.size(), 71), x2 = random_matrix(3, shape.size(), 72);
  const Matrix<double> dy = random_matrix(3, 3 * shape.area(), 73);
  Matrix<double> y, din, y_reference, din_reference;
  reference.forward(x2, y_reference, Mode::kTrain);
  reference.backward(x2, y_reference, dy, &din_reference);
  conv.forward(x1, y, Mode::kTrain);
  conv.backward(x2, y, dy, &din);  // not the input forward saw
  EXPECT_EQ(bound.grads, bound_reference.grads) << "backward of another input than forward's";
  EXPECT_TRUE(din == din_reference);
  std::fill(bound.grads.begin(), bound.grads.end(), 0.0);
  conv.backward(x2, y, dy, &din);  // the columns now hold the last input gradient's
  EXPECT_EQ(bound.grads, bound_reference.grads) << "a second backward without a forward";
  EXPECT_TRUE(din == din_reference);
  // A buffer refilled between two backward calls, as Network::backward_rows refills its gathered rows; without an
  // input gradient (a first layer) the columns are still the first call's.
  Matrix<double> rows = x1;
  conv.backward(rows, y, dy, nullptr);
  rows = x2;
  conv.backward(rows, y, dy, nullptr);
  EXPECT_EQ(bound.grads, bound_reference.grads) << "a refilled buffer";
}

TEST(Conv2d, GradientWithBias) {
  Conv2d<double> conv({2, 5, 4}, 3, 3, true);
  expect_layer_gradients(conv, random_matrix(3, 2 * 5 * 4, 52));
}

TEST(Conv2d, GradientWithoutBiasSeveralChannels) {
  Conv2d<double> conv({4, 4, 4}, 5, 3, false);
  expect_layer_gradients(conv, random_matrix(2, 4 * 4 * 4, 53));
}

TEST(Conv2d, GradientKernelFive) {
  Conv2d<double> conv({2, 4, 3}, 2, 5, true);
  expect_layer_gradients(conv, random_matrix(2, 2 * 4 * 3, 54));
}

TEST(Pooling, MaxForwardValues) {
  Pooling<double> pool({1, 2, 4}, PoolKind::kMax);
  Matrix<double> x(1, 8), y;
  x << 1, 5, -1, -2,  //
      3, 2, -3, -0.5;
  pool.forward(x, y, Mode::kTrain);
  ASSERT_EQ(y.cols(), 2);
  EXPECT_EQ(y(0, 0), 5);
  EXPECT_EQ(y(0, 1), -0.5);
  Pooling<double> avg({1, 2, 4}, PoolKind::kAverage);
  avg.forward(x, y, Mode::kTrain);
  EXPECT_DOUBLE_EQ(y(0, 0), 2.75);
  EXPECT_DOUBLE_EQ(y(0, 1), -1.625);
  EXPECT_ANY_THROW(Pooling<double>({1, 1, 4}, PoolKind::kMax));  // no whole window
  EXPECT_ANY_THROW(Pooling<double>({1, 4, 1}, PoolKind::kAverage));
}

// Sides that are not multiples of the window lose their last rows and columns (floor, as PyTorch's pooling): 3 x 5
// gives 1 x 2 windows, the last row and column take no part and get no gradient.
TEST(Pooling, OddSidesLeaveTheLastRowAndColumnOut) {
  for (const PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
    Pooling<double> pool({1, 3, 5}, kind);
    EXPECT_EQ(pool.output_shape(), (FeatureMapShape{1, 1, 2}));
    Matrix<double> x(1, 15), y, dx;
    x << 1, 5, -1, -2, 90,  //
        3, 2, -3, -0.5, 91,  //
        92, 93, 94, 95, 96;
    pool.forward(x, y, Mode::kTrain);
    ASSERT_EQ(y.cols(), 2);
    EXPECT_DOUBLE_EQ(y(0, 0), kind == PoolKind::kMax ? 5.0 : 2.75);
    EXPECT_DOUBLE_EQ(y(0, 1), kind == PoolKind::kMax ? -0.5 : -1.625);
    Matrix<double> dy(1, 2);
    dy << 10, 20;
    dx.setConstant(1, 15, 7.0);  // stale values must not survive
    pool.backward(x, y, dy, &dx);
    for (const Index j : {4, 9, 10, 11, 12, 13, 14}) EXPECT_EQ(dx(0, j), 0.0) << j;
    EXPECT_DOUBLE_EQ(dx.sum(), 30.0);
  }
}

// The first maximum of each 2 x 2 window in scan order (top left, top right, bottom left, bottom right), taking a
// candidate only where it is greater: on ties the earlier one, -0 before +0, and a NaN in front keeps its place.
// The 2 x 2 max window has a path of its own (pooling.cpp); this scan is what it must give, bit for bit, in the
// vectorised loop (20 windows per output row) and in its scalar remainder.
TEST(Pooling, MaxTwoByTwoTakesTheFirstMaximumOfTheScan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Windows (top left, top right, bottom left, bottom right): ties, signed zeros, NaN in each place, plain maxima.
  const std::vector<std::array<float, 4>> cases = {
      {1, 1, 1, 1},     {3, -1, 2, 3},  {-0.0f, 0.0f, 0.0f, -0.0f}, {nan, 5, 6, 7},    {3, nan, 2, 4},
      {7, -2, 9, 9},    {0.5f, 0.25f, 0.75f, 0.5f}, {-3, -1, -1, -2}, {2, 2, 2, nan}, {-0.0f, -0.0f, 0.0f, -0.0f},
      {1, 2, 3, 4},     {4, 3, 2, 1},   {1, nan, nan, 0}};
  const Index width = 40, windows = width / 2, rows = 3;
  Matrix<float> x(rows, 2 * width), dy(rows, windows);
  for (Index n = 0; n < rows; ++n) {
    for (Index ox = 0; ox < windows; ++ox) {
      const auto& v = cases[static_cast<std::size_t>((ox + 5 * n) % static_cast<Index>(cases.size()))];
      x(n, 2 * ox) = v[0], x(n, 2 * ox + 1) = v[1], x(n, width + 2 * ox) = v[2], x(n, width + 2 * ox + 1) = v[3];
      dy(n, ox) = ox % 7 == 3 ? -0.0f : static_cast<float>(ox + 1 + 100 * n);
    }
  }
  Matrix<float> y, dx;
  Pooling<float> pool({1, 2, width}, PoolKind::kMax);
  pool.forward(x, y, Mode::kTrain);
  pool.backward(x, y, dy, &dx);
  ASSERT_EQ(y.cols(), windows);
  for (Index n = 0; n < rows; ++n) {
    for (Index ox = 0; ox < windows; ++ox) {
      const Index at[4] = {2 * ox, 2 * ox + 1, width + 2 * ox, width + 2 * ox + 1};
      Index first = at[0];
      for (const Index j : at) {
        if (x(n, j) > x(n, first)) first = j;
      }
      const float expected = x(n, first), got = y(n, ox);
      EXPECT_EQ(std::memcmp(&expected, &got, sizeof(float)), 0) << "example " << n << ", window " << ox;
      for (const Index j : at) {
        const float want = j == first ? 0.0f + dy(n, ox) : 0.0f, have = dx(n, j);
        EXPECT_EQ(std::memcmp(&want, &have, sizeof(float)), 0) << "example " << n << ", window " << ox << ", entry " << j;
      }
    }
  }
  EXPECT_TRUE(std::isnan(y(0, 3)));  // case 3: the NaN in front is the maximum and takes the gradient, 0 + (-0) = +0
  EXPECT_EQ(dx(0, 6), 0.0f);
  EXPECT_FALSE(std::signbit(dx(0, 6)));
  EXPECT_TRUE(std::signbit(y(0, 2)));  // case 2: -0 before +0
}

TEST(Pooling, GradientMax) {
  Pooling<double> pool({2, 4, 6}, PoolKind::kMax);
  expect_layer_gradients(pool, random_matrix(3, 48, 61));
}

TEST(Pooling, GradientAverage) {
  Pooling<double> pool({2, 4, 6}, PoolKind::kAverage);
  expect_layer_gradients(pool, random_matrix(3, 48, 62));
}

TEST(Pooling, GradientWithOddSides) {
  for (const PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
    Pooling<double> pool({2, 5, 7}, kind);
    expect_layer_gradients(pool, random_matrix(3, 70, 63));
  }
}

// ---- architectures ----------------------------------------------------------------------------

TEST(Architectures, SmallConvNetGradient) {
  auto net = make_convnet<double>({.input = {3, 8, 8}, .channels = {4, 5, 6}, .outputs = 3});
  EXPECT_EQ(net->output_width(), 3);
  EXPECT_EQ(net->weights().size(), 4u);  // three convolutions and the classifier
  net->initialize({"he", 1.0}, 7);
  expect_network_gradients(*net, random_matrix(4, 3 * 8 * 8, 71));
}

// The default ConvNet on 28 x 28 images (Fashion-MNIST): 28 -> 14 -> 7 -> 3, the classifier on 128 x 3 x 3. Five
// blocks would pool a 1 x 1 map: the error names the option that sets the blocks.
TEST(Architectures, ConvNetOn28By28ImagesPoolsOddSidesDown) {
  auto net = make_convnet<float>({.input = {1, 28, 28}, .channels = {32, 64, 128}, .outputs = 10});
  EXPECT_EQ(net->output_width(), 10);
  EXPECT_EQ(net->weights().back().matrix.cols(), 128 * 3 * 3);
  std::string message;
  try {
    make_convnet<float>({.input = {1, 28, 28}, .channels = {4, 4, 4, 4, 4}, .outputs = 10});
  } catch (const Error& error) {
    message = error.what();
  }
  EXPECT_NE(message.find("got 1 x 1 in block 5"), std::string::npos) << message;
  EXPECT_NE(message.find("model.channels"), std::string::npos) << message;
}

// make_convnet builds max pooling before the ReLU (they commute): outputs, parameter gradients and input gradients
// equal those of the papers' order conv -> BN -> ReLU -> pool, built here by hand, on data with ties and values <= 0.
TEST(Architectures, ConvNetReluAfterMaxPoolGivesThePapersOrdersValuesAndGradients) {
  const ConvNetSpec spec{.input = {2, 6, 5}, .channels = {3, 4}, .outputs = 3};
  auto built = make_convnet<double>(spec);
  std::vector<std::unique_ptr<Layer<double>>> layers;
  FeatureMapShape shape = spec.input;
  for (const Index channels : spec.channels) {
    auto conv = std::make_unique<Conv2d<double>>(shape, channels, 3, false);
    shape = conv->output_shape();
    layers.push_back(std::move(conv));
    layers.push_back(make_batch_norm<double>(shape.channels, shape.area(), {}));
    layers.push_back(std::make_unique<Relu<double>>());
    auto pool = std::make_unique<Pooling<double>>(shape, PoolKind::kMax, 2);
    shape = pool->output_shape();
    layers.push_back(std::move(pool));
  }
  layers.push_back(std::make_unique<Dense<double>>(shape.size(), spec.outputs, true));
  Network<double> papers(spec.input.size(), std::move(layers));
  ASSERT_EQ(papers.parameter_count(), built->parameter_count());
  built->initialize({"he", 1.0}, 11);
  std::copy(built->parameters().begin(), built->parameters().end(), papers.mutable_parameters().begin());
  Matrix<double> x = random_matrix(5, spec.input.size(), 74);
  for (Index j = 0; j < x.cols(); j += 7) x(1, j) = x(1, 0);  // ties
  const Matrix<double> r = random_matrix(5, spec.outputs, 75);
  for (const Mode mode : {Mode::kTrain, Mode::kEval}) {
    const Matrix<double> expected = papers.forward(x, mode);
    EXPECT_EQ(built->forward(x, mode), expected);
    papers.backward(r);
    built->backward(r);
    EXPECT_EQ(built->gradient(), papers.gradient());
  }
}

TEST(Architectures, SmallConvNetWithOddSidesGradient) {
  auto net = make_convnet<double>({.input = {2, 7, 6}, .channels = {3, 4}, .outputs = 3});
  EXPECT_EQ(net->output_width(), 3);
  net->initialize({"he", 1.0}, 9);
  expect_network_gradients(*net, random_matrix(3, 2 * 7 * 6, 73));
}

TEST(Architectures, SmallConvNetAffineBiasAveragePoolWeightNormGradient) {
  ConvNetSpec spec{.input = {2, 8, 8}, .channels = {3, 4}, .outputs = 2, .conv_bias = true,
                   .pool_kind = PoolKind::kAverage, .weight_norm = true};
  spec.batch_norm.affine = true;
  auto net = make_convnet<double>(spec);
  net->initialize({"he", 1.0}, 8);
  for (double& p : net->mutable_parameters()) p *= 1.1;  // move gamma and g off their initial values
  expect_network_gradients(*net, random_matrix(3, 2 * 8 * 8, 72));
}

TEST(Architectures, BatchNormMlpGradient) {
  for (bool weight_norm : {false, true}) {
    auto net = make_bn_mlp<double>({.inputs = 4, .hidden = {6, 5}, .outputs = 2, .weight_norm = weight_norm});
    EXPECT_EQ(net->layer_count(), 7u);  // (dense, BN, ReLU) x 2, dense
    net->initialize({"frobenius", 1.0}, 9);
    expect_network_gradients(*net, random_matrix(5, 4, 73));
  }
}

TEST(Architectures, PapersConvNetShapes) {
  auto net = make_convnet<float>({});
  EXPECT_EQ(net->input_width(), 3 * 32 * 32);
  EXPECT_EQ(net->output_width(), 2);
  // 3->32, 32->64, 64->128 (3x3, no bias), then 128*4*4 -> 2 with bias.
  EXPECT_EQ(net->parameter_count(), 32 * 27 + 64 * 32 * 9 + 128 * 64 * 9 + 2048 * 2 + 2);
  net->initialize({"frobenius", 1.0}, 1);
  for (const auto& w : net->weights()) EXPECT_NEAR(w.matrix.norm(), 1.0, 1e-4) << w.name;
  Matrix<float> x = random_matrix(4, 3 * 32 * 32, 81).cast<float>();
  const Matrix<float>& f = net->forward(x);
  EXPECT_EQ(f.rows(), 4);
  EXPECT_TRUE(f.allFinite());
  net->backward(Matrix<float>::Ones(4, 2));
  EXPECT_TRUE(net->first_nonfinite_layer().empty());
}

// Batch norm's running statistics travel with checkpoints: layer_state() / set_layer_state()
// restore evaluation outputs exactly.
TEST(LayerState, BatchNormRunningStatisticsRoundTrip) {
  BnMlpSpec spec{5, {6, 4}, 2};
  auto a = make_bn_mlp<double>(spec);
  auto b = make_bn_mlp<double>(spec);
  a->initialize({"he", 1.0}, 3);
  b->initialize({"he", 1.0}, 3);
  RandomStream rng(4, StreamPurpose::kSynthetic);
  Matrix<double> x(9, 5);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = rng.normal();
  a->forward(x, Mode::kTrain);  // moves a's running statistics
  const std::vector<double> state = a->layer_state();
  EXPECT_EQ(state.size(), 2u * (6 + 4));  // mean and variance per BN channel
  const Matrix<double> before = b->forward(x, Mode::kEval);
  const Matrix<double> expected = a->forward(x, Mode::kEval);
  EXPECT_GT((before - expected).norm(), 1e-6) << "the statistics moved, so outputs differ";
  b->set_layer_state(state);
  EXPECT_LT((b->forward(x, Mode::kEval) - expected).norm(), 1e-14);
  EXPECT_THROW(b->set_layer_state(std::vector<double>(3, 0.0)), Error);
}

}  // namespace
}  // namespace normscale
