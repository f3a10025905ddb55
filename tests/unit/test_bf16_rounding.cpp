// bf16 rounding (model/bf16_rounding.hpp): the bits it gives, the optimizer's update writing the weights' rounding
// beside them, and a bf16 forward that takes that rounding only while no other writer has touched the weights.
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/model/bf16_rounding.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/model/network.hpp"
#include "normscale/model/team_parallel.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/optim/sgd.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace normscale {
namespace {

float from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }

// Round to nearest, ties to the even bf16, on normal and subnormal values alike (VCVTNEPS2BF16 would flush the
// subnormals); infinities stay, a NaN stays a NaN even where its payload is all in the dropped bits.
TEST(Bf16Rounding, RoundsToNearestEvenAndKeepsNaN) {
  const std::vector<std::pair<std::uint32_t, std::uint16_t>> cases = {
      {0x3f800000u, 0x3f80u},  // 1
      {0x3f808000u, 0x3f80u},  // 1 + 2^-8: a tie, to the even 1
      {0x3f818000u, 0x3f82u},  // 1 + 3 x 2^-8: a tie, up to the even 1 + 2^-6
      {0x3f808001u, 0x3f81u},  // just above the tie: up
      {0x3f807fffu, 0x3f80u},  // just below: down
      {0xbf818000u, 0xbf82u},  // negative: the same, by magnitude
      {0x00008000u, 0x0000u},  // subnormal tie to the even zero
      {0x00018000u, 0x0002u},  // subnormal tie up to the even 2
      {0x0000c000u, 0x0001u},  // subnormal above the tie
      {0x7f7fffffu, 0x7f80u},  // the largest float rounds up to infinity
      {0x7f800000u, 0x7f80u},  // +inf
      {0xff800000u, 0xff80u},  // -inf
  };
  for (const auto& [bits, expected] : cases) {
    EXPECT_EQ(bf16_bits(from_bits(bits)), expected) << std::hex << "bits 0x" << bits;
  }
  for (const std::uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xffffffffu}) {  // quiet, payload only low, negative
    const std::uint16_t rounded = bf16_bits(from_bits(nan));
    EXPECT_TRUE(std::isnan(from_bits(static_cast<std::uint32_t>(rounded) << 16))) << std::hex << nan << " -> " << rounded;
  }
}

// The update that writes the rounding changes no parameter (the same bits as without it), on one thread and split
// over two, with and without momentum; each entry is the rounding of the new parameter.
TEST(Bf16Rounding, SgdWritesEachNewParameterRoundedBesideIt) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> start(100003), grad(start.size());  // more than one share per thread
  for (float& w : start) w = normal(rng);
  for (float& g : grad) g = normal(rng);
  start[7] = from_bits(0x3f808000u);  // ties and a subnormal among them
  start[8] = from_bits(0x00018000u);
  for (const int threads : {1, 2}) {
    set_gemm_threads(threads);
    for (const double momentum : {0.0, 0.9}) {
      Sgd<float> plain(0.05, momentum), rounding(0.05, momentum);
      std::vector<float> expected = start, params = start;
      std::vector<std::uint16_t> rounded(params.size(), 0xdeadu);
      for (int step = 0; step < 3; ++step) {
        plain.step(expected, grad, 1e-3);
        rounding.step(params, grad, 1e-3, rounded);
      }
      ASSERT_EQ(params, expected) << threads << " threads, momentum " << momentum;
      for (std::size_t i = 0; i < params.size(); ++i) {
        ASSERT_EQ(rounded[i], bf16_bits(params[i])) << "entry " << i << ", " << threads << " threads";
      }
    }
  }
  set_gemm_threads(1);
  Sgd<float> sgd(0.05, 0.0);
  std::vector<float> params = start;
  std::vector<std::uint16_t> short_rounding(params.size() - 1);
  EXPECT_THROW(sgd.step(params, grad, 0.0, short_rounding), Error);
}

// Forward, backward (gradient of the outputs' squared norm / 2), and an SGD step of the parameters.
struct Twin {
  std::unique_ptr<Network<float>> net = make_mlp<float>({23, {40, 31}, 5, "relu", true});
  Sgd<float> sgd{0.01, 0.5};
  Matrix<float> outputs;

