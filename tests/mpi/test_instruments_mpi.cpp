// Margins, output magnitudes and neural collapse computed on P ranks equal the one-process values.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/metrics/margins.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/config.hpp"
#include "normscale/data/data_shard.hpp"
#include "normscale/train/instruments.hpp"
#include "normscale/train/trainer.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace normscale {
namespace {

constexpr Index kRows = 96;

Dataset data_set() {
  return testing::random_classification(kRows, 7, 3, 8, testing::LabelRule::kCyclic);
}

nlohmann::json instruments(Communicator& comm, const Dataset& train) {
  auto net = make_mlp<double>({7, {9}, 3, "relu", true});
  net->initialize({"he", 1.0}, 2);
  Square<double> square(SquareTargets{});
  TrainerOptions o;
  o.batch = kFullBatch;
  o.virtual_shards = 4;
  o.lr = 0.05;
  Trainer<double> trainer(o, comm, train, kRows, *net, square);
  for (int t = 0; t < 20; ++t) trainer.step();
  return evaluate_instruments(trainer, *net, comm, train, 2.5);
}

// Every number in `a` equals the one at the same place in `b` to a relative 1e-9.
void expect_same_numbers(const nlohmann::json& a, const nlohmann::json& b, const std::string& where) {
  if (a.is_number()) {
    ASSERT_TRUE(b.is_number()) << where;
    const double x = a.get<double>(), y = b.get<double>();
    EXPECT_NEAR(x, y, 1e-9 * std::max(1.0, std::abs(y))) << where;
    return;
  }
  ASSERT_EQ(a.type(), b.type()) << where;
  if (a.is_object()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (const auto& [key, value] : a.items()) expect_same_numbers(value, b.at(key), where + "." + key);
  } else if (a.is_array()) {
    ASSERT_EQ(a.size(), b.size()) << where;
    for (std::size_t i = 0; i < a.size(); ++i) expect_same_numbers(a[i], b[i], where + "[" + std::to_string(i) + "]");
  }
}

TEST(InstrumentsMpi, DistributedEqualsOneProcess) {
  MpiComm comm;
  LocalComm single;
  const Dataset full = data_set();
  const ShardRange mine = DataShard{comm.rank(), comm.size(), 4}.rows_of(kRows);
  const nlohmann::json distributed = instruments(comm, slice_rows(full, mine.begin, mine.size()));
  const nlohmann::json reference = instruments(single, full);
  ASSERT_TRUE(reference.contains("neural_collapse")) << reference.dump();
  ASSERT_TRUE(reference.contains("margins"));
  expect_same_numbers(distributed, reference, "instruments");
  // The minimum margin is a real example's margin (of the 1-process outputs).
  EXPECT_LT(reference["margins"]["min"].get<double>(), reference["margins"]["p10"].get<double>() + 1e-12);
  EXPECT_GT(reference["neural_collapse"]["nc1"].get<double>(), 0.0);
  EXPECT_EQ(reference["margins"]["histogram"]["counts"].size(), 52u);
}

// Theory III's instruments on a set whose margins are known by hand: w = (2, 0) on the eight points below has
// normalized margins y w.x / ||w|| of 0.5 (the two support vectors), 1.5, 2, 1, 2, 0.8 and 0.9, so the smallest
// is 0.5 and 2 of 8 examples lie within 5% of it; on every rank count.
TEST(InstrumentsMpi, NormalizedMarginAndNearMinimalShareOfAKnownSet) {
  Dataset d;
  d.name = "known-margins";
  d.cols = 2;
  d.num_classes = 2;
  d.features = {0.5f, 0.5f, -0.5f, 0.5f, 1.5f, 2.f, 2.f, -1.f, -1.f, -1.f, -2.f, 1.f, -0.8f, 3.f, 0.9f, -2.f};
  d.labels = {1, 0, 1, 1, 0, 0, 0, 1};
  d.rows = 8;
  MpiComm comm;
  const ShardRange mine = DataShard{comm.rank(), comm.size(), 4}.rows_of(d.rows);
  const Dataset local = slice_rows(d, mine.begin, mine.size());
  auto net = make_mlp<double>({2, {}, 1, "identity", false});
  net->mutable_parameters() = {2.0, 0.0};
  Square<double> square(SquareTargets{});
  TrainerOptions o;
  o.batch = kFullBatch;
  o.virtual_shards = 4;
  Trainer<double> trainer(o, comm, local, d.rows, *net, square);
  const nlohmann::json result = evaluate_instruments(trainer, *net, comm, local, 2.0);
  EXPECT_NEAR(result["normalized_margin"].get<double>(), 0.5, 1e-7);
  EXPECT_DOUBLE_EQ(result["near_min_margin_fraction"].get<double>(), 0.25);
  // Percentiles are exact (numpy's default) over all ranks' examples: sorted 0.5 0.5 0.8 0.9 1 1.5 2 2, so p50 is
  // (0.9 + 1) / 2 and p90 is 2; the magnitudes |f| / rho = |x_1| are the same values.
  EXPECT_NEAR(result["margins"]["p50"].get<double>(), 0.95, 1e-7);
  EXPECT_NEAR(result["margins"]["p90"].get<double>(), 2.0, 1e-7);
  EXPECT_NEAR(result["margins"]["p10"].get<double>(), 0.5, 1e-7);
  EXPECT_NEAR(result["output_magnitude"]["p50"].get<double>(), 0.95, 1e-7);
  // Not separated (a negative margin): no near-minimal share.
  net->mutable_parameters() = {-2.0, 0.0};
  const nlohmann::json flipped = evaluate_instruments(trainer, *net, comm, local, 2.0);
  EXPECT_LT(flipped["normalized_margin"].get<double>(), 0.0);
  EXPECT_FALSE(flipped.contains("near_min_margin_fraction"));
}

}  // namespace
}  // namespace normscale
