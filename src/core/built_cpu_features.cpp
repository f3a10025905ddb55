// Compiled with the library's flags (-march=NORMSCALE_MARCH): the compiler's own macros say which
// extensions it may emit. Only constant data lives here; the check is in cpu_feature_guard.cpp.
#include "normscale/core/cpu_feature_guard.hpp"

namespace normscale {
namespace {

// 1 where `macro` is defined as 1 (as compilers define their ISA macros), else 0: a defined macro expands to 1, which
// pastes to a placeholder that inserts an extra argument; an undefined one pastes to a plain identifier.
#define NORMSCALE_PLACEHOLDER_1 0,
#define NORMSCALE_SECOND(ignored, value, ...) value
#define NORMSCALE_IS_ONE(macro) NORMSCALE_IS_ONE_(macro)
#define NORMSCALE_IS_ONE_(value) NORMSCALE_IS_ONE__(NORMSCALE_PLACEHOLDER_##value)
#define NORMSCALE_IS_ONE__(arg_or_junk) NORMSCALE_SECOND(arg_or_junk 1, 0, 0)

constexpr bool kEnabled[] = {
#define NORMSCALE_ENABLED(name, macro, ...) NORMSCALE_IS_ONE(macro) == 1,
    NORMSCALE_CPU_FEATURES(NORMSCALE_ENABLED)
#undef NORMSCALE_ENABLED
};

constexpr std::uint64_t enabled_mask() {
  std::uint64_t mask = 0;
  for (std::size_t i = 0; i < kCpuFeatureCount; ++i) {
    if (kEnabled[i]) mask |= std::uint64_t{1} << i;
  }
  return mask;
}

}  // namespace

constinit const std::uint64_t kBuiltCpuFeatures = enabled_mask();

}  // namespace normscale