  void forward_backward(const Matrix<float>& x) {
    outputs = net->forward(x);
    net->backward(outputs);
  }
};

// With bf16 products a network whose update keeps the weights' rounding (Network::update_parameters) trains bit for
// bit as one whose forward rounds them itself; after a write through mutable_parameters() the kept rounding is
// stale and the forward rounds the new weights (a forward on the stale rounding would give other outputs).
TEST(Bf16Rounding, ForwardTakesTheUpdatesRoundingOnlyWhileNothingElseWroteTheWeights) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const ScopedGemmPrecision bf16(GemmPrecision::kBf16);
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  Matrix<float> x(17, 23);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  Twin kept, rounding_itself;
  kept.net->initialize({"he", 1}, 4);
  rounding_itself.net->initialize({"he", 1}, 4);
  EXPECT_FALSE(kept.net->rounded_parameters().current);
  for (int step = 0; step < 5; ++step) {
    kept.forward_backward(x);
    rounding_itself.forward_backward(x);
    ASSERT_TRUE(kept.outputs == rounding_itself.outputs) << "step " << step;
    kept.net->update_parameters([&](std::vector<float>& params, std::span<std::uint16_t> rounded) {
      kept.sgd.step(params, kept.net->gradient(), 0.0, rounded);
    });
    rounding_itself.sgd.step(rounding_itself.net->mutable_parameters(), rounding_itself.net->gradient(), 0.0);
    ASSERT_EQ(kept.net->parameters(), rounding_itself.net->parameters()) << "step " << step;
    // The kept rounding is what the forward takes: current, and the weights' bits.
    const RoundedParameters& rounding = kept.net->rounded_parameters();
    ASSERT_TRUE(rounding.current);
    ASSERT_EQ(rounding.values.size(), kept.net->parameters().size());
    for (std::size_t i = 0; i < rounding.values.size(); ++i) {
      ASSERT_EQ(rounding.values[i], bf16_bits(kept.net->parameters()[i])) << "parameter " << i;
    }
  }
  for (Twin* twin : {&kept, &rounding_itself}) {
    for (float& w : twin->net->mutable_parameters()) w *= -0.5f;
  }
  EXPECT_FALSE(kept.net->rounded_parameters().current);
  kept.forward_backward(x);
  rounding_itself.forward_backward(x);
  EXPECT_TRUE(kept.outputs == rounding_itself.outputs) << "forward after another writer";
  EXPECT_EQ(kept.net->gradient(), rounding_itself.net->gradient());
}

// The trainer's step goes through the update that keeps the rounding (bf16 products), and keeps none in float32.
TEST(Bf16Rounding, TrainerStepKeepsTheRoundingOnlyWithBf16Products) {
  if (!bf16_gemm_supported()) GTEST_SKIP() << "no bf16 dot products on this CPU (or no oneDNN)";
  const Dataset d = testing::random_classification(64, 20, 4, 3, testing::LabelRule::kCyclic);
  for (const GemmPrecision precision : {GemmPrecision::kFloat32, GemmPrecision::kBf16}) {
    const ScopedGemmPrecision products(precision);
    auto net = make_mlp<float>({20, {16}, 4, "relu", true});
    net->initialize({"he", 1}, 2);
    CrossEntropy<float> objective;
    LocalComm comm;
    TrainerOptions options;
    options.batch = 16;
    options.lr = 0.05;
    Trainer<float> trainer(options, comm, d, d.rows, *net, objective);
    trainer.step();
    const bool bf16 = precision == GemmPrecision::kBf16;
    EXPECT_EQ(net->rounded_parameters().current, bf16) << (bf16 ? "bf16" : "float32");
    if (bf16) {
      ASSERT_EQ(net->rounded_parameters().values.size(), net->parameters().size());
      EXPECT_EQ(net->rounded_parameters().values.back(), bf16_bits(net->parameters().back()));
    }
  }
}

}  // namespace
}  // namespace normscale
