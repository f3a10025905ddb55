// Every setting of one training run, after parsing and validation. Identical on every rank.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

struct DataConfig {
  // "fashion-mnist" (built-in default), "idx" (MNIST-format files), "npy", "cifar10" (CIFAR-10 binary
  // batches), or a synthetic problem: "linear-chain", "two-point", "separable-2d", "student-teacher", "sinusoid".
  std::string source = "fashion-mnist";
  std::string path;                 // folder of the IDX / npy / CIFAR-10 files (empty: the source's default)
  std::string train_features;       // file names inside `path` (empty: the source's defaults)
  std::string train_labels;
  std::string test_features;
  std::string test_labels;
  std::int64_t validation = 10000;  // examples carved from train for validation (paper: 10k of 60k)
  std::uint64_t split_seed = 12345; // fixed seed of the validation split
  std::int64_t train_limit = 0;     // use only the first N training examples after the split (0: all)
  std::int64_t test_limit = 0;      // use only the first N test examples (0: all)
  std::string preprocess = "scale01";  // "none", "scale01", "unit-norm", "standardize"
  // Class subset, any classification source (empty: all classes): only examples labelled classes[j] are kept,
  // relabelled j (so [3, 5] makes 3 the negative class 0 and 5 the positive class 1), before the validation
  // split, limits and sharding.
  std::vector<std::int64_t> classes;
  // Synthetic problems.
  std::int64_t synthetic_examples = 150;
  std::int64_t synthetic_dim = 300;
  double synthetic_snr = 5.0;
  std::uint64_t synthetic_seed = 1;
};

struct ModelConfig {
  std::string type = "mlp";         // "mlp" or "convnet" (the square-loss papers' ConvNet, image data)
  std::vector<std::int64_t> hidden = {800, 800};  // hidden widths; empty = linear model
  std::vector<std::int64_t> channels = {32, 64, 128};  // convnet: channels of the 3x3 convolutions
  bool batch_norm = false;          // batch norm after each hidden layer / convolution
  bool bn_affine = false;           // batch norm with gamma and beta (the papers use none)
  bool sync_bn = false;             // batch statistics of the global batch (allreduced), not per rank
  bool weight_norm = false;         // weight-normalised dense layers (w = g v / ||v|| per unit)
  std::string activation = "relu";  // "relu" or "identity"
  bool bias = true;
  std::string init = "he";          // "he", "glorot", "normal", "scaled-normal", "frobenius"
  double init_scale = 1.0;          // sigma for "normal", Frobenius norm per layer for "frobenius"
  std::int64_t outputs = 0;         // output width; 0 = derived (classes, 1 for binary, target columns)
};

struct ObjectiveConfig {
  std::string regime = "minnorm";   // "sgd" (cross-entropy), "square", "minnorm"
  // minnorm
  std::string task = "multiclass";  // "multiclass", "binary", "regression"
  double rho = 0.0;
  double s = 2e-4;
  std::string alpha_update = "exact";  // "exact" or "lagged"
  std::string estimator = "published"; // "published" (sum over S) or "unbiased" ((P/Q) sum over S)
  // square
  std::string square_targets = "one-hot";  // "one-hot" ({0,1}) or "pm1" ({-1,+1})
  double square_k = 1.0;            // weight on the true class (Hui & Belkin)
  double square_m = 1.0;            // target value of the true class
};

struct OptimConfig {
  double lr = 1e-3;
  double momentum = 0.0;
  double weight_decay = 0.0;        // lambda_0 (sgd / square); minnorm's norm term is fixed at 1
  double decay_power = 0.0;         // NMGD: lambda_t = lambda_0 / (1 + t)^a; 0 = constant
  double warmup_epochs = 0.0;       // lr rises linearly from lr/W to lr over the first W steps (W from epochs)
  std::int64_t batch = 128;         // global minibatch Q, or kFullBatch ("full" in files)
};

// Value of OptimConfig::batch for full-batch training (Q = P); written as "full" in TOML / --set.
inline constexpr std::int64_t kFullBatch = -1;

struct TrainConfig {
  DataConfig data;
  ModelConfig model;
  ObjectiveConfig objective;
  OptimConfig optim;
  std::string precision = "float32";  // "float32" or "float64"
  std::string device = "cpu";       // "cpu" or "cuda" (one GPU per rank: local rank mod device count)
  bool cuda_tf32 = false;           // device = cuda: fp32 GEMMs may use TF32 tensor cores
  std::int64_t epochs = 3;
  std::int64_t steps = 0;           // if > 0, overrides epochs
  std::int64_t eval_every = 0;      // steps between evaluations; 0 = once per epoch
  std::uint64_t seed = 1;
  std::int64_t virtual_shards = 64;
  std::int64_t threads = 0;         // BLAS threads per rank; 0 = all cores of the rank's share
  std::string out = "runs/latest";  // run directory
  double divergence_limit = 1e12;   // |loss| above this counts as divergence
  bool progress = true;             // one-line console progress
  std::int64_t gallery = 64;        // top support vectors in the PNG gallery (0: none)
  std::int64_t checkpoint_every = 0;  // steps between checkpoints; 0 = once per epoch
  std::int64_t keep_checkpoints = 2;  // newest checkpoints kept
  bool resume = false;              // continue from the newest checkpoint in `out`
  bool instruments = false;         // margins and neural collapse of the training set per evaluation
  std::string preset;               // the preset this started from, for the record
};

}  // namespace normscale
