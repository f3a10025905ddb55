// Entry point of `normscale train`: load data, build model and objective, train, write the run directory.
#pragma once

#include "normscale/train/config.hpp"

namespace normscale {

class Communicator;

// Runs one training as configured; every rank calls it with the same config.
void run_training(const TrainConfig& config, Communicator& comm);

}  // namespace normscale
