// This machine's fp32 FMA peak (BM_FmaPeak): the limit every GEMM and step figure is given as a fraction of.
// Independent FMA chains held in registers at the widest vector width the CPU has, chosen at run time
// (the binary may be built on one CPU and run on another, and -march=native must not decide it).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace normscale {
namespace {

// Twelve chains: more than FMA latency (4 cycles) x FMA ports (2) on every x86 CPU of this project, so
// the loop is throughput-bound, and few enough to stay in registers (16 ymm or 32 zmm).
constexpr int kChains = 12;

// One chain's step is x = x * a + b; a and b come in at run time so nothing folds. Returns the first
// chain's first lane; `same` says whether every lane of every chain ended equal (they ran the same
// recurrence), which the benchmark checks.
struct ChainResult {
  float value;
  bool same;
};

// The first lane of `count` lanes, and whether every one equals it.
ChainResult lanes_result(const float* lanes, int count) {
  bool same = true;
  for (int i = 0; i < count; ++i) same = same && lanes[i] == lanes[0];
  return {lanes[0], same};
}

__attribute__((target("avx512f"))) ChainResult chains_avx512(std::int64_t steps, float x0, float a, float b) {
  __m512 x[kChains];
  for (auto& v : x) v = _mm512_set1_ps(x0);
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  for (std::int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (auto& v : x) v = _mm512_fmadd_ps(v, va, vb);
  }
  alignas(64) float lanes[kChains][16];
  for (int c = 0; c < kChains; ++c) _mm512_store_ps(lanes[c], x[c]);
  return lanes_result(&lanes[0][0], kChains * 16);
}

__attribute__((target("avx2,fma"))) ChainResult chains_avx2(std::int64_t steps, float x0, float a, float b) {
  __m256 x[kChains];
  for (auto& v : x) v = _mm256_set1_ps(x0);
  const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  for (std::int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (auto& v : x) v = _mm256_fmadd_ps(v, va, vb);
  }
  alignas(32) float lanes[kChains][8];
  for (int c = 0; c < kChains; ++c) _mm256_store_ps(lanes[c], x[c]);
  return lanes_result(&lanes[0][0], kChains * 8);
}

ChainResult chains_scalar(std::int64_t steps, float x0, float a, float b) {
  float x[kChains];
  for (auto& v : x) v = x0;
  for (std::int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (auto& v : x) v = std::fma(v, a, b);
  }
  return lanes_result(x, kChains);
}

struct FmaKernel {
  const char* isa;
  int lanes;
  ChainResult (*run)(std::int64_t, float, float, float);
};

// The widest kernel this CPU runs, decided once.
const FmaKernel& widest_kernel() {
  static const FmaKernel kernel = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return FmaKernel{"avx512f", 16, chains_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return FmaKernel{"avx2+fma", 8, chains_avx2};
    return FmaKernel{"scalar", 1, chains_scalar};
  }();
  return kernel;
}

// state.range(0) threads each run their own chains at once (all cores busy, as in a 2-thread step);
// GFLOP/s is the total over the threads, "GFLOP/s per thread" its share.
void fma_peak(benchmark::State& state, const FmaKernel& kernel) {
  const int threads = static_cast<int>(state.range(0));
  constexpr std::int64_t kSteps = 1 << 22;
  // Volatile inputs: the compiler cannot see a or b, so it cannot fold or shorten the chains.
  volatile float a_in = 0.999999f, b_in = 1e-3f, x0_in = 0.5f;
  const float a = a_in, b = b_in, x0 = x0_in;
  std::vector<ChainResult> results(static_cast<std::size_t>(threads));
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) {
      pool.emplace_back([&, t] { results[static_cast<std::size_t>(t)] = kernel.run(kSteps, x0, a, b); });
    }
    results[0] = kernel.run(kSteps, x0, a, b);
    for (auto& th : pool) th.join();
  }
  // Every lane of every thread ran the same recurrence towards its fixed point b / (1 - a) = 1000.
  for (const ChainResult& r : results) {
    if (!r.same || !(r.value > x0 && r.value < 1000.0f) || r.value != results[0].value) {
      throw std::runtime_error("BM_FmaPeak: the FMA chains disagree or did not run");
    }
  }
  const double flops = 2.0 * kChains * kernel.lanes * static_cast<double>(kSteps) * threads;
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * flops * 1e-9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s per thread"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * flops * 1e-9 / threads, benchmark::Counter::kIsRate);
  state.SetLabel(kernel.isa);
}
void BM_FmaPeak(benchmark::State& state) { fma_peak(state, widest_kernel()); }
BENCHMARK(BM_FmaPeak)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The AVX2 chains on a CPU that has wider ones: the peak of a core limited to AVX2, against which a step whose
// products run AVX2 kernels (OpenBLAS's Haswell ones, oneDNN capped with ONEDNN_MAX_CPU_ISA=AVX2) is measured.
void BM_FmaPeakAvx2(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    state.SkipWithError("no AVX2 and FMA on this CPU");
    return;
  }
  fma_peak(state, FmaKernel{"avx2+fma", 8, chains_avx2});
}
BENCHMARK(BM_FmaPeakAvx2)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace normscale

BENCHMARK_MAIN();
