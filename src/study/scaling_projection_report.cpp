// The scaling projection of a study's report: costs from the trials' metrics, the network, the model's rows,
// measured vs projected, the Markdown section and the plot (see the header).
#include "normscale/study/scaling_projection_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <map>
#include <utility>

namespace normscale {
namespace {

// The rank counts the section shows: one, a node, a rack, the largest.
constexpr std::int64_t kShownRanks[] = {1, 8, 64, kLargestProjectedRanks};

std::optional<double> metric(const MetricPoint& point, const char* key) {
  const auto found = point.values.find(key);
  if (found == point.values.end() || !std::isfinite(found->second)) return std::nullopt;
  return found->second;
}

// The timed, selected done trials of one row.
std::vector<TrialTiming> timings_of(const TableRow& row) {
  std::vector<TrialTiming> timings;
  for (const ReportTrial* trial : row.selected_trials) {
    if (auto timing = trial_timing(*trial)) timings.push_back(*timing);
  }
  return timings;
}

// Each (regime, batch)'s rows, in study-file order.
std::vector<std::vector<const TableRow*>> rows_by_cell(const std::vector<TableRow>& rows) {
  std::vector<std::vector<const TableRow*>> cells;
  std::map<std::pair<std::string, std::int64_t>, std::size_t> index;
  for (const TableRow& row : rows) {
    const auto [at, inserted] = index.emplace(std::make_pair(row.regime, row.batch), cells.size());
    if (inserted) cells.emplace_back();
    cells[at->second].push_back(&row);
  }
  return cells;
}

std::string cell_label(const std::string& regime, std::int64_t batch) {
  return fmt::format("{}, batch {}", regime, batch_label(batch));
}

}  // namespace

std::optional<TrialTiming> trial_timing(const ReportTrial& trial) {
  TrialTiming timing;
  for (const MetricPoint& point : trial.metrics) {
    const auto steps = metric(point, "steps");
    const auto compute = metric(point, "step_time_compute_s");
    const auto comm = metric(point, "step_time_comm_s");
    if (!steps || *steps <= 0 || !compute || !comm) continue;
    const double multiplier = metric(point, "step_time_multiplier_s").value_or(0.0);
    timing.steps += *steps;
    timing.compute_seconds += (*compute + multiplier) * *steps;
    timing.comm_seconds += *comm * *steps;
    const double slowest = metric(point, "step_time_compute_max_s").value_or(*compute);
    timing.slowest_compute_seconds += (slowest + multiplier) * *steps;
    timing.transfer_seconds += metric(point, "step_time_comm_min_s").value_or(*comm) * *steps;
    timing.bytes += metric(point, "bytes_reduced").value_or(0.0);
  }
  if (timing.steps <= 0) return std::nullopt;
  return timing;
}

NetworkEstimate estimate_network(const StudyData& data, const NetworkOptions& given, std::int64_t cores) {
  NetworkEstimate estimate;
  if (given.latency_us) {
    estimate.model.latency = *given.latency_us * 1e-6;
    estimate.latency_source = "given (--latency)";
  } else {
    estimate.model.latency = kAssumedLatencyUs * 1e-6;
    estimate.latency_source = "assumed; one message size cannot separate it from the bandwidth (--latency sets it)";
    estimate.assumed = true;
  }
  if (given.bandwidth_gbps) {
    estimate.model.bus_bandwidth = *given.bandwidth_gbps * 1e9;
    estimate.bandwidth_source = "given (--bandwidth)";
    return estimate;
  }
  std::vector<double> measured;
  std::size_t time_shared = 0;
  std::vector<std::int64_t> rank_counts;
  for (const ReportTrial& trial : data.trials) {
    const std::int64_t p = trial.record.ranks;
    if (!trial.done() || p < 2) continue;
    const auto timing = trial_timing(trial);
    if (!timing || timing->bytes <= 0) continue;
    if (cores != kCorePerRank && p > cores) {
      ++time_shared;
      continue;
    }
    const double comm_per_step = timing->transfer_seconds / timing->steps - estimate.model.latency;
    if (comm_per_step <= 0) continue;
    const double ring = 2.0 * static_cast<double>(p - 1) / static_cast<double>(p);
    measured.push_back(ring * timing->bytes / timing->steps / comm_per_step);
    if (std::find(rank_counts.begin(), rank_counts.end(), p) == rank_counts.end()) rank_counts.push_back(p);
  }
  if (const auto median = median_of(measured)) {
    estimate.model.bus_bandwidth = *median;
    estimate.measured = true;
    std::sort(rank_counts.begin(), rank_counts.end());
    std::string counts;
    for (const std::int64_t p : rank_counts) counts += (counts.empty() ? "" : ", ") + std::to_string(p);
    estimate.bandwidth_source = fmt::format(
        "measured on the machine the trials ran on: 2 (p - 1) / p x bytes / (transfer - latency) per step, the "
        "median over {} trial{} at {} ranks", measured.size(), measured.size() == 1 ? "" : "s", counts);
    return estimate;
  }
  estimate.model.bus_bandwidth = kAssumedBandwidthGbps * 1e9;
  estimate.assumed = true;
  estimate.bandwidth_source =
      time_shared > 0
          ? fmt::format("assumed: the study's {} timed multi-rank trials all had more ranks than the {} cores of the "
                        "machine they ran on, so their comm time includes waiting for descheduled ranks (--bandwidth "
                        "sets it)",
                        time_shared, cores)
          : std::string("assumed: no done multi-rank trial of the study timed its allreduce (--bandwidth sets it)");
  return estimate;
}

std::vector<ScalingProjection> scaling_projections(const StudyData& data, const std::vector<TableRow>& rows,
                                                   const NetworkModel& network, std::int64_t cores) {
  std::vector<ScalingProjection> projections;
  for (const std::vector<const TableRow*>& cell : rows_by_cell(rows)) {
    // The smallest rank count with timed trials.
    const TableRow* source = nullptr;
    std::vector<TrialTiming> timings;
    for (const TableRow* row : cell) {
      if (source != nullptr && row->ranks >= source->ranks) continue;
      std::vector<TrialTiming> timed = timings_of(*row);
      if (timed.empty()) continue;
      source = row;
      timings = std::move(timed);
    }
    if (source == nullptr) continue;
    ScalingProjection projection;
    projection.regime = source->regime;
    projection.batch = source->batch;
    projection.global_batch = batch_size(data, source->batch);
    projection.measured_ranks = source->ranks;
    projection.trials = timings.size();
    std::vector<double> per_example, bytes;
    // The measured compute is undone of its time sharing: the model's rank has a core of its own.
    const double shared = time_sharing_factor(source->ranks, cores);
    for (const TrialTiming& t : timings) {
      per_example.push_back(t.compute_seconds / t.steps * static_cast<double>(source->ranks) /
                            projection.global_batch / shared);
      bytes.push_back(t.bytes / t.steps);
    }
    projection.cost = {*median_of(per_example), *median_of(bytes)};
    for (const std::int64_t p : doubling_ranks(kLargestProjectedRanks)) {
      projection.steps.push_back(project_step(projection.cost, network, projection.global_batch, p));
      if (!projection.first_communication_bound && projection.steps.back().communication_bound) {
        projection.first_communication_bound = p;
      }
    }
    projection.crossover = communication_bound_crossover(projection.cost, network, projection.global_batch);
    projections.push_back(std::move(projection));
  }
  return projections;
}

std::vector<ScalingCheck> scaling_checks(const StudyData& data, const std::vector<TableRow>& rows,
                                         const std::vector<ScalingProjection>& projections,
                                         const NetworkModel& network, std::int64_t cores) {
  std::vector<ScalingCheck> checks;
  for (const ScalingProjection& projection : projections) {
    const std::size_t first = checks.size();
    for (const TableRow& row : rows) {
      if (row.regime != projection.regime || row.batch != projection.batch ||
          row.ranks == projection.measured_ranks) {
        continue;
      }
      std::vector<double> step_seconds, compute, slowest, comm, transfer;
      for (const TrialTiming& t : timings_of(row)) {
        step_seconds.push_back(t.step_seconds());
        compute.push_back(t.compute_seconds / t.steps);
        slowest.push_back(t.slowest_compute_seconds / t.steps);
        comm.push_back(t.comm_seconds / t.steps);
        transfer.push_back(t.transfer_seconds / t.steps);
      }
      const auto measured = median_of(step_seconds);
      if (!measured || *measured <= 0) continue;
      const ProjectedStep projected = project_step(projection.cost, network, projection.global_batch, row.ranks, cores);
      ScalingCheck check;
      check.compute_seconds = *median_of(compute);
      check.slowest_compute_seconds = *median_of(slowest);
      check.comm_seconds = *median_of(comm);
      check.transfer_seconds = *median_of(transfer);
      check.projected_compute_seconds = projected.compute_seconds;
      check.projected_comm_seconds = projected.comm_seconds;
      check.regime = row.regime;
      check.batch = row.batch;
      check.from_ranks = projection.measured_ranks;
      check.ranks = row.ranks;
      check.measured_samples_per_s = batch_size(data, row.batch) / *measured;
      check.projected_samples_per_s = projected.samples_per_s;
      checks.push_back(std::move(check));
    }
    // The study file may list its rank counts in any order; the rows read best by rank count.
    std::sort(checks.begin() + static_cast<std::ptrdiff_t>(first), checks.end(),
              [](const ScalingCheck& a, const ScalingCheck& b) { return a.ranks < b.ranks; });
  }
  return checks;
}

std::string scaling_projection_markdown(const NetworkEstimate& network, std::int64_t cores,
                                        const std::vector<ScalingProjection>& projections,
                                        const std::vector<ScalingCheck>& checks) {
  std::string text = fmt::format(
      "\n## Scaling projection\n\nA model, not a measurement: data parallelism with the global batch B split over p "
      "ranks, one core (or device) per rank. Step time = compute + allreduce (nothing overlaps); compute = c B / p "
      "with c the compute seconds per example measured at the (regime, batch)'s smallest rank count (the "
      "trainer's compute and multiplier timers per step x ranks / B, the median over its selected trials; "
      "evaluations and each process's first step, its warm-up, excluded); allreduce t_comm(p) = latency + "
      "2 (p - 1) / p x bytes / bus bandwidth (ring; none on one rank). Network: bus bandwidth {:.4g} GB/s ({}); "
      "latency {:.4g} us ({}). Cells: samples/s (efficiency = samples/s at p / (p x samples/s at 1)). "
      "Communication-bound from: the first p with t_comm > compute; p* is where they are equal.\n\n",
      network.model.bus_bandwidth / 1e9, network.bandwidth_source, network.model.latency * 1e6, network.latency_source);
  if (projections.empty()) {
    return text + "No done trial records step timings (step_time_compute_s in metrics.jsonl): nothing to project.\n";
  }
  text += "| regime | batch | measured at ranks | compute us / example | MB reduced / step |";
  for (const std::int64_t p : kShownRanks) text += fmt::format(" p = {} |", p);
  text += " communication-bound from |\n| --- | ---: | ---: | ---: | ---: |";
  for (std::size_t i = 0; i < std::size(kShownRanks); ++i) text += " ---: |";
  text += " ---: |\n";
  for (const ScalingProjection& projection : projections) {
    text += fmt::format("| {} | {} | {} | {:.4g} | {:.4g} |", markdown_cell(projection.regime),
                        batch_label(projection.batch), projection.measured_ranks,
                        projection.cost.compute_per_example * 1e6, projection.cost.bytes_per_step / 1e6);
    for (const std::int64_t p : kShownRanks) {
      const auto step = std::find_if(projection.steps.begin(), projection.steps.end(),
                                     [&](const ProjectedStep& s) { return s.ranks == p; });
      text += fmt::format(" {:.4g} ({:.2f}) |", step->samples_per_s, step->efficiency);
    }
    text += projection.first_communication_bound
                ? fmt::format(" p = {} (p* = {:.3g}) |\n", *projection.first_communication_bound, projection.crossover)
                : fmt::format(" beyond {} (p* = {:.3g}) |\n", kLargestProjectedRanks, projection.crossover);
  }

  text += fmt::format(
      "\n### Measured vs projected on the machine the trials ran on\n\n{} cores (report --cores, else this "
      "machine's online CPUs). Ranks beyond the cores time-share them, so here the projected "
      "compute per step is c B / p x max(1, p / cores); the network is the one above. Measured samples/s = "
      "B / the median over the selected trials of their (compute + multiplier + comm) seconds per step. The ms / step "
      "columns say where a miss comes from: compute as rank 0 and the slowest rank measured it, then the model's; "
      "the allreduce as rank 0 measured it (including its wait for the slowest rank), the transfer (the "
      "least-waiting rank's allreduce), then the model's. Trials recorded before the slowest-rank figures "
      "existed show rank 0's twice.{}\n\n",
      cores,
      network.measured ? " The bandwidth was measured from the multi-rank trials that did not time-share, so at "
                         "their rank counts the check tests the compute model; --bandwidth tests both."
                       : "");
  if (checks.empty()) {
    return text + "No (regime, batch) has timed trials at a second rank count: nothing to check the model against.\n";
  }
  text += fmt::format(
      "| regime | batch | ranks | projected from ranks | measured samples/s | projected samples/s | measured / "
      "projected | within {:.0f}% | compute ms / step: rank 0, slowest, model | allreduce ms / step: rank 0, "
      "transfer, model |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n",
      kScalingCheckTolerance * 100);
  for (const ScalingCheck& check : checks) {
    text += fmt::format("| {} | {} | {} | {} | {:.4g} | {:.4g} | {:.3f} | {} | {:.4g}, {:.4g}, {:.4g} | {:.4g}, "
                        "{:.4g}, {:.4g} |\n",
                        markdown_cell(check.regime), batch_label(check.batch), check.ranks, check.from_ranks,
                        check.measured_samples_per_s, check.projected_samples_per_s, check.ratio(),
                        std::abs(check.ratio() - 1.0) <= kScalingCheckTolerance ? "yes" : "no",
                        check.compute_seconds * 1e3, check.slowest_compute_seconds * 1e3,
                        check.projected_compute_seconds * 1e3, check.comm_seconds * 1e3, check.transfer_seconds * 1e3,
                        check.projected_comm_seconds * 1e3);
  }
  return text;
}

Plot scaling_projection_plot(const NetworkEstimate& network, const std::vector<ScalingProjection>& projections) {
  Plot plot;
  plot.name = "scaling_projection";
  plot.title = fmt::format("Projected samples/s vs ranks, a core per rank (allreduce at {:.3g} GB/s, {:.3g} us{})",
                           network.model.bus_bandwidth / 1e9, network.model.latency * 1e6,
                           network.assumed ? ", partly assumed" : "");
  plot.xlabel = "ranks";
  plot.ylabel = "samples/s";
  plot.log2_x = true;
  plot.log_y = true;
  for (const std::int64_t p : doubling_ranks(kLargestProjectedRanks)) {
    plot.xtics.emplace_back(static_cast<double>(p), std::to_string(p));
  }
  PlotSeries bound{"first communication-bound rank count", {}, SeriesStyle::kStars};
  for (const ScalingProjection& projection : projections) {
    const std::string label = cell_label(projection.regime, projection.batch);
    PlotSeries projected{label, {}};
    PlotSeries perfect{label + ": perfect scaling", {}, SeriesStyle::kDashed};
    const double one = projection.steps.front().samples_per_s;
    for (const ProjectedStep& step : projection.steps) {
      const double p = static_cast<double>(step.ranks);
      projected.points.push_back({p, step.samples_per_s, 0.0});
      perfect.points.push_back({p, one * p, 0.0});
      if (projection.first_communication_bound == step.ranks) bound.points.push_back({p, step.samples_per_s, 0.0});
    }
    plot.series.push_back(std::move(projected));
    plot.series.push_back(std::move(perfect));
  }
  if (!bound.points.empty()) plot.series.push_back(std::move(bound));
  if (plot.empty()) plot.empty_reason = "no done trial records step timings (step_time_compute_s)";
  return plot;
}

}  // namespace normscale
