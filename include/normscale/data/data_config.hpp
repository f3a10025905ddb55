// The data settings of a run: which data set, where, how it is split, limited and preprocessed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

struct DataConfig {
  // A registered source (data_source_registry.hpp): "fashion-mnist" (built-in default), "idx" (MNIST-format
  // files), "npy", "cifar10" (CIFAR-10 binary batches), or a synthetic problem: "linear-chain", "two-point",
  // "separable-2d", "student-teacher", "sinusoid",
  // "polynomial-sine".
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
  // Class count of a classification source (0: the source's own count, e.g. 10 for CIFAR-10, else the largest
  // training label + 1); at most kMaxClasses (class_count.hpp). Labels of every split must lie below it.
  std::int64_t num_classes = 0;
  // Synthetic problems.
  std::int64_t synthetic_examples = 150;
  std::int64_t synthetic_dim = 300;
  double synthetic_snr = 5.0;
  std::uint64_t synthetic_seed = 1;
  std::int64_t degree = 30;          // polynomial-sine: features x^0 ... x^degree
  std::string nodes = "random";      // polynomial-sine: training x "random" (uniform) or "chebyshev"
};

}  // namespace normscale
