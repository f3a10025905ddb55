// The model's memory is checked before it is built (#18): the estimate's known answers, and the error that names
// the option that sized the model and the bytes.
#include "normscale/comm/communicator.hpp"
#include "normscale/core/error.hpp"
#include "normscale/model/model_registry.hpp"
#include "normscale/train/model_factory.hpp"
#include "support/error_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace normscale {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;

// Fashion-MNIST's shape: 784 pixels per example, 28 x 28 x 1.
Dataset fashion_shaped() {
  Dataset data;
  data.name = "fashion-shaped";
  data.cols = 784;
  data.image = ImageShape{28, 28, 1};
  return data;
}

TEST(ModelMemory, MlpEstimateCountsWeightsBiasesStateAndBatch) {
  ModelConfig config;
  config.hidden = {100};
  const ModelMemory memory = estimate_model_memory(config, fashion_shaped(), 10, 32, sizeof(float));
  // (784 + 1) * 100 + (100 + 1) * 10 parameters; 4 copies of 4 bytes; 32 x (784 + 100 + 10) units x 3 x 4 bytes.
  EXPECT_DOUBLE_EQ(memory.parameters, 79510.0);
  EXPECT_DOUBLE_EQ(memory.parameter_state_bytes, 79510.0 * 16);
  EXPECT_DOUBLE_EQ(memory.batch_bytes, 32.0 * 894 * 12);
  EXPECT_DOUBLE_EQ(memory.total(), 79510.0 * 16 + 32.0 * 894 * 12);
}

TEST(ModelMemory, HundredMillionHiddenUnitsNameTheOptionAndTheBytes) {
  ModelConfig config;
  config.hidden = {100000000};
  // 785e8 + 10 (1e8 + 1) = 79,500,000,010 parameters: 1,272,000,000,160 bytes with state; the batch of 128
  // adds 128 x 100,000,794 x 12 = 153,601,219,584.
  const std::string message = error_of([&] {
    check_model_memory(config, fashion_shaped(), 10, 128, sizeof(float), 64e9);
  });
  EXPECT_THAT(message, HasSubstr("model.hidden = [100000000]"));
  EXPECT_THAT(message, HasSubstr("784 inputs from 'fashion-shaped', 10 outputs"));
  EXPECT_THAT(message, HasSubstr("needs about 1425601219744 bytes"));
  EXPECT_THAT(message, HasSubstr("79500000010 parameters"));
  EXPECT_THAT(message, HasSubstr("64000000000 bytes of physical memory"));
  EXPECT_THAT(message, HasSubstr("hint: lower model.hidden"));
}

TEST(ModelMemory, AModelThatFitsPassesAndUnknownAvailabilitySkipsTheCheck) {
  ModelConfig config;  // the paper's 800 x 800
  EXPECT_NO_THROW(check_model_memory(config, fashion_shaped(), 10, 128, sizeof(double), 1e9));
  config.hidden = {100000000};
  EXPECT_NO_THROW(check_model_memory(config, fashion_shaped(), 10, 128, sizeof(double), 0));
}

TEST(ModelMemory, ConvnetNamesItsChannels) {
  ModelConfig config;
  config.type = "convnet";
  config.channels = {1000000};
  const std::string message = error_of([&] {
    check_model_memory(config, fashion_shaped(), 10, 128, sizeof(float), 64e9);
  });
  EXPECT_THAT(message, AllOf(HasSubstr("model.channels = [1000000]"), HasSubstr("hint: lower model.channels")));
}

// The estimate is the registered entry's size: an extension that gives one is checked like the built-ins (and
// named by its own option); one registered without a size is built unchecked.
TEST(ModelMemory, AnExtensionIsCheckedByTheSizeItRegisters) {
  static const bool once = [] {
    const auto build = [](auto precision, const ModelConfig&, const ModelInput&, Index,
                          const BatchNormOptions&) -> std::unique_ptr<Network<decltype(precision)>> {
      NS_FAIL("not built in this test");
    };
    model_registry().add(model_entry("test-sized", "an extension with a size (test)", build,
                                     [](const ModelConfig&, const ModelInput& input, Index outputs) {
                                       ModelSize size;
                                       size.parameters = 1e6 * static_cast<double>(input.width * outputs);
                                       size.units_per_example = 5;
                                       size.sized_by = "test.width = 1000000";
                                       size.option = "test.width";
                                       return size;
                                     }));
    model_registry().add(model_entry("test-unsized", "an extension without a size (test)", build));
    return true;
  }();
  (void)once;
  ModelConfig config;
  config.type = "test-sized";
  const ModelMemory memory = estimate_model_memory(config, fashion_shaped(), 10, 32, sizeof(double));
  EXPECT_DOUBLE_EQ(memory.parameters, 7.84e9);
  EXPECT_DOUBLE_EQ(memory.parameter_state_bytes, 7.84e9 * 32);
  EXPECT_DOUBLE_EQ(memory.batch_bytes, 32.0 * 5 * 24);
  const std::string message = error_of([&] {
    check_model_memory(config, fashion_shaped(), 10, 32, sizeof(double), 64e9);
  });
  EXPECT_THAT(message, AllOf(HasSubstr("model.type = \"test-sized\", test.width = 1000000"),
                             HasSubstr("hint: lower test.width")));
  config.type = "test-unsized";
  EXPECT_DOUBLE_EQ(estimate_model_memory(config, fashion_shaped(), 10, 32, sizeof(double)).total(), 0.0);
  EXPECT_NO_THROW(check_model_memory(config, fashion_shaped(), 10, 32, sizeof(double), 1.0));
}

TEST(ModelMemory, MakeNetworkChecksBeforeAllocating) {
  // 785e8 parameters: no machine this runs on has the 1.2 TB, so make_network must refuse before allocating.
  ASSERT_LT(physical_memory_bytes(), 1e12);
  ASSERT_GT(physical_memory_bytes(), 0);
  ModelConfig config;
  config.hidden = {100000000};
  LocalComm comm;
  const std::string message = error_of([&] { make_network<float>(config, fashion_shaped(), 10, comm); });
  EXPECT_THAT(message, AllOf(HasSubstr("model.hidden = [100000000]"), HasSubstr("bytes of physical memory")));
}

}  // namespace
}  // namespace normscale
