// The data sources by name: `data.source` picks an entry. The built-in sources are listed in one place
// (data_source_registry.cpp); an extension adds its own with data_source_registry().add(...) before the
// configuration is validated. The option table takes data.source's choices from here, and load_data
// (data_source.hpp) takes every source through the same class subset, validation split, limits,
// sharding and preprocessing.
#pragma once

#include "normscale/core/registry.hpp"
#include "normscale/core/types.hpp"
#include "normscale/data/data_config.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace normscale {

// One split's pair of files: its example count (from the headers) and how to read chosen rows of it.
// The file sources differ only in this; the split, limits and sharding are the same for all of them.
struct FilePair {
  std::string name;  // the features file, for messages
  std::string labels_name;  // the labels file, for messages (empty: `name`, e.g. CIFAR-10's records)
  Index rows = 0;
  Index num_classes = 0;  // IDX and CIFAR-10: of the whole labels file; npy: 0 (known once read)
  std::function<Dataset(const std::vector<Index>& rows)> read;  // strictly ascending file rows
  // The class label of every row of the file (cheap: labels only); empty for regression targets.
  std::function<std::vector<std::int32_t>()> labels;
  // The files it reads, which the ranks of a run check they all see alike (file_identity.hpp); an
  // extension that leaves it empty goes unchecked.
  std::vector<std::string> paths;
};

struct SourceFiles {
  FilePair train;
  std::optional<FilePair> test;  // optional (npy); without one the test split is empty
  // Checks and settings that need both splits (class count, same columns, same task).
  std::function<void(DataSplits&)> reconcile;
};

struct DataSourceEntry {
  std::string name;         // the value of data.source
  std::string description;  // one line
  // Exactly one of the two. A file source opens its files (checks data.path and the file options, reads
  // headers, not features); each part then reads only its own rows of them. A generated source makes the
  // whole splits at the configured size, with its own test set and no validation split; each part keeps
  // its slice, and "scale01" (meant for raw pixel bytes) is skipped for it.
  std::function<SourceFiles(const DataConfig&)> open_files;
  std::function<DataSplits(const DataConfig&)> generate;

  bool reads_files() const { return static_cast<bool>(open_files); }
};

using DataSourceRegistry = Registry<DataSourceEntry>;

// The process's registry, holding the built-in sources from its first use on (in this order:
// fashion-mnist, idx, npy, cifar10, linear-chain, two-point, separable-2d, student-teacher, sinusoid,
// polynomial-sine).
DataSourceRegistry& data_source_registry();

}  // namespace normscale
