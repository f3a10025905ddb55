// for_each_range: the ranges cover every index once, run on the GEMMs' thread team when it has two threads,
// and the passes split over it (ReLU, SGD's update, the dense layers' bias rows and bias gradient, the convolutions'
// im2col, col2im and layout copies, batch norm's sums and passes, pooling) give the same bits as on one thread.
#include "normscale/model/batch_norm.hpp"
#include "normscale/model/conv2d.hpp"
#include "normscale/model/dense.hpp"
#include "normscale/model/gemm.hpp"
#include "normscale/model/pooling.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/model/team_parallel.hpp"
#include "normscale/optim/sgd.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern "C" void openblas_set_num_threads(int threads);

namespace normscale {
namespace {

class TeamParallel : public ::testing::Test {
 protected:
  void TearDown() override { set_gemm_threads(1); }
};

std::vector<std::pair<Index, Index>> ranges_of(Index count, Index min_per_thread, std::set<std::thread::id>* threads) {
  std::vector<std::pair<Index, Index>> ranges;
  std::mutex mutex;
  for_each_range(count, min_per_thread, [&](Index begin, Index end) {
    const std::lock_guard<std::mutex> lock(mutex);
    ranges.emplace_back(begin, end);
    if (threads != nullptr) threads->insert(std::this_thread::get_id());
  });
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

TEST_F(TeamParallel, RangesCoverEveryIndexOnceOnTheTeamsThreads) {
  set_gemm_threads(2);
  const Index count = 100003;
  std::set<std::thread::id> threads;
  const auto ranges = ranges_of(count, 1000, &threads);
  ASSERT_FALSE(ranges.empty());
  Index next = 0;
  for (const auto& [begin, end] : ranges) {
    EXPECT_EQ(begin, next) << "a gap or an overlap";
    EXPECT_LT(begin, end);
    next = end;
  }
  EXPECT_EQ(next, count);
  const int team = team_threads(count, 1000);
  EXPECT_EQ(static_cast<int>(ranges.size()), team);
  EXPECT_EQ(static_cast<int>(threads.size()), team);
  if (team == 1) GTEST_SKIP() << "no OpenMP runtime loaded (a build without oneDNN): the ranges ran as one";
  EXPECT_EQ(team, 2);
}

TEST_F(TeamParallel, SmallOrSingleThreadedWorkIsOneCall) {
  set_gemm_threads(2);
  EXPECT_EQ(ranges_of(1500, 1000, nullptr), (std::vector<std::pair<Index, Index>>{{0, 1500}}));
  EXPECT_TRUE(ranges_of(0, 1, nullptr).empty());
  set_gemm_threads(1);
  EXPECT_EQ(ranges_of(100000, 1, nullptr), (std::vector<std::pair<Index, Index>>{{0, 100000}}));
}

// ReLU forward and backward and SGD's update (with and without momentum) on 1 and on 2 threads.
TEST_F(TeamParallel, SplitPassesGiveTheSameBitsAsOneThread) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  Matrix<float> in(300, 500), dout(300, 500);
  for (Index i = 0; i < in.size(); ++i) {
    in.data()[i] = normal(rng);
    dout.data()[i] = normal(rng);
  }
  std::vector<float> grad(200001);
  for (float& g : grad) g = normal(rng);
  const auto run = [&](int threads) {
    set_gemm_threads(threads);
    Relu<float> relu;
    Matrix<float> out, din;
    relu.forward(in, out, Mode::kTrain);
    relu.backward(in, out, dout, &din);
    std::vector<float> plain(grad.size(), 0.5f), heavy(grad.size(), 0.5f);
    Sgd<float> sgd(0.1, 0.0), momentum(0.1, 0.9);
    for (int step = 0; step < 3; ++step) {
      sgd.step(plain, grad, 1e-3);
      momentum.step(heavy, grad, 1e-3);
    }
    return std::make_tuple(out, din, plain, heavy);
  };
  const auto one = run(1), two = run(2);
  EXPECT_TRUE(std::get<0>(one) == std::get<0>(two)) << "ReLU forward";
  EXPECT_TRUE(std::get<1>(one) == std::get<1>(two)) << "ReLU backward";
  EXPECT_EQ(std::get<2>(one), std::get<2>(two)) << "SGD";
  EXPECT_EQ(std::get<3>(one), std::get<3>(two)) << "SGD with momentum";
  // The passes did what they say.
  for (Index i = 0; i < in.size(); ++i) {
    ASSERT_EQ(std::get<0>(one).data()[i], std::max(in.data()[i], 0.0f));
    ASSERT_EQ(std::get<1>(one).data()[i], in.data()[i] > 0.0f ? dout.data()[i] : 0.0f);
  }
  set_gemm_threads(2);
  if (team_threads(in.size(), 1) < 2) GTEST_SKIP() << "no OpenMP runtime loaded: nothing was split";
}

// The dense layer's bias passes: with zero weights the forward output is the bias in every row, and the bias
// gradient is each column's sum in row order, bit for bit on 1 and on 2 threads (wide enough to be split).
TEST_F(TeamParallel, DenseBiasRowsAndGradientAreExactOnTheTeam) {
  const Index inputs = 3, outputs = 5000, rows = 300;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  Matrix<float> in(rows, inputs), dout(rows, outputs);
  for (Index i = 0; i < in.size(); ++i) in.data()[i] = normal(rng);
  for (Index i = 0; i < dout.size(); ++i) dout.data()[i] = normal(rng);
  std::vector<float> bias(outputs);
  for (float& b : bias) b = normal(rng);
  std::vector<float> expected_db(outputs, 0.0f);
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < outputs; ++c) expected_db[c] += dout(r, c);
  }
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    set_gemm_threads(threads);
    Dense<float> dense(inputs, outputs, true);
    std::vector<float> params(dense.parameter_count(), 0.0f), grads(params.size(), -1.0f);
    std::copy(bias.begin(), bias.end(), params.begin() + inputs * outputs);
    dense.bind(params.data(), grads.data());
    Matrix<float> out;
    dense.forward(in, out, Mode::kTrain);
    for (Index r = 0; r < rows; ++r) {
      for (Index c = 0; c < outputs; ++c) ASSERT_EQ(out(r, c), bias[c]) << "row " << r << ", column " << c;
    }
    dense.backward(in, out, dout, nullptr);
    const std::vector<float> db(grads.begin() + inputs * outputs, grads.end());
    EXPECT_EQ(db, expected_db);
  }
  if (team_threads(rows * outputs, kElementsPerThread) < 2) GTEST_SKIP() << "no OpenMP runtime: nothing was split";
}

