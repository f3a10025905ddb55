// The data-source registry: the built-ins in their order, a source registered at run time accepted by the
// option table and loaded (whole, sharded, and by a training run), duplicates and unknown names refused.
#include "normscale/core/error.hpp"
#include "normscale/data/data_source.hpp"
#include "normscale/data/data_source_registry.hpp"
#include "normscale/train/config_io.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;

// Four separable points, two per class, with their own test set (the same points); x0 > 0 is class 1.
DataSplits four_points(const DataConfig&) {
  Dataset data;
  data.name = "test:four-points";
  data.rows = data.total_rows = 4;
  data.cols = 2;
  data.num_classes = 2;
  data.features = {2, 1, 1, -1, -1, 1, -2, -1};
  data.labels = {1, 1, 0, 0};
  DataSplits splits;
  splits.train = data;
  splits.test = data;
  splits.validation = data;
  splits.validation.name += " (validation)";
  splits.validation.rows = splits.validation.total_rows = 0;
  splits.validation.features.clear();
  splits.validation.labels.clear();
  return splits;
}

// Adds `entry` unless this process has it already: the registry is the process's.
void register_once(DataSourceEntry entry) {
  if (data_source_registry().find(entry.name) == nullptr) data_source_registry().add(std::move(entry));
}

void register_four_points() {
  register_once({"test-four-points", "four separable points (test)", {}, four_points});
}

// A file source held in memory: row r has features {r, 0.5} and label r % 2; it records which rows were read.
std::vector<Index>& rows_read() {
  static std::vector<Index> rows;
  return rows;
}

FilePair counting_pair(const std::string& name, Index rows) {
  FilePair pair;
  pair.name = name;
  pair.rows = rows;
  pair.num_classes = 2;
  pair.read = [name](const std::vector<Index>& wanted) {
    Dataset data;
    data.name = name;
    data.rows = static_cast<Index>(wanted.size());
    data.cols = 2;
    data.num_classes = 2;
    for (const Index r : wanted) {
      rows_read().push_back(r);
      data.features.push_back(static_cast<float>(r));
      data.features.push_back(0.5f);
      data.labels.push_back(static_cast<std::int32_t>(r % 2));
    }
    return data;
  };
  pair.labels = [rows] {
    std::vector<std::int32_t> labels;
    for (Index r = 0; r < rows; ++r) labels.push_back(static_cast<std::int32_t>(r % 2));
    return labels;
  };
  return pair;
}

void register_counting_files() {
  register_once({"test-counting-files", "20 training and 6 test rows held in memory (test)",
                 [](const DataConfig&) {
                   SourceFiles files;
                   files.train = counting_pair("counting-train", 20);
                   files.test = counting_pair("counting-test", 6);
                   files.reconcile = [](DataSplits&) {};
                   return files;
                 },
                 {}});
}

TEST(DataSourceRegistry, ListsTheBuiltinsInOrderAndTheirKind) {
  std::vector<std::string> names = data_source_registry().names();
  ASSERT_GE(names.size(), 9u);
  names.resize(9);
  EXPECT_EQ(names, (std::vector<std::string>{"fashion-mnist", "idx", "npy", "cifar10", "linear-chain", "two-point",
                                             "separable-2d", "student-teacher", "sinusoid"}));
  for (const char* file_source : {"fashion-mnist", "idx", "npy", "cifar10"}) {
    EXPECT_TRUE(data_source_registry().get(file_source).reads_files()) << file_source;
    EXPECT_FALSE(is_synthetic_source(file_source)) << file_source;
  }
  for (const char* generated : {"linear-chain", "two-point", "separable-2d", "student-teacher", "sinusoid"}) {
    EXPECT_FALSE(data_source_registry().get(generated).reads_files()) << generated;
    EXPECT_TRUE(is_synthetic_source(generated)) << generated;
    EXPECT_FALSE(data_source_registry().get(generated).description.empty()) << generated;
  }
  EXPECT_FALSE(is_synthetic_source("cifar-100"));
}

TEST(DataSourceRegistry, OptionChoicesComeFromTheRegistry) {
  register_four_points();
  const OptionDescriptor* option = find_option("data.source");
  ASSERT_NE(option, nullptr);
  EXPECT_EQ(option_choices(*option), data_source_registry().names());
  EXPECT_THAT(describe_options(), HasSubstr("test-four-points"));
}

