// for_each_range on the OpenMP runtime that oneDNN is linked with (libgomp), looked up in the loaded libraries
// as gemm_onednn.cpp looks up its team size: the build needs no OpenMP flags, and the ranges run on the same
// (already spinning) threads as the GEMMs before and after them.
#include "normscale/model/team_parallel.hpp"

#include "gemm_onednn.hpp"

#include <dlfcn.h>

#include <algorithm>

namespace normscale {

namespace {

using GompParallel = void (*)(void (*)(void*), void*, unsigned, unsigned);
using OmpQuery = int (*)();

struct Runtime {
  GompParallel parallel = nullptr;
  OmpQuery thread_num = nullptr, num_threads = nullptr;
};

const Runtime& runtime() {
  static const Runtime r = [] {
    Runtime found;
    found.parallel = reinterpret_cast<GompParallel>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
    found.thread_num = reinterpret_cast<OmpQuery>(dlsym(RTLD_DEFAULT, "omp_get_thread_num"));
    found.num_threads = reinterpret_cast<OmpQuery>(dlsym(RTLD_DEFAULT, "omp_get_num_threads"));
    if (found.parallel == nullptr || found.thread_num == nullptr || found.num_threads == nullptr) return Runtime{};
    return found;
  }();
  return r;
}

struct Job {
  Index count;
  RangeBody body;
  void* context;
};

// Thread t of n takes [count t / n, count (t + 1) / n).
void run_share(void* data) {
  const Job& job = *static_cast<const Job*>(data);
  const Index t = runtime().thread_num(), n = runtime().num_threads();
  const Index begin = job.count * t / n, end = job.count * (t + 1) / n;
  if (begin < end) job.body(job.context, begin, end);
}

}  // namespace

int team_threads(Index count, Index min_per_thread) {
  if (runtime().parallel == nullptr) return 1;
  const Index most = std::max<Index>(1, count / std::max<Index>(1, min_per_thread));
  return static_cast<int>(std::clamp<Index>(onednn::threads(), 1, most));
}

void for_each_range_erased(Index count, Index min_per_thread, RangeBody body, void* context) {
  if (count <= 0) return;
  const int threads = team_threads(count, min_per_thread);
  if (threads <= 1) return body(context, 0, count);
  Job job{count, body, context};
  runtime().parallel(&run_share, &job, static_cast<unsigned>(threads), 0);
}

}  // namespace normscale
