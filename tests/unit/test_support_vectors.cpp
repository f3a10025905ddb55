// Support-vector CSV export, top-k ranking and alpha statistics on hand-made stores.
#include "normscale/metrics/support_vectors.hpp"

#include "normscale/core/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace normscale {
namespace {

namespace fs = std::filesystem;

fs::path temp_path(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("normscale_test_support_vectors_" + name);
  fs::remove(p);
  return p;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A classification shard holding global ids [100, 105) with labels 2,0,1,1,0.
Dataset classification_shard() {
  Dataset d;
  d.name = "shard";
  d.rows = 5;
  d.cols = 1;
  d.first_id = 100;
  d.features.assign(5, 0.0f);
  d.labels = {2, 0, 1, 1, 0};
  d.num_classes = 3;
  return d;
}

void set_row(MultiplierStore& store, Index id, std::vector<double> alphas) {
  std::copy(alphas.begin(), alphas.end(), store.row(id));
}

TEST(SupportVectorsCsv, ClassificationRowsHoldSupportVectorsInIdOrder) {
  MultiplierStore store(101, 4, 3);  // ids 101..104 of the shard
  set_row(store, 101, {0, 0, 0});     // not a support vector
  set_row(store, 102, {0.125, 0, 1.0 / 3.0});
  set_row(store, 103, {0, 0, 0});
  set_row(store, 104, {0, 2.5e-10, 0});
  const fs::path p = temp_path("class.csv");
  write_support_vectors_csv(p.string(), store, classification_shard());
  EXPECT_EQ(read_all(p),
            "index,label,alpha_0,alpha_1,alpha_2\n"
            "102,1,0.125,0,0.333333333\n"
            "104,0,0,2.5e-10,0\n");
  EXPECT_FALSE(fs::exists(p.string() + ".tmp"));
}

TEST(SupportVectorsCsv, NegativeOnlyClassificationRowIsNoSupportVector) {
  MultiplierStore store(100, 2, 1);
  set_row(store, 100, {-1.0});
  set_row(store, 101, {4.0});
  const fs::path p = temp_path("negative.csv");
  write_support_vectors_csv(p.string(), store, classification_shard());
  EXPECT_EQ(read_all(p), "index,label,alpha_0\n101,0,4\n");
}

TEST(SupportVectorsCsv, RegressionExportsNonzeroAlphasWithEmptyLabel) {
  Dataset d;
  d.name = "regression";
  d.rows = 3;
  d.cols = 1;
  d.features.assign(3, 0.0f);
  d.targets = {1, 2, 3, 4, 5, 6};
  d.target_cols = 2;
  MultiplierStore store(0, 3, 2);
  set_row(store, 0, {-0.5, 0});
  set_row(store, 1, {0, 0});
  set_row(store, 2, {1.25, -3});
  const fs::path p = temp_path("regression.csv");
  write_support_vectors_csv(p.string(), store, d);
  EXPECT_EQ(read_all(p), "index,label,alpha_0,alpha_1\n0,,-0.5,0\n2,,1.25,-3\n");
}

TEST(SupportVectorsCsv, StoreOutsideTheDataSetIsAnError) {
  MultiplierStore store(103, 3, 1);  // ids 103..105, but the shard ends at 104
  const fs::path p = temp_path("outside.csv");
  try {
    write_support_vectors_csv(p.string(), store, classification_shard());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
}

TEST(SupportVectorsCsv, UnwritablePathIsAnErrorNamingIt) {
  MultiplierStore store(100, 1, 1);
  const std::string p = (fs::temp_directory_path() / "normscale_no_such_dir" / "sv.csv").string();
  try {
    write_support_vectors_csv(p, store, classification_shard());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(TopSupportVectors, LargestTotalAbsoluteAlphaFirstTiesById) {
  MultiplierStore store(10, 6, 2);
  set_row(store, 10, {1, 1});    // 2
  set_row(store, 11, {0, 0});    // 0: never listed
  set_row(store, 12, {3, 0});    // 3
  set_row(store, 13, {-1, -1});  // 2 (regression-style sign)
  set_row(store, 14, {0, 0.5});  // 0.5
  set_row(store, 15, {2, 0});    // 2
  EXPECT_EQ(top_support_vectors(store, 4), (std::vector<Index>{12, 10, 13, 15}));
  EXPECT_EQ(top_support_vectors(store, 100), (std::vector<Index>{12, 10, 13, 15, 14}));
  EXPECT_TRUE(top_support_vectors(store, 0).empty());
  EXPECT_TRUE(top_support_vectors(MultiplierStore(0, 3, 1), 2).empty());
}

TEST(AlphaStats, CountsSupportVectorsPerOutputAndPositiveAlphaStatistics) {
  MultiplierStore store(0, 5, 3);
  set_row(store, 0, {1, 0, 0});
  set_row(store, 1, {0, 0, 0});
  set_row(store, 2, {2, 4, 0});
  set_row(store, 3, {0, -7, 0});  // a negative alpha is not support under kPositive
  set_row(store, 4, {0, 0, 3});
  const AlphaStats s = alpha_stats(store);
  EXPECT_EQ(s.examples, 5);
  EXPECT_EQ(s.support, 3);
  EXPECT_DOUBLE_EQ(s.support_fraction(), 0.6);
  EXPECT_EQ(s.per_output_support, (std::vector<Index>{2, 1, 1}));
  EXPECT_EQ(s.counted_alphas, 4);
  EXPECT_DOUBLE_EQ(s.max_alpha, 4.0);
  EXPECT_DOUBLE_EQ(s.mean_alpha(), 2.5);  // (1 + 2 + 4 + 3) / 4

  const AlphaStats r = alpha_stats(store, SupportRule::kNonZero);
  EXPECT_EQ(r.support, 4);
  EXPECT_EQ(r.per_output_support, (std::vector<Index>{2, 2, 1}));
  EXPECT_DOUBLE_EQ(r.max_alpha, 7.0);
  EXPECT_DOUBLE_EQ(r.mean_alpha(), 17.0 / 5.0);
}

TEST(AlphaStats, EmptyAndAllZeroStoresGiveZeros) {
  const AlphaStats empty = alpha_stats(MultiplierStore(0, 0, 2));
  EXPECT_EQ(empty.support_fraction(), 0.0);
  EXPECT_EQ(empty.mean_alpha(), 0.0);
  EXPECT_EQ(empty.per_output_support, (std::vector<Index>{0, 0}));
  const AlphaStats zeros = alpha_stats(MultiplierStore(0, 4, 1));
  EXPECT_EQ(zeros.support, 0);
  EXPECT_EQ(zeros.max_alpha, 0.0);
}

// A row's update state (PI's integral) follows its multipliers; it is neither a multiplier nor exported.
TEST(AlphaStats, TheUpdateStateAfterTheMultipliersIsNotCounted) {
  MultiplierStore store(101, 2, 4, 2);  // ids 101, 102: two multipliers and two state values each
  set_row(store, 101, {0, 0, 5, 5});    // state only: no support vector
  set_row(store, 102, {0.5, 0, 1, 0});
  EXPECT_EQ(store.multipliers_per_example(), 2);
  EXPECT_FALSE(store.is_support(101));
  const AlphaStats s = alpha_stats(store);
  EXPECT_EQ(s.support, 1);
  EXPECT_EQ(s.per_output_support, (std::vector<Index>{1, 0}));
  EXPECT_DOUBLE_EQ(s.max_alpha, 0.5);
  EXPECT_EQ(top_support_vectors(store, 5), (std::vector<Index>{102}));
  const fs::path p = temp_path("state.csv");
  write_support_vectors_csv(p.string(), store, classification_shard());
  EXPECT_EQ(read_all(p), "index,label,alpha_0,alpha_1\n102,1,0.5,0\n");
}

TEST(AlphaHistogram, CountsEachCountedMultiplierByDecade) {
  MultiplierStore store(0, 3, 3);
  set_row(store, 0, {0, 5e-7, 2e-6});    // 0 is not counted; below 1e-6; [1e-6, 1e-5)
  set_row(store, 1, {0.5, 1.0, 2e3});    // [0.1, 1); [1, 10); at or above 1e3
  set_row(store, 2, {-3.0, 0, 1e-5});    // negative: not counted under kPositive; [1e-5, 1e-4)
  const std::vector<double> edges = alpha_histogram_edges();
  ASSERT_EQ(edges.size(), 10u);
  EXPECT_DOUBLE_EQ(edges.front(), 1e-6);
  EXPECT_DOUBLE_EQ(edges.back(), 1e3);
  std::vector<Index> want(11, 0);
  want[0] = 1;   // 5e-7
  want[1] = 1;   // 2e-6
  want[2] = 1;   // 1e-5
  want[6] = 1;   // 0.5
  want[7] = 1;   // 1.0
  want[10] = 1;  // 2e3
  EXPECT_EQ(alpha_histogram(store), want);
  want[7] = 2;   // |-3| counts under kNonZero
  EXPECT_EQ(alpha_histogram(store, SupportRule::kNonZero), want);
}

TEST(SupportChurn, CountsExamplesThatEnteredOrLeft) {
  MultiplierStore store(10, 4, 2);
  set_row(store, 11, {0.5, 0});
  set_row(store, 12, {0, 0.1});
  const std::vector<bool> before = support_set(store);
  EXPECT_EQ(before, (std::vector<bool>{false, true, true, false}));
  set_row(store, 11, {0, 0});    // left
  set_row(store, 13, {1, 0});    // entered
  set_row(store, 12, {0.2, 0});  // stayed
  EXPECT_EQ(support_churn(before, support_set(store)), 2);
  EXPECT_THROW(support_churn(before, {true}), Error);
}

TEST(SupportRule, FollowsTheKindOfData) {
  EXPECT_EQ(support_rule_for(classification_shard()), SupportRule::kPositive);
  EXPECT_EQ(support_rule_for(Dataset{}), SupportRule::kNonZero);
}

}  // namespace
}  // namespace normscale