// OpenBLAS's products on a team of two run split over it (slices of C's columns, or of its rows where it has more,
// each on OpenBLAS's calling thread alone): what one thread gives to the rounding (OpenBLAS's kernels sum an
// element's products in an order that depends on the elements around it, so the last bits move, as with OpenBLAS's
// own threads), and the same bits every time, for every orientation of the operands, both directions of the split,
// slices off the vector width, float and double.
template <class T>
void expect_openblas_products_on_the_team(double tolerance) {
  std::mt19937 rng(19);
  std::normal_distribution<T> normal;
  struct Shape {
    Index m, n, k;
  };
  for (const Shape& shape : {Shape{300, 1000, 64}, Shape{1000, 300, 64}, Shape{333, 1001, 37}}) {
    for (const bool trans_a : {false, true}) {
      for (const bool trans_b : {false, true}) {
        const Index m = shape.m, n = shape.n, k = shape.k;
        const Index lda = (trans_a ? m : k) + 3, ldb = (trans_b ? k : n) + 5, ldc = n + 7;  // padded leading dims
        std::vector<T> a((trans_a ? k : m) * lda), b((trans_b ? n : k) * ldb), c0(m * ldc);
        for (T& x : a) x = normal(rng);
        for (T& x : b) x = normal(rng);
        for (T& x : c0) x = normal(rng);
        std::vector<std::vector<T>> results;
        for (const int threads : {1, 2, 2}) {
          set_gemm_threads(threads);
          std::vector<T> c = c0;
          gemm<T>(trans_a, trans_b, m, n, k, T(0.5), a.data(), lda, b.data(), ldb, T(-1), c.data(), ldc);
          results.push_back(std::move(c));
        }
        const std::string what = fmt::format("{} x {} x {}, transposed {} {}", m, n, k, trans_a, trans_b);
        EXPECT_EQ(results[1], results[2]) << what << ": 2 threads, twice";
        double largest = 0.0;
        for (std::size_t i = 0; i < c0.size(); ++i) {
          largest = std::max(largest, static_cast<double>(std::abs(results[1][i] - results[0][i])) /
                                          (1.0 + std::abs(static_cast<double>(results[0][i]))));
        }
        EXPECT_LT(largest, tolerance) << what << ": 1 and 2 threads";
        // Every element written: (0.5 A B - C) differs from C.
        Index unchanged = 0;
        for (Index i = 0; i < m; ++i) {
          for (Index j = 0; j < n; ++j) unchanged += results[1][i * ldc + j] == c0[i * ldc + j];
        }
        EXPECT_EQ(unchanged, 0) << what;
      }
    }
  }
}

