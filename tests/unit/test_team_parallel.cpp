// for_each_range: the ranges cover every index once, run on the GEMMs' thread team when it has two threads,
// and the passes split over it (ReLU, SGD's update, the dense layers' bias rows and bias gradient) give the same
// bits as on one thread.
#include "normscale/model/dense.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/model/team_parallel.hpp"
#include "normscale/optim/sgd.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

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

}  // namespace
}  // namespace normscale
