// Margins, output magnitudes and neural collapse computed on P ranks equal the one-process values.
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/metrics/margins.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/config.hpp"
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
  Square<double> square({});
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

}  // namespace
}  // namespace normscale