TEST_F(TeamParallel, OpenBlasProductsSplitOverTheTeamAgreeWithOneThread) {
  const GemmBackend before = active_gemm_backend();
  set_gemm_backend(GemmBackend::kOpenBlas);
  expect_openblas_products_on_the_team<float>(1e-5);
  expect_openblas_products_on_the_team<double>(1e-13);
  set_gemm_backend(before);
  set_gemm_threads(2);
  if (team_threads(1000, 1) < 2) GTEST_SKIP() << "no OpenMP runtime loaded: nothing was split";
}

// float64: its products are OpenBLAS's, kept on one thread (OpenBLAS's own 2-thread split changes the last bits),
// so only the convolution's own passes split.
TEST_F(TeamParallel, ConvolutionPassesAreExactOnTheTeam) {
  const FeatureMapShape shape{4, 16, 16};
  const Index out_channels = 8, rows = 32;  // im2col rows of 8,192 pixels: every pass has work for two threads
  std::mt19937 rng(13);
  std::normal_distribution<double> normal;
  Matrix<double> in(rows, shape.size()), dout(rows, out_channels * shape.area());
  for (Index i = 0; i < in.size(); ++i) in.data()[i] = normal(rng);
  for (Index i = 0; i < dout.size(); ++i) dout.data()[i] = normal(rng);
  Conv2d<double> conv(shape, out_channels, 3, true);
  std::vector<double> params(conv.parameter_count()), grads(params.size());
  for (double& p : params) p = normal(rng);
  conv.bind(params.data(), grads.data());
  std::vector<Matrix<double>> outs, dins;
  std::vector<std::vector<double>> dws;
  for (const int threads : {1, 2}) {
    set_gemm_threads(threads);
    openblas_set_num_threads(1);
    Matrix<double> out, din;
    conv.forward(in, out, Mode::kTrain);
    conv.backward(in, out, dout, &din);
    outs.push_back(out);
    dins.push_back(din);
    dws.push_back(grads);
  }
  EXPECT_TRUE(outs[0] == outs[1]) << "forward";
  EXPECT_TRUE(dins[0] == dins[1]) << "input gradient";
  EXPECT_EQ(dws[0], dws[1]) << "weight and bias gradient";
  set_gemm_threads(2);
  if (team_threads(shape.channels, 1) < 2) GTEST_SKIP() << "no OpenMP runtime loaded: nothing was split";
}

// The ConvNet's other layers: batch norm (its per-channel sums split by channel, its passes by row) and pooling
// (by example), forward and backward.
TEST_F(TeamParallel, BatchNormAndPoolingAreExactOnTheTeam) {
  const FeatureMapShape shape{8, 16, 16};
  const Index rows = 64;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal;
  Matrix<float> in(rows, shape.size()), dout(rows, shape.size()), pooled_dout(rows, shape.size() / 4);
  for (Index i = 0; i < in.size(); ++i) in.data()[i] = normal(rng);
  for (Index i = 0; i < dout.size(); ++i) dout.data()[i] = normal(rng);
  for (Index i = 0; i < pooled_dout.size(); ++i) pooled_dout.data()[i] = normal(rng);
  BatchNormOptions options;
  options.affine = true;
  BatchNorm<float> norm(shape.channels, shape.area(), options);
  std::vector<float> params(norm.parameter_count()), grads(params.size());
  for (float& p : params) p = normal(rng);
  norm.bind(params.data(), grads.data());
  std::vector<std::vector<Matrix<float>>> results;
  std::vector<std::vector<float>> norm_grads;
  for (const int threads : {1, 2}) {
    set_gemm_threads(threads);
    std::vector<Matrix<float>> r(6);
    norm.forward(in, r[0], Mode::kTrain);
    norm.backward(in, r[0], dout, &r[1]);
    norm_grads.push_back(grads);
    for (const PoolKind kind : {PoolKind::kMax, PoolKind::kAverage}) {
      Pooling<float> pool(shape, kind, 2);
      const std::size_t at = kind == PoolKind::kMax ? 2 : 4;
      pool.forward(in, r[at], Mode::kTrain);
      pool.backward(in, r[at], pooled_dout, &r[at + 1]);
    }
    results.push_back(r);
  }
  const char* what[] = {"batch norm forward", "batch norm input gradient", "max pooling forward",
                        "max pooling input gradient", "average pooling forward", "average pooling input gradient"};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_TRUE(results[0][i] == results[1][i]) << what[i];
  EXPECT_EQ(norm_grads[0], norm_grads[1]) << "batch norm's gamma and beta gradients";
  set_gemm_threads(2);
  if (team_threads(rows, 1) < 2) GTEST_SKIP() << "no OpenMP runtime loaded: nothing was split";
}

}  // namespace
}  // namespace normscale
