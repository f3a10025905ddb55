// Support-vector export and statistics over a MultiplierStore.
#include "normscale/metrics/support_vectors.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/atomic_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace normscale {

namespace {

bool counts(double alpha, SupportRule rule) {
  return rule == SupportRule::kPositive ? alpha > 0.0 : alpha != 0.0;
}

// Nine significant digits: every float round-trips, and the export stays readable.
std::string format_alpha(double alpha) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", alpha);
  return buffer;
}

bool is_support(const MultiplierStore& store, Index id, SupportRule rule) {
  const double* a = store.row(id);
  for (Index i = 0; i < store.multipliers_per_example(); ++i) {
    if (counts(a[i], rule)) return true;
  }
  return false;
}

}  // namespace

SupportRule support_rule_for(const Dataset& train) {
  return train.is_classification() ? SupportRule::kPositive : SupportRule::kNonZero;
}

void write_support_vectors_csv(const std::string& path, const MultiplierStore& store,
                               const Dataset& train) {
  const Index end_id = store.first_id() + store.count();
  NS_CHECK(store.count() == 0 || (store.first_id() >= train.first_id &&
                                  end_id <= train.first_id + train.rows),
           "cannot write '{}': multipliers for global ids [{}, {}) but data set '{}' holds [{}, {}); "
           "hint: pass the training shard the store belongs to",
           path, store.first_id(), end_id, train.name, train.first_id, train.first_id + train.rows);
  const SupportRule rule = support_rule_for(train);
  std::string csv = "index,label";
  for (Index i = 0; i < store.multipliers_per_example(); ++i) csv += fmt::format(",alpha_{}", i);
  csv += '\n';
  for (Index id = store.first_id(); id < end_id; ++id) {
    if (!is_support(store, id, rule)) continue;
    csv += fmt::format("{},", id);
    if (train.is_classification()) {
      csv += fmt::format("{}", train.labels[static_cast<std::size_t>(id - train.first_id)]);
    }
    const double* a = store.row(id);
    for (Index i = 0; i < store.multipliers_per_example(); ++i) {
      csv += ',';
      csv += format_alpha(a[i]);
    }
    csv += '\n';
  }
  write_file_atomically(path, csv);
}

std::vector<Index> top_support_vectors(const MultiplierStore& store, Index n) {
  NS_CHECK(n >= 0, "top_support_vectors needs n >= 0, got {}", n);
  std::vector<std::pair<double, Index>> ranked;  // (sum |alpha|, id)
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    const double* a = store.row(id);
    double total = 0.0;
    for (Index i = 0; i < store.multipliers_per_example(); ++i) total += std::abs(a[i]);
    if (total > 0.0) ranked.emplace_back(total, id);
  }
  const auto keep = static_cast<std::ptrdiff_t>(std::min<Index>(n, static_cast<Index>(ranked.size())));
  std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  std::vector<Index> ids;
  ids.reserve(static_cast<std::size_t>(keep));
  for (std::ptrdiff_t k = 0; k < keep; ++k) ids.push_back(ranked[static_cast<std::size_t>(k)].second);
  return ids;
}

std::vector<double> alpha_histogram_edges() {
  std::vector<double> edges;
  for (int decade = -6; decade <= 3; ++decade) edges.push_back(std::pow(10.0, decade));
  return edges;
}

std::vector<Index> alpha_histogram(const MultiplierStore& store, SupportRule rule) {
  const std::vector<double> edges = alpha_histogram_edges();
  std::vector<Index> histogram(edges.size() + 1, 0);
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    const double* a = store.row(id);
    for (Index i = 0; i < store.multipliers_per_example(); ++i) {
      if (!counts(a[i], rule)) continue;
      const auto bin = std::upper_bound(edges.begin(), edges.end(), std::abs(a[i])) - edges.begin();
      ++histogram[static_cast<std::size_t>(bin)];
    }
  }
  return histogram;
}

std::vector<bool> support_set(const MultiplierStore& store, SupportRule rule) {
  std::vector<bool> set(static_cast<std::size_t>(store.count()));
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    set[static_cast<std::size_t>(id - store.first_id())] = is_support(store, id, rule);
  }
  return set;
}

AveragedSupport averaged_support(const MultiplierStore& store, SupportRule rule) {
  const Index column = store.average_column();
  NS_CHECK(column >= 0, "averaged_support: the multiplier store keeps no averages");
  const Index k = store.multipliers_per_example();
  AveragedSupport support;
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    const double* mean = store.row(id) + column;
    bool averaged = false, stable = false;
    for (Index i = 0; i < k; ++i) {
      averaged = averaged || counts(mean[i], rule);
      stable = stable || mean[k + i] > 0.5;
    }
    support.averaged += averaged ? 1 : 0;
    support.stable += stable ? 1 : 0;
  }
  return support;
}

Index support_churn(const std::vector<bool>& before, const std::vector<bool>& after) {
  NS_CHECK(before.size() == after.size(), "support_churn: support sets of {} and {} examples", before.size(),
           after.size());
  Index changed = 0;
  for (std::size_t i = 0; i < before.size(); ++i) changed += before[i] != after[i] ? 1 : 0;
  return changed;
}

double AlphaStats::support_fraction() const {
  return examples > 0 ? static_cast<double>(support) / static_cast<double>(examples) : 0.0;
}

double AlphaStats::mean_alpha() const {
  return counted_alphas > 0 ? alpha_sum / static_cast<double>(counted_alphas) : 0.0;
}

AlphaStats alpha_stats(const MultiplierStore& store, SupportRule rule) {
  AlphaStats stats;
  stats.examples = store.count();
  stats.per_output_support.assign(static_cast<std::size_t>(store.multipliers_per_example()), 0);
  for (Index id = store.first_id(); id < store.first_id() + store.count(); ++id) {
    const double* a = store.row(id);
    bool support = false;
    for (Index i = 0; i < store.multipliers_per_example(); ++i) {
      if (!counts(a[i], rule)) continue;
      support = true;
      ++stats.per_output_support[static_cast<std::size_t>(i)];
      ++stats.counted_alphas;
      stats.alpha_sum += std::abs(a[i]);
      stats.max_alpha = std::max(stats.max_alpha, std::abs(a[i]));
    }
    stats.support += support ? 1 : 0;
  }
  return stats;
}

}  // namespace normscale
