// Short training runs in the test's own process (one rank, LocalComm), for tests that check a run end to end
// without starting the binary.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/run.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

namespace normscale::testing {

// 50 full-batch steps of cross-entropy at learning rate 1 in float64, quiet and single-threaded, writing to
// `out`: enough for a tiny separable problem to reach zero training error.
inline TrainConfig quick_cross_entropy_run(const std::filesystem::path& out) {
  TrainConfig config;
  config.objective.regime = "sgd";
  config.optim.batch = kFullBatch;
  config.optim.lr = 1.0;
  config.steps = 50;
  config.precision = "float64";
  config.progress = false;
  config.gallery = 0;
  config.threads = 1;
  config.out = out.string();
  return config;
}

// Trains `config` here and returns the last record of its metrics.jsonl (a test failure and {} if none).
inline nlohmann::json train_in_process(const TrainConfig& config) {
  LocalComm comm;
  run_training(config, comm);
  std::ifstream in(std::filesystem::path(config.out) / "metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  if (last.empty()) {
    ADD_FAILURE() << "no metrics in " << config.out;
    return {};
  }
  return nlohmann::json::parse(last);
}

}  // namespace normscale::testing
