// Which pending trials start now on a machine with some cores free: a pure first-fit packing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace normscale {

// Cores one trial occupies: ranks x BLAS threads per rank (threads 0, "automatic", counts as 1).
std::int64_t trial_cores(std::int64_t ranks, std::int64_t threads_per_rank);

// The indices into `demands` (cores per pending trial, in queue order) to start now, given
// `free_cores` of `total_cores`. First fit in queue order, so small trials fill the cores a wide one
// cannot use yet (the study is finite, so the wide one still runs). A trial wider than the machine
// starts only on an idle machine, alone (it then oversubscribes the cores).
std::vector<std::size_t> trials_to_start(std::int64_t free_cores, std::int64_t total_cores,
                                         std::span<const std::int64_t> demands);

// The cores a trial holds while it runs: its demand, at most the whole machine.
std::int64_t cores_held(std::int64_t demand, std::int64_t total_cores);

}  // namespace normscale
