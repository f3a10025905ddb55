// Two passes over the training set: (1) class sums and second moments of the penultimate features and
// the range of margins and magnitudes; (2) nearest-class-mean agreement and the histograms.
#include "normscale/train/instruments.hpp"

#include "normscale/metrics/margins.hpp"
#include "normscale/metrics/neural_collapse.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace normscale {

namespace {

constexpr Index kBins = 50;
constexpr double kNearMinMargin = 0.05;  // relative distance from the smallest margin

std::span<const std::int32_t> labels_of(const Dataset& data, std::span<const Index> rows) {
  return {data.labels.data() + rows.front(), rows.size()};
}

// `values`: every training example's margin or magnitude, in global example order.
nlohmann::json summary(const MarginStats& stats, bool margins, std::vector<double> values) {
  const HistogramRange range = margins ? stats.margin_range() : stats.magnitude_range();
  const auto counts = margins ? stats.margin_counts() : stats.magnitude_counts();
  constexpr double kQs[] = {10.0, 50.0, 90.0};
  const std::vector<double> p = percentiles(std::move(values), kQs);
  nlohmann::json out = {
      {"p10", p[0]},
      {"p50", p[1]},
      {"p90", p[2]},
      {"histogram",
       {{"low", range.low}, {"high", range.high}, {"counts", std::vector<double>(counts.begin(), counts.end())}}}};
  if (margins) {
    out["min"] = stats.min_margin();
    out["mean"] = stats.mean_margin();
    // Spread of the margins relative to their median: the papers predict equalising margins.
    out["spread"] = (p[2] - p[0]) / std::abs(p[1]);
  }
  return out;
}

}  // namespace

template <class T>
nlohmann::json evaluate_instruments(TrainingEngine<T>& engine, const Network<T>& network, Communicator& comm,
                                    const Dataset& train, double rho) {
  nlohmann::json result;
  if (!train.is_classification() || rho <= 0 || !std::isfinite(rho)) return result;
  const std::size_t last = network.layer_count() - 1;
  const Index classes = std::max<Index>(train.num_classes, 2);
  const bool collapse = last > 0;
  // The penultimate width from the layer shapes, not from a stored activation: with device = cuda
  // the host network has run no forward pass yet.
  Index dim = network.input_width();
  for (std::size_t i = 0; i < last; ++i) dim = network.layer(i).output_width(dim);
  NeuralCollapseSums sums(classes, collapse ? dim : 1);
  // Pass 1: class sums, and every example's margin, then its magnitude, at its global id. Summed over the ranks (each
  // adds its own to zeros), every rank holds them all (8 bytes per value): the percentiles are exact and the
  // histograms, minimum and mean the same on every rank count.
  const auto total = static_cast<std::size_t>(train.global_rows());
  std::vector<double> values(2 * total, 0.0);
  engine.forward_each_chunk(train, [&](std::span<const Index> rows, const Matrix<T>& f, const Matrix<T>& features) {
    const auto labels = labels_of(train, rows);
    if (collapse) sums.accumulate(features, labels);
    const std::vector<double> margins = example_margins(f, labels, rho);
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const auto id = static_cast<std::size_t>(train.first_id + rows[k]);
      values[id] = margins[k];
      values[total + id] = static_cast<double>(f.row(static_cast<Index>(k)).template cast<double>().norm()) / rho;
    }
  });
  comm.allreduce_sum(std::span<double>(values));
  if (collapse) comm.allreduce_sum(std::span<double>(sums.flat()));
  // Outputs beyond a double's range over rho (a rho near 0, a blown-up network): no margin to measure. Every rank
  // holds the same values, so every rank returns here alike.
  if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) return result;
  const std::span<const double> margins(values.data(), total);
  const std::span<const double> magnitudes(values.data() + total, total);

  const auto [lowest, highest] = std::minmax_element(margins.begin(), margins.end());
  const double low = *lowest, high = *highest;
  const double pad = std::max(1e-12, 1e-6 * (high - low));
  const double largest = *std::max_element(magnitudes.begin(), magnitudes.end());
  MarginStats stats({low - pad, high + pad, kBins}, {0.0, largest * (1 + 1e-6) + 1e-300, kBins});
  // Theory III's "support vectors" of the exponential loss: the examples whose margin is within
  // kNearMinMargin of the smallest (counted only when every margin is positive: the data are separated).
  double near_min = 0.0;
  for (std::size_t i = 0; i < total; ++i) {
    stats.add(margins[i], magnitudes[i]);
    if (low > 0) near_min += margins[i] <= low * (1 + kNearMinMargin) ? 1.0 : 0.0;
  }

  // Pass 2, with the class means: the nearest-class-mean agreement (NC4).
  const bool have_means = collapse && sums.total_count() > 0;
  const ClassMeans means = have_means ? class_means(sums) : ClassMeans{};
  NearestMeanAgreement agreement;
  if (have_means) {
    engine.forward_each_chunk(train, [&](std::span<const Index>, const Matrix<T>& f, const Matrix<T>& features) {
      agreement.accumulate(features, f, means);
    });
    comm.allreduce_sum(std::span<double>(agreement.flat()));
  }

  // The normalized margin min_n y_n f(x_n) / rho and its near-minimal share at the top level, where the
  // study reports plot them over training.
  result["normalized_margin"] = low;
  if (low > 0 && stats.examples() > 0) result["near_min_margin_fraction"] = near_min / stats.examples();
  result["margins"] = summary(stats, true, std::vector<double>(margins.begin(), margins.end()));
  result["output_magnitude"] = summary(stats, false, std::vector<double>(magnitudes.begin(), magnitudes.end()));
  Index present = 0;
  for (Index c = 0; c < classes; ++c) present += have_means && sums.count(c) > 0 ? 1 : 0;
  if (present >= 2) {
    const Matrix<double> w = network.weights().back().matrix.template cast<double>();
    const NeuralCollapseMetrics nc = finish_neural_collapse(sums, w, &agreement);
    result["neural_collapse"] = {{"nc1", nc.nc1},
                                 {"nc2_equinorm", nc.nc2_equinorm},
                                 {"nc2_equiangularity", nc.nc2_equiangularity},
                                 {"nc3", nc.nc3},
                                 {"nc4", nc.nc4}};
  }
  return result;
}

template nlohmann::json evaluate_instruments<float>(TrainingEngine<float>&, const Network<float>&, Communicator&,
                                                    const Dataset&, double);
template nlohmann::json evaluate_instruments<double>(TrainingEngine<double>&, const Network<double>&,
                                                     Communicator&, const Dataset&, double);

}  // namespace normscale
