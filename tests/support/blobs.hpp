// Tiny data sets for tests that run whole studies: two Gaussian blobs in 2-D (classification), and a noisy
// linear function of 2-D inputs (regression).
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/npy.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace normscale::testing {

// Two Gaussian blobs in 2-D (labels 0 / 1, 300 training and 100 test examples) as npy files
// X_train / y_train and X_test / y_test in `dir`, the same for every call.
inline void write_blobs(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::mt19937 random(7);
  std::normal_distribution<float> noise(0.0F, 0.7F);
  for (const auto& [split, rows] : {std::pair<std::string, Index>{"train", 300}, {"test", 100}}) {
    std::vector<float> x(static_cast<std::size_t>(rows) * 2);
    std::vector<std::int64_t> y(static_cast<std::size_t>(rows));
    for (Index i = 0; i < rows; ++i) {
      const auto r = static_cast<std::size_t>(i);
      y[r] = i % 2;
      const float center = y[r] == 0 ? -1.0F : 1.0F;
      x[2 * r] = center + noise(random);
      x[2 * r + 1] = center + noise(random);
    }
    write_npy((dir / ("X_" + split + ".npy")).string(), {rows, 2}, x.data());
    write_npy((dir / ("y_" + split + ".npy")).string(), {rows}, y.data());
  }
}

// y = x0 - 0.5 x1 + noise (sd 0.1), x ~ N(0, I): float labels, so the npy source reads a regression set (300
// training and 100 test examples) in `dir`, the same for every call.
inline void write_linear_regression(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::mt19937 random(11);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  for (const auto& [split, rows] : {std::pair<std::string, Index>{"train", 300}, {"test", 100}}) {
    std::vector<float> x(static_cast<std::size_t>(rows) * 2);
    std::vector<float> y(static_cast<std::size_t>(rows));
    for (std::size_t r = 0; r < y.size(); ++r) {
      x[2 * r] = normal(random);
      x[2 * r + 1] = normal(random);
      y[r] = x[2 * r] - 0.5F * x[2 * r + 1] + 0.1F * normal(random);
    }
    write_npy((dir / ("X_" + split + ".npy")).string(), {rows, 2}, x.data());
    write_npy((dir / ("y_" + split + ".npy")).string(), {rows}, y.data());
  }
}

}  // namespace normscale::testing
