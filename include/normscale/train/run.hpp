// Entry point of `normscale train`: load data, build model and objective, train, write the run directory.
#pragma once

#include "normscale/train/config.hpp"

namespace normscale {

class Communicator;

// Whether config.out holds this configuration's run, unfinished and without its final outputs: one killed before
// its first checkpoint, which --resume-or-start starts afresh over (its metrics.jsonl, any unfinished checkpoint
// write). Another configuration's run, a finished one or a user's files are not.
bool holds_unfinished_run_of(const TrainConfig& config);

// Runs one training as configured; every rank calls it with the same config.
void run_training(const TrainConfig& config, Communicator& comm);

}  // namespace normscale
