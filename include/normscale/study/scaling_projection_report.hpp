// The report's scaling projection: each (regime, batch)'s measured step cost, the network (given, measured from
// the study's multi-rank trials, or assumed), the model of scaling_projection.hpp up to 1024 ranks, and where the
// study ran at several rank counts, measured vs projected throughput on this machine.
#pragma once

#include "normscale/study/report_data.hpp"
#include "normscale/study/report_plots.hpp"
#include "normscale/study/report_table.hpp"
#include "normscale/study/scaling_projection.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace normscale {

// `normscale report --bandwidth GBPS --latency US`: a cluster's network instead of this machine's.
struct NetworkOptions {
  std::optional<double> bandwidth_gbps;  // bus bandwidth, GB/s (1e9 bytes/s)
  std::optional<double> latency_us;      // per allreduce, microseconds
};

// What the section says when nothing measured and nothing was given.
inline constexpr double kAssumedBandwidthGbps = 10.0;
inline constexpr double kAssumedLatencyUs = 5.0;
// The largest rank count projected.
inline constexpr std::int64_t kLargestProjectedRanks = 1024;

// A trial's training steps as its metrics timed them: the sums over its evaluation intervals (records with
// steps > 0). Evaluation time is not in them: the model projects training steps.
struct TrialTiming {
  double steps = 0.0;
  double compute_seconds = 0.0;     // step_time_compute_s + step_time_multiplier_s (both per example, per rank)
  double comm_seconds = 0.0;        // step_time_comm_s
  double bytes = 0.0;               // bytes_reduced
  // The record is rank 0's. Since 2026-12 it also has the slowest rank's compute (step_time_compute_max_s, plus
  // rank 0's multiplier time) and the least-waiting rank's allreduce (step_time_comm_min_s, near enough the
  // transfer alone); for older records these are rank 0's own figures.
  double slowest_compute_seconds = 0.0;
  double transfer_seconds = 0.0;

  double step_seconds() const { return (compute_seconds + comm_seconds) / steps; }
};
std::optional<TrialTiming> trial_timing(const ReportTrial& trial);

struct NetworkEstimate {
  NetworkModel model;
  std::string bandwidth_source;  // how the figure was obtained, for the section's text
  std::string latency_source;
  bool assumed = false;          // a figure is the stated default
  bool measured = false;         // the bandwidth comes from the study's own multi-rank trials
};
// Given figures win. Else the bandwidth is measured from the study's done multi-rank trials that did not
// time-share cores (ranks <= cores): per trial 2 (p - 1) / p x bytes per step / (transfer per step - latency),
// the median over the trials (the transfer: the least-waiting rank's allreduce time, not rank 0's, which
// includes waiting for the slowest rank); a time-shared trial's allreduce is slowed by descheduled ranks, so it
// is left out.
// One message size cannot separate latency from bandwidth: the latency is given or assumed.
NetworkEstimate estimate_network(const StudyData& data, const NetworkOptions& given, std::int64_t cores);

// One (regime, batch)'s projection.
struct ScalingProjection {
  std::string regime;
  std::int64_t batch = 0;
  double global_batch = 0.0;
  std::int64_t measured_ranks = 1;  // the rank count its cost comes from (its smallest with timed trials)
  std::size_t trials = 0;           // timed trials the cost is the median of
  StepCost cost;
  std::vector<ProjectedStep> steps;  // one rank per core (a cluster), at doubling_ranks(kLargestProjectedRanks)
  double crossover = 0.0;            // communication_bound_crossover
  std::optional<std::int64_t> first_communication_bound;  // the first of `steps` with comm > compute
};
// Per (regime, batch) in study-file order, from the selected done trials at its smallest rank count with timing:
// compute per example = (compute + multiplier seconds per step) x ranks / global batch / time_sharing_factor
// (ranks, cores), the median over those trials, likewise the bytes per step.
std::vector<ScalingProjection> scaling_projections(const StudyData& data, const std::vector<TableRow>& rows,
                                                   const NetworkModel& network, std::int64_t cores);

// A measured rank count against the projection from the (regime, batch)'s smallest one, on this machine.
struct ScalingCheck {
  std::string regime;
  std::int64_t batch = 0;
  std::int64_t from_ranks = 1;
  std::int64_t ranks = 1;
  double measured_samples_per_s = 0.0;   // global batch / measured step time (median over the trials)
  double projected_samples_per_s = 0.0;  // project_step with this machine's cores
  // Where a miss comes from, seconds per step (medians over the trials): rank 0's compute and the slowest
  // rank's against the model's, rank 0's allreduce (with its waiting) and the transfer against the model's.
  double compute_seconds = 0.0, slowest_compute_seconds = 0.0, projected_compute_seconds = 0.0;
  double comm_seconds = 0.0, transfer_seconds = 0.0, projected_comm_seconds = 0.0;

  double ratio() const { return measured_samples_per_s / projected_samples_per_s; }
};
std::vector<ScalingCheck> scaling_checks(const StudyData& data, const std::vector<TableRow>& rows,
                                         const std::vector<ScalingProjection>& projections,
                                         const NetworkModel& network, std::int64_t cores);
// |measured / projected - 1| <= this: the model holds here.
inline constexpr double kScalingCheckTolerance = 0.15;

// The section of table.md: the model, the network and where its figures come from, samples/s and efficiency at
// p = 1, 8, 64, 1024 and the first communication-bound rank count per (regime, batch); then measured vs
// projected rows where the study ran several rank counts.
std::string scaling_projection_markdown(const NetworkEstimate& network, std::int64_t cores,
                                        const std::vector<ScalingProjection>& projections,
                                        const std::vector<ScalingCheck>& checks);

// Projected samples/s vs ranks (log-log): a line per (regime, batch), each one's perfect scaling dashed, and the
// first communication-bound rank count of each starred.
Plot scaling_projection_plot(const NetworkEstimate& network, const std::vector<ScalingProjection>& projections);

}  // namespace normscale
