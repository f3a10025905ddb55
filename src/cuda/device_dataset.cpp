// Uploads a data set's rows to the GPU.
#include "normscale/cuda/device_dataset.hpp"

#include "normscale/data/dataset.hpp"

namespace normscale {

void DeviceDataset::upload(const Dataset& data) {
  rows = data.rows;
  cols = data.cols;
  first_id = data.first_id;
  target_cols = data.target_cols;
  classification = data.is_classification();
  features.upload(std::span<const float>(data.features.data(), static_cast<std::size_t>(data.rows * data.cols)));
  if (classification) {
    labels.upload(std::span<const std::int32_t>(data.labels.data(), data.labels.size()));
  } else {
    targets.upload(std::span<const float>(data.targets.data(), data.targets.size()));
  }
}

}  // namespace normscale
