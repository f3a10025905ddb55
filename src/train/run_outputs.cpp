// Export of the final model and multipliers for analysis in Python. Multipliers live on the ranks that
// own their shards, so the exports gather them first (a few MB, once per run).
#include "normscale/train/run_outputs.hpp"

#include "normscale/data/npy.hpp"
#include "normscale/metrics/gallery.hpp"

#include <filesystem>

namespace normscale {

template <class T>
void write_weights(const std::string& dir, const Network<T>& network) {
  const std::filesystem::path base(dir);
  for (const auto& w : network.weights()) {
    write_npy((base / (w.name + "_weight.npy")).string(), {w.matrix.rows(), w.matrix.cols()}, w.matrix.data());
  }
  for (const auto& b : network.biases()) {
    write_npy((base / (b.name + "_bias.npy")).string(), {b.matrix.cols()}, b.matrix.data());
  }
}

namespace {

// Every rank's slice of a global vector of `total` entries, summed into place on all ranks.
std::vector<double> gather_global(Communicator& comm, Index total, Index offset, const std::vector<double>& local) {
  std::vector<double> all(static_cast<std::size_t>(total), 0.0);
  std::copy(local.begin(), local.end(), all.begin() + static_cast<std::ptrdiff_t>(offset));
  comm.allreduce_sum(std::span<double>(all));
  return all;
}

// Columns [column, column + multipliers) of every example's row, gathered in global id order on all ranks.
std::vector<double> gather_columns(Communicator& comm, const MultiplierStore& local, Index total, Index column) {
  const Index k = local.multipliers_per_example();
  std::vector<double> mine(static_cast<std::size_t>(local.count() * k));
  for (Index id = local.first_id(); id < local.first_id() + local.count(); ++id) {
    const auto at = static_cast<std::ptrdiff_t>((id - local.first_id()) * k);
    std::copy(local.row(id) + column, local.row(id) + column + k, mine.begin() + at);
  }
  return gather_global(comm, total * k, local.first_id() * k, mine);
}

}  // namespace

void export_multipliers(const std::string& dir, Communicator& comm, const MultiplierStore& local,
                        const Dataset& train, Index gallery) {
  const Index total = train.global_rows();
  const Index k = local.multipliers_per_example();
  // The multipliers only: a row's update state (after them) is the checkpoint's, not the export's.
  MultiplierStore all(0, total, k);
  all.values() = gather_columns(comm, local, total, 0);
  std::vector<double> averages;
  if (local.average_column() >= 0) averages = gather_columns(comm, local, total, local.average_column());

  // Labels of all examples, for the CSV.
  Dataset labelled;
  labelled.name = train.name;
  labelled.rows = total;
  labelled.total_rows = total;
  labelled.num_classes = train.num_classes;
  if (train.is_classification()) {
    std::vector<double> mine(train.labels.begin(), train.labels.end());
    for (double label : gather_global(comm, total, train.first_id, mine)) {
      labelled.labels.push_back(static_cast<std::int32_t>(label));
    }
  }

  // Features of the gallery's examples, gathered from their owners in gallery order.
  std::vector<Index> top = gallery > 0 && train.image.valid() ? top_support_vectors(all, gallery) : std::vector<Index>{};
  Dataset pictures;
  if (!top.empty()) {
    std::vector<double> features(top.size() * static_cast<std::size_t>(train.cols), 0.0);
    for (std::size_t i = 0; i < top.size(); ++i) {
      const Index row = top[i] - train.first_id;
      if (row < 0 || row >= train.rows) continue;
      std::copy(train.row(row), train.row(row) + train.cols, features.begin() + static_cast<std::ptrdiff_t>(i * train.cols));
    }
    comm.allreduce_sum(std::span<double>(features));
    pictures.name = train.name;
    pictures.rows = static_cast<Index>(top.size());
    pictures.cols = train.cols;
    pictures.image = train.image;
    pictures.features.assign(features.begin(), features.end());
  }

  if (!comm.is_root()) return;
  const std::filesystem::path base(dir);
  write_npy((base / "alpha.npy").string(), {total, k}, all.values().data());
  if (!averages.empty()) write_npy((base / "alpha_average.npy").string(), {total, k}, averages.data());
  write_support_vectors_csv((base / "support_vectors.csv").string(), all, labelled);
  if (!top.empty()) {
    std::vector<Index> rows(top.size());
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<Index>(i);
    write_gallery_png((base / "support_vectors.png").string(), pictures, rows, 16);
  }
}

AlphaStats global_alpha_stats(Communicator& comm, const MultiplierStore& local, SupportRule rule) {
  AlphaStats stats = alpha_stats(local, rule);
  std::vector<double> sums = {static_cast<double>(stats.examples), static_cast<double>(stats.support),
                              static_cast<double>(stats.counted_alphas), stats.alpha_sum};
  for (Index n : stats.per_output_support) sums.push_back(static_cast<double>(n));
  comm.allreduce_sum(std::span<double>(sums));
  double max_alpha = stats.max_alpha;
  comm.allreduce_max(std::span<double>(&max_alpha, 1));
  stats.examples = static_cast<Index>(sums[0]);
  stats.support = static_cast<Index>(sums[1]);
  stats.counted_alphas = static_cast<Index>(sums[2]);
  stats.alpha_sum = sums[3];
  for (std::size_t i = 0; i < stats.per_output_support.size(); ++i) {
    stats.per_output_support[i] = static_cast<Index>(sums[4 + i]);
  }
  stats.max_alpha = max_alpha;
  return stats;
}

template void write_weights<float>(const std::string&, const Network<float>&);
template void write_weights<double>(const std::string&, const Network<double>&);

}  // namespace normscale
