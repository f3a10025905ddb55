// Prints the x86 extensions this CPU reports (core/cpu_feature_guard.hpp's table), one line: "present: sse3 ...".
// Built from the start-up check's own objects only, without the library's -march, so it runs on any x86-64
// CPU: unit_test_cpu_feature_guard runs it on an emulated CPU to learn what that CPU has.
#include "normscale/core/cpu_feature_guard.hpp"

#include <cstdio>

namespace normscale {
constinit const std::uint64_t kBuiltCpuFeatures = 0;  // takes nothing: the check passes on every CPU
}  // namespace normscale

int main() {
  char names[1024];
  normscale::cpu_feature_names(normscale::cpu_features_present(normscale::read_cpuid()), names, sizeof names);
  std::printf("present: %s\n", names);
  return 0;
}