TEST(DataSourceRegistry, ARegisteredGeneratedSourceIsValidatedAndLoaded) {
  register_four_points();
  TrainConfig config;
  config.data.source = "test-four-points";
  EXPECT_NO_THROW(validate(config));

  // Whole: like a synthetic problem, no validation split and no scale01.
  const DataSplits whole = load_data(config.data);
  EXPECT_EQ(whole.train.rows, 4);
  EXPECT_EQ(whole.validation.rows, 0);
  EXPECT_EQ(whole.test.rows, 4);
  EXPECT_EQ(whole.train.features, four_points(config.data).train.features);

  // Sharded: each of two parts gets its half.
  config.data.train_limit = 3;
  const DataSplits second = load_data(config.data, DataShard{1, 2, 2});
  EXPECT_EQ(second.train.total_rows, 3);
  EXPECT_EQ(second.train.first_id + second.train.rows, 3);
  EXPECT_EQ(second.test.total_rows, 4);
}

TEST(DataSourceRegistry, ARegisteredFileSourceReadsOnlyThePartsRows) {
  register_counting_files();
  DataConfig config;
  config.source = "test-counting-files";
  config.validation = 4;
  config.preprocess = "none";
  rows_read().clear();
  const DataSplits part = load_data(config, DataShard{0, 2, 2});
  // 16 training rows after the validation split; this part holds the first 8 of them, 2 of the validation
  // rows and 3 of the 6 test rows, and read nothing else.
  EXPECT_EQ(part.train.total_rows, 16);
  EXPECT_EQ(part.train.rows, 8);
  EXPECT_EQ(part.validation.rows, 2);
  EXPECT_EQ(part.test.rows, 3);
  EXPECT_EQ(static_cast<Index>(rows_read().size()), 8 + 2 + 3);
  EXPECT_EQ(part.validation.name, "counting-train (validation)");
}

TEST(DataSourceRegistry, ARegisteredSourceTrainsThroughTheNormalPath) {
  register_four_points();
  const testing::TempDir dir("normscale_registry_", "four_points");
  TrainConfig config = testing::quick_cross_entropy_run(dir.path());
  config.data.source = "test-four-points";
  config.model.hidden = {};
  const nlohmann::json last = testing::train_in_process(config);
  EXPECT_EQ(last.value("train_error", -1.0), 0.0) << last;
}

TEST(DataSourceRegistry, ADuplicateOrIncompleteEntryIsAnError) {
  DataSourceEntry duplicate;
  duplicate.name = "npy";
  duplicate.generate = four_points;
  EXPECT_THAT(error_of([&] { data_source_registry().add(duplicate); }),
              AllOf(HasSubstr("data source 'npy'"), HasSubstr("registered twice")));

  DataSourceEntry neither;
  neither.name = "test-neither";
  EXPECT_THAT(error_of([&] { data_source_registry().add(neither); }), HasSubstr("exactly one of"));
  DataSourceEntry both = neither;
  both.generate = four_points;
  both.open_files = [](const DataConfig&) { return SourceFiles{}; };
  EXPECT_THAT(error_of([&] { data_source_registry().add(both); }), HasSubstr("exactly one of"));
  EXPECT_EQ(data_source_registry().find("test-neither"), nullptr);
}

TEST(DataSourceRegistry, AnUnknownNameListsTheRegisteredOnes) {
  register_four_points();
  DataConfig config;
  config.source = "cifar-100";
  const std::string message = error_of([&] { load_data(config); });
  EXPECT_THAT(message, HasSubstr("data.source = \"cifar-100\" is not a data source; expected one of \"fashion-mnist\", "
                                 "\"idx\", \"npy\", \"cifar10\", \"linear-chain\", \"two-point\", \"separable-2d\", "
                                 "\"student-teacher\", \"sinusoid\""));
  EXPECT_THAT(message, HasSubstr("\"test-four-points\""));

  TrainConfig train;
  train.data.source = "cifar-100";
  EXPECT_THAT(error_of([&] { validate(train); }),
              AllOf(HasSubstr("data.source = \"cifar-100\" is not valid"), HasSubstr("sinusoid"),
                    HasSubstr("test-four-points")));
}

}  // namespace
}  // namespace normscale
