// What the collective watchdog adds to each collective on its own thread: one begin()/end() pair (as
// MpiComm makes around every MPI call when collective_timeout > 0), against the same code without a
// watchdog (MpiComm's path when collective_timeout = 0). No MPI: the pair alone, in nanoseconds.
#include "normscale/comm/collective_watchdog.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace normscale {
namespace {

void BM_WatchBeginEnd(benchmark::State& state) {
  std::atomic<int> fired{0};
  CollectiveWatchdog watchdog(std::chrono::seconds(600), [&fired](const StalledCollective&) { ++fired; });
  std::int64_t step = 0;
  for (auto _ : state) {
    watchdog.set_step(++step);
    const CollectiveWatchdog::Watch watch(&watchdog, "allreduce_sum", 5107240);
    benchmark::ClobberMemory();
  }
  // The figure counts only if nothing fired: every pair finished far within its timeout.
  if (fired != 0) state.SkipWithError("the watchdog fired during short watches");
}
BENCHMARK(BM_WatchBeginEnd);

void BM_WatchWithoutWatchdog(benchmark::State& state) {
  std::int64_t step = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(++step);
    const CollectiveWatchdog::Watch watch(nullptr, "allreduce_sum", 5107240);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_WatchWithoutWatchdog);

}  // namespace
}  // namespace normscale

BENCHMARK_MAIN();
