// Scaling beyond this machine, by model: a measured compute time per example and a ring-allreduce cost model
// project the step time, throughput and efficiency of data parallelism (one global batch split over p ranks).
#pragma once

#include <cstdint>
#include <vector>

namespace normscale {

struct NetworkModel {
  double bus_bandwidth = 0.0;  // bytes/s, nccl-tests' bus bandwidth (what a ring moves per rank per second)
  double latency = 0.0;        // seconds, once per allreduce
};

// A ring allreduce of `bytes` on `ranks` ranks: latency + 2 (p - 1) / p * bytes / bus_bandwidth; 0 on one rank,
// which reduces nothing. The latency is counted once per allreduce, as the model states it (a ring has
// 2 (p - 1) hops, each with its latency; for the megabytes of a gradient the bandwidth term dominates).
double ring_allreduce_seconds(const NetworkModel& network, double bytes, std::int64_t ranks);

// What one step of a (regime, batch) costs, from its measured trials.
struct StepCost {
  double compute_per_example = 0.0;  // seconds of one core per example of the global batch
  double bytes_per_step = 0.0;       // reduced per step (the flat gradient and the step's scalars)
};

struct ProjectedStep {
  std::int64_t ranks = 1;
  double compute_seconds = 0.0;  // per step, per rank
  double comm_seconds = 0.0;
  double step_seconds = 0.0;     // compute + comm: the allreduce waits for the gradient, nothing overlaps
  double samples_per_s = 0.0;
  double efficiency = 1.0;       // samples_per_s / (ranks x samples_per_s on one rank)
  bool communication_bound = false;  // comm > compute
};

// Ranks share `cores`: beyond them they time-share, and the compute of a step takes max(1, p / cores) times as
// long. kCorePerRank: every rank has its own core (or device), as on a cluster.
inline constexpr std::int64_t kCorePerRank = 0;
double time_sharing_factor(std::int64_t ranks, std::int64_t cores);

// The step of global batch `global_batch` on `ranks` ranks: compute c B / p x time_sharing_factor, plus the ring
// allreduce. Efficiency is relative to the same model on one rank.
ProjectedStep project_step(const StepCost& cost, const NetworkModel& network, double global_batch, std::int64_t ranks,
                           std::int64_t cores = kCorePerRank);

// The real rank count p* where the allreduce takes as long as the compute (one core per rank), from
// latency + 2 (p - 1) / p * b / W = c B / p:  p* = (c B + 2 b / W) / (latency + 2 b / W). Beyond p* (and from
// p = 2) the step is communication-bound: comm grows with p, compute shrinks. Infinite for a free allreduce.
double communication_bound_crossover(const StepCost& cost, const NetworkModel& network, double global_batch);

// 1, 2, 4, ..., up to `largest` (a power of two).
std::vector<std::int64_t> doubling_ranks(std::int64_t largest);

}  // namespace normscale
