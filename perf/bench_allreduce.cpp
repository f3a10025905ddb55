// Gradient synchronisation cost under MPI: the trainer's path (Communicator::allreduce_sum on an
// MpiComm, with and without the collective watchdog of `collective_timeout`) against a plain in-place
// MPI_Allreduce of the same floats, reported as bus bandwidth 2(P-1)/P * bytes / time. Run as
// `mpirun -np 2 bench_allreduce`; only rank 0 prints.
//
// Every rank must run the same iterations or the collectives deadlock. Each iteration is timed from
// a barrier and the slowest rank's time (one MPI_MAX allreduce) becomes the manual iteration time,
// so Google Benchmark's iteration-count decisions, which depend only on that time, are identical on
// every rank; each batch additionally checks that all ranks agree on (size, path, iteration count).
#include "normscale/comm/agreement.hpp"
#include "normscale/comm/mpi_check.hpp"
#include "normscale/comm/mpi_comm.hpp"
#include "normscale/core/error.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace normscale {
namespace {

// The flat gradient of the paper's 784-800-800-10 MLP (weights and biases): 4,987.5 KiB.
constexpr std::int64_t kMlpGradientFloats = 784 * 800 + 800 + 800 * 800 + 800 + 800 * 10 + 10;
static_assert(kMlpGradientFloats == 1'276'810);

enum class SyncPath : std::uint64_t { kPlainMpi = 0, kTrainer = 1, kTrainerWatched = 2 };

// The batch's identity, packed exactly: iterations in the high 32 bits, then bytes, then the path.
std::uint64_t batch_identity(std::int64_t iterations, std::int64_t bytes, SyncPath path) {
  return (static_cast<std::uint64_t>(iterations) << 32) | (static_cast<std::uint64_t>(bytes) << 2) |
         static_cast<std::uint64_t>(path);
}

// Rank r contributes (r + 1) * (i % 1024): the sum P(P+1)/2 * (i % 1024) stays exact in float.
void fill_contribution(std::span<float> values, int rank) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 1024));
  }
}

std::int64_t count_wrong_sums(std::span<const float> values, int ranks) {
  std::int64_t wrong = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto expected = static_cast<float>(ranks * (ranks + 1) / 2 * static_cast<int>(i % 1024));
    if (values[i] != expected) ++wrong;
  }
  return wrong;
}

void bench_gradient_allreduce(benchmark::State& state, MpiComm& comm, MpiComm& watched, std::vector<float>& storage,
                              SyncPath path) {
  const std::int64_t bytes = state.range(0);
  const auto count = static_cast<std::size_t>(bytes) / sizeof(float);
  const MPI_Comm world = MPI_COMM_WORLD;
  const int ranks = comm.size();
  // The Trainer sees only the interface; `watched` has the watchdog of the default collective_timeout.
  Communicator& trainer_comm = path == SyncPath::kTrainerWatched ? watched : comm;

  try {
    check_same_on_all_ranks(comm, batch_identity(state.max_iterations, bytes, path), "benchmark batch");
  } catch (const Error& error) {
    state.SkipWithError(error.what());  // on every rank, so every rank leaves this benchmark
    return;
  }

  // One buffer, allocated once, serves every size (as the trainer's gradient is allocated once), so
  // no size pays for fresh pages. Zeros while timing: repeated in-place sums stay finite.
  NS_CHECK(count <= storage.size(), "benchmark buffer of {} floats is too small for {}", storage.size(), count);
  const std::span<float> gradient(storage.data(), count);
  std::fill(gradient.begin(), gradient.end(), 0.0F);
  const auto sync = [&] {
    if (path != SyncPath::kPlainMpi) {
      trainer_comm.allreduce_sum(gradient);
    } else {
      NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, gradient.data(), static_cast<int>(count), MPI_FLOAT,
                                 MPI_SUM, world));
    }
  };
  sync();  // warm-up: connections and buffers set up outside the timing

  double timed_seconds = 0.0;
  for (auto _ : state) {
    NS_MPI_CHECK(MPI_Barrier(world));
    const auto start = std::chrono::steady_clock::now();
    sync();
    double slowest = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &slowest, 1, MPI_DOUBLE, MPI_MAX, world));
    state.SetIterationTime(slowest);
    timed_seconds += slowest;
  }

  // The numbers count only if the same call still sums correctly on every rank.
  fill_contribution(gradient, comm.rank());
  sync();
  std::int64_t wrong = count_wrong_sums(gradient, ranks);
  NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT64_T, MPI_MAX, world));
  if (wrong != 0) {
    state.SkipWithError(fmt::format("allreduce sum wrong in {} of {} elements", wrong, count).c_str());
    return;
  }

  const double algbw = static_cast<double>(bytes) * static_cast<double>(state.iterations()) / timed_seconds;
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["ranks"] = ranks;
  state.counters["algbw_GBps"] = algbw / 1e9;
  state.counters["busbw_GBps"] = algbw * 2.0 * (ranks - 1) / ranks / 1e9;
}

// Ranks > 0 run every benchmark but print nothing, not even --benchmark_list_tests.
class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  SilentReporter() : discard_(nullptr) {
    SetOutputStream(&discard_);
    SetErrorStream(&discard_);
  }
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}

 private:
  std::ostream discard_;  // no buffer: every write is dropped
};

void register_benchmarks(MpiComm& comm, MpiComm& watched, std::vector<float>& storage) {
  std::vector<std::int64_t> sizes;
  for (std::int64_t bytes = 4 << 10; bytes <= 64 << 20; bytes *= 4) sizes.push_back(bytes);
  sizes.push_back(kMlpGradientFloats * static_cast<std::int64_t>(sizeof(float)));
  std::sort(sizes.begin(), sizes.end());
  storage.assign(static_cast<std::size_t>(sizes.back()) / sizeof(float), 0.0F);
  // Interleaved by size, so every path of one size runs under the same machine conditions.
  for (const std::int64_t bytes : sizes) {
    for (const auto& [name, path] : {std::pair{"allreduce/plain_mpi", SyncPath::kPlainMpi},
                                     std::pair{"allreduce/trainer_mpicomm", SyncPath::kTrainer},
                                     std::pair{"allreduce/trainer_mpicomm_watchdog", SyncPath::kTrainerWatched}}) {
      benchmark::RegisterBenchmark(name, [&comm, &watched, &storage, path = path](benchmark::State& state) {
        bench_gradient_allreduce(state, comm, watched, storage, path);
      })
          ->ArgName("bytes")
          ->Arg(bytes)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

int run(int argc, char** argv) {
  MpiComm comm;
  MpiComm watched;
  watched.set_collective_timeout(std::chrono::seconds(600));  // the default collective_timeout
  // Only rank 0 writes --benchmark_out files; the others would overwrite the same path.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (comm.is_root() || !std::string_view(argv[i]).starts_with("--benchmark_out")) args.push_back(argv[i]);
  }
  int arg_count = static_cast<int>(args.size());
  args.push_back(nullptr);  // argv[argc] is null by convention
  benchmark::Initialize(&arg_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(arg_count, args.data())) return 1;
  std::vector<float> storage;
  register_benchmarks(comm, watched, storage);
  if (comm.is_root()) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    SilentReporter silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace normscale

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int exit_code = 0;
  try {
    exit_code = normscale::run(argc, argv);
  } catch (const normscale::Error& error) {
    std::cerr << "bench_allreduce: error: " << error.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Finalize();
  return exit_code;
}
