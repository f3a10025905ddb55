// Every setting of one training run, after parsing and validation. Identical on every rank.
#pragma once

#include "normscale/data/data_config.hpp"
#include "normscale/model/model_config.hpp"
#include "normscale/objective/objective_config.hpp"
#include "normscale/optim/optim_config.hpp"
#include "normscale/train/perturb_config.hpp"

#include <cstdint>
#include <string>

namespace normscale {

struct TrainConfig {
  DataConfig data;
  ModelConfig model;
  ObjectiveConfig objective;
  OptimConfig optim;
  PerturbConfig perturb;
  std::string precision = "float32";  // "float32", "float64" or "bf16" (fp32 with bf16 products)
  std::string device = "cpu";       // "cpu" or "cuda" (one GPU per rank: local rank mod device count)
  bool cuda_tf32 = false;           // device = cuda: fp32 GEMMs may use TF32 tensor cores
  bool cuda_graphs = true;          // device = cuda: the step's forward and backward replayed as CUDA graphs
  std::int64_t epochs = 3;
  std::int64_t steps = 0;           // if > 0, overrides epochs
  std::int64_t eval_every = 0;      // steps between evaluations; 0 = once per epoch
  std::uint64_t seed = 1;
  std::int64_t virtual_shards = 64;
  std::int64_t threads = 0;         // BLAS threads per rank; 0 = all cores of the rank's share
  std::string out = "runs/latest";  // run directory
  double divergence_limit = 1e12;   // |loss| above this counts as divergence
  double collective_timeout = 600;  // seconds a collective may wait before the job is ended; 0 = forever
  bool progress = true;             // one-line console progress
  std::int64_t gallery = 64;        // top support vectors in the PNG gallery (0: none)
  std::int64_t checkpoint_every = 0;  // steps between checkpoints; 0 = once per epoch
  std::int64_t keep_checkpoints = 2;  // newest checkpoints kept
  bool resume = false;              // continue from the newest checkpoint in `out`
  bool overwrite = false;           // a fresh run may replace the run already in `out`
  bool instruments = false;         // margins and neural collapse of the training set per evaluation
  std::string preset;               // the preset this started from, for the record
};

}  // namespace normscale
