// Elementwise passes of the step (ReLU, the optimizer's update, bf16 rounding) split over the thread team
// the GEMMs run on, so that on 2+ threads the other threads do not wait idle through them.
#pragma once

#include "normscale/core/types.hpp"

#include <algorithm>
#include <type_traits>

namespace normscale {

// For streaming elementwise passes: below this many elements per thread a pass stays on one thread (waking the
// team costs more than the pass).
constexpr Index kElementsPerThread = 32768;

// for_each_range's min_per_thread for passes whose every index covers `elements_per_index` elements (a row, a
// channel): at least kElementsPerThread elements per thread.
constexpr Index indices_per_thread(Index elements_per_index) {
  return std::max<Index>(1, kElementsPerThread / std::max<Index>(1, elements_per_index));
}

using RangeBody = void (*)(void* context, Index begin, Index end);
void for_each_range_erased(Index count, Index min_per_thread, RangeBody body, void* context);

// Calls body(begin, end) on contiguous ranges that cover [0, count) once, one range per thread of the GEMMs'
// team (the OpenMP runtime oneDNN runs on), or body(0, count) where the team is one thread, a range would
// hold fewer than `min_per_thread` indices, or no OpenMP runtime is loaded. For work whose result does not
// depend on the split (each index computed on its own); `body` must not throw.
template <class Body>
void for_each_range(Index count, Index min_per_thread, Body&& body) {
  using Callable = std::remove_reference_t<Body>;
  for_each_range_erased(
      count, min_per_thread,
      [](void* context, Index begin, Index end) { (*static_cast<Callable*>(context))(begin, end); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

// How many threads for_each_range would use for `count` indices (1 without a runtime).
int team_threads(Index count, Index min_per_thread);

}  // namespace normscale
