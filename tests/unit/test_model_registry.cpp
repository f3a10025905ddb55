// The architecture registry: the built-ins, an architecture registered at run time accepted by the option
// table and built (and trained) through make_network, duplicates and unknown names refused.
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/model/dense.hpp"
#include "normscale/model/model_registry.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/model_factory.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"
#include "support/train_in_process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;

// A linear model without bias: one dense layer from the inputs to the outputs.
void register_linear() {
  static const bool once = [] {
    model_registry().add(model_entry(
        "test-linear", "one dense layer without bias (test)",
        [](auto precision, const ModelConfig&, const ModelInput& input, Index outputs, const BatchNormOptions&) {
          using T = decltype(precision);
          std::vector<std::unique_ptr<Layer<T>>> layers;
          layers.push_back(std::make_unique<Dense<T>>(input.width, outputs, false));
          return std::make_unique<Network<T>>(input.width, std::move(layers));
        }));
    return true;
  }();
  (void)once;
}

Dataset two_columns() {
  Dataset data;
  data.name = "two columns";
  data.rows = data.total_rows = 2;
  data.cols = 2;
  data.num_classes = 2;
  data.features = {1, 1, -1, -1};
  data.labels = {1, 0};
  return data;
}

TEST(ModelRegistry, ListsTheBuiltins) {
  std::vector<std::string> names = model_registry().names();
  ASSERT_GE(names.size(), 2u);
  names.resize(2);
  EXPECT_EQ(names, (std::vector<std::string>{"mlp", "convnet"}));
  const OptionDescriptor* option = find_option("model.type");
  ASSERT_NE(option, nullptr);
  EXPECT_EQ(option_choices(*option), model_registry().names());
}

TEST(ModelRegistry, BuiltinsBuildAsBefore) {
  LocalComm comm;
  ModelConfig config;
  config.hidden = {3};
  const auto mlp = make_network<double>(config, two_columns(), 2, comm);
  EXPECT_EQ(mlp->parameter_count(), 2 * 3 + 3 + 3 * 2 + 2);
  config.batch_norm = true;
  EXPECT_EQ(make_network<float>(config, two_columns(), 2, comm)->layer(1).kind(), "batch-norm");

  config.type = "convnet";
  EXPECT_THAT(error_of([&] { make_network<float>(config, two_columns(), 2, comm); }),
              HasSubstr("model.type = convnet needs image data; the data set 'two columns' has no image shape"));
  Dataset images = two_columns();
  images.cols = 2 * 4 * 4;
  images.image = ImageShape{4, 4, 2};
  config.channels = {3};
  const auto convnet = make_network<float>(config, images, 2, comm);
  EXPECT_EQ(convnet->layer(0).kind(), "conv2d-nobias");
  EXPECT_EQ(convnet->input_width(), 2 * 4 * 4);
}

TEST(ModelRegistry, ARegisteredArchitectureIsValidatedAndBuilt) {
  register_linear();
  TrainConfig config;
  config.model.type = "test-linear";
  EXPECT_NO_THROW(validate(config));
  LocalComm comm;
  const auto net = make_network<double>(config.model, two_columns(), 3, comm);
  EXPECT_EQ(net->layer_count(), 1u);
  EXPECT_EQ(net->parameter_count(), 2 * 3);
  EXPECT_EQ(make_network<float>(config.model, two_columns(), 3, comm)->output_width(), 3);
}

TEST(ModelRegistry, ARegisteredArchitectureTrainsThroughTheNormalPath) {
  register_linear();
  const testing::TempDir dir("normscale_registry_", "linear_model");
  TrainConfig config = testing::quick_cross_entropy_run(dir.path());
  config.data.source = "two-point";
  config.model.type = "test-linear";
  const nlohmann::json last = testing::train_in_process(config);
  EXPECT_EQ(last.value("train_error", -1.0), 0.0) << last;
  // The exported weights are those of the one bias-free layer.
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "layer1_weight.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "layer1_bias.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "layer2_weight.npy"));
}

TEST(ModelRegistry, ADuplicateNameIsAnError) {
  EXPECT_THAT(error_of([] {
                model_registry().add(model_entry("mlp", "again", [](auto precision, const ModelConfig&,
                                                                     const ModelInput& input, Index outputs,
                                                                     const BatchNormOptions&) {
                  using T = decltype(precision);
                  return make_mlp<T>({input.width, {}, outputs, "relu", true});
                }));
              }),
              AllOf(HasSubstr("model type 'mlp'"), HasSubstr("registered twice")));
  ModelEntry incomplete;
  incomplete.name = "test-incomplete";
  EXPECT_THAT(error_of([&] { model_registry().add(incomplete); }), HasSubstr("without its builders"));
}

TEST(ModelRegistry, AnUnknownNameListsTheRegisteredOnes) {
  register_linear();
  LocalComm comm;
  ModelConfig config;
  config.type = "resnet";
  // Other tests of the same program may have registered types of their own after the built-ins.
  EXPECT_THAT(error_of([&] { make_network<float>(config, two_columns(), 2, comm); }),
              AllOf(HasSubstr("model.type = \"resnet\" is not a model type; expected one of \"mlp\", \"convnet\", "),
                    HasSubstr(", \"test-linear\"")));
  TrainConfig train;
  train.model.type = "resnet";
  EXPECT_THAT(error_of([&] { validate(train); }),
              AllOf(HasSubstr("model.type = \"resnet\" is not valid; expected one of: mlp, convnet, "),
                    HasSubstr(", test-linear")));
}

}  // namespace
}  // namespace normscale
