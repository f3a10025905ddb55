// A program "built for" an instruction no CPU reports (bit 63: past the table, never present; this definition takes
// the place of the library's), linked with the library as the normscale binary is. unit_test_cpu_feature_guard runs
// it: the start-up check must stop it before its static initialiser and main run.
#include "normscale/core/cpu_feature_guard.hpp"

#include <cstdio>

namespace normscale {
constinit const std::uint64_t kBuiltCpuFeatures = std::uint64_t{1} << 63;
}  // namespace normscale

namespace {
const bool kInitialised = [] {
  std::fputs("static initialiser ran\n", stderr);  // unbuffered: the check ends the process with _exit
  return true;
}();
}  // namespace

int main() {
  char names[64];  // as normscale --version does, which is what links the check into the binary
  normscale::cpu_feature_names(normscale::kBuiltCpuFeatures, names, sizeof names);
  std::fprintf(stderr, "main ran%s (built for '%s')\n", kInitialised ? "" : " uninitialised", names);
  return 0;
}
