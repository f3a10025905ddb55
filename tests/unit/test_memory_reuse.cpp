// keep_freed_memory_for_reuse: a large buffer freed and allocated again is the same memory, not fresh pages that
// fault again on first touch (what made each evaluation of a demo trial page-fault ~57 MB back in).
#include "normscale/core/memory_reuse.hpp"

#include "support/sanitizer.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstddef>
#include <vector>

namespace normscale {
namespace {

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `bytes`, writes every page, frees them; the page faults that took.
long faults_of_a_buffer_used_once(std::size_t bytes) {
  const long before = minor_page_faults();
  {
    std::vector<char> buffer(bytes, 1);
    asm volatile("" : : "r"(buffer.data()) : "memory");  // the allocation may not be optimised away
  }
  return minor_page_faults() - before;
}

TEST(MemoryReuse, ALargeBufferFreedAndAllocatedAgainDoesNotFaultAgain) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "keep_freed_memory_for_reuse is a no-op without glibc";
#endif
  if (testing::kUnderAddressSanitizer) GTEST_SKIP() << "AddressSanitizer's allocator quarantines freed memory";
  constexpr std::size_t kBytes = std::size_t{64} << 20;  // above glibc's largest mmap threshold (32 MB)
  constexpr long kPages = static_cast<long>(kBytes / 4096);
  ASSERT_GT(faults_of_a_buffer_used_once(kBytes), kPages / 2) << "glibc's default: a mapping of its own each time";
  keep_freed_memory_for_reuse();
  faults_of_a_buffer_used_once(kBytes);  // grows the heap: its pages fault once
  EXPECT_LT(faults_of_a_buffer_used_once(kBytes), kPages / 20) << "the second use found the pages already there";
}

}  // namespace
}  // namespace normscale
