// The checkpoint signal (SIGUSR2) is taken on a thread of the trainer's own, never on one inside a GEMM: oneDNN's
// JIT GEMMs point the stack pointer into the heap (uxlfoundation/oneDNN#4845), so a handler run there wrote its
// signal frame into the heap (an audit crashed 1-3% of the trainings it sent the signal to; this test crashed
// within a second before the fix).
#include "normscale/model/gemm.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

namespace normscale {
namespace {

TEST(CheckpointSignal, ABarrageOfSignalsDuringThreadedGemmsKeepsTheirResultsAndTheHeap) {
  catch_checkpoint_signal();
  // The MLP's first layer at batch 64: x (64 x 784) times W^T (784 x 128).
  constexpr Index kM = 64, kN = 128, kK = 784, kGuard = 64;
  std::vector<float> a(kM * kK), b(kK * kN);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 97) / 97.0f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 89) / 89.0f - 0.5f;

  const pid_t parent = getpid();
  const pid_t sender = fork();
  ASSERT_GE(sender, 0);
  if (sender == 0) {
    // Async-signal-safe calls only, until the parent kills it or has died (a crash must fail the test, not hang it).
    while (getppid() == parent && kill(parent, kCheckpointSignal) == 0) usleep(200);
    _exit(0);
  }
  for (const GemmBackend backend : available_gemm_backends()) {
    SCOPED_TRACE(gemm_backend_name(backend));
    set_gemm_backend(backend);
    set_gemm_threads(2);
    std::vector<float> reference(kM * kN);
    gemm<float>(false, false, kM, kN, kK, 1.0f, a.data(), kK, b.data(), kN, 0.0f, reference.data(), kN);
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    int mismatches = 0;
    while (std::chrono::steady_clock::now() < end) {
      // A fresh heap block each time, guarded on both sides, as the trainer's temporaries.
      std::vector<float> c(kM * kN + 2 * kGuard, -7.0f);
      gemm<float>(false, false, kM, kN, kK, 1.0f, a.data(), kK, b.data(), kN, 0.0f, c.data() + kGuard, kN);
      const bool guards = std::all_of(c.begin(), c.begin() + kGuard, [](float v) { return v == -7.0f; }) &&
                          std::all_of(c.end() - kGuard, c.end(), [](float v) { return v == -7.0f; });
      if (!guards || std::memcmp(c.data() + kGuard, reference.data(), reference.size() * sizeof(float)) != 0) {
        ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
  kill(sender, SIGKILL);
  waitpid(sender, nullptr, 0);
  EXPECT_TRUE(checkpoint_signal_received());
}

}  // namespace
}  // namespace normscale
