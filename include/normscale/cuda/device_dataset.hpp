// A data set's rows in device memory: what the GPU executor gathers batches from and the device
// objectives read labels and targets from.
#pragma once

#include "normscale/cuda/device.hpp"

#include <cstdint>

namespace normscale {

struct Dataset;

struct DeviceDataset {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t first_id = 0;
  std::int64_t target_cols = 0;
  bool classification = false;
  DeviceBuffer<float> features;       // rows x cols
  DeviceBuffer<std::int32_t> labels;  // rows (classification)
  DeviceBuffer<float> targets;        // rows x target_cols (regression)

  void upload(const Dataset& data);
};

}  // namespace normscale
