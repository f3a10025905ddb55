// Compiled for baseline x86-64 whatever the library's flags (CMakeLists.txt), so that it runs on any CPU, and
// written in plain C calls only: a C++ library function here could be the copy some file compiled with the library's
// -march.
#include "normscale/core/cpu_feature_guard.hpp"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace normscale {

CpuidAnswers read_cpuid() {
  CpuidAnswers cpu;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  // __get_cpuid_max returns int in clang's cpuid.h, unsigned in GCC's.
  const auto max_leaf = static_cast<unsigned>(__get_cpuid_max(0, nullptr));
  if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
    cpu.leaf1[0] = a, cpu.leaf1[1] = b, cpu.leaf1[2] = c, cpu.leaf1[3] = d;
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    cpu.leaf7[0] = a, cpu.leaf7[1] = b, cpu.leaf7[2] = c, cpu.leaf7[3] = d;
    if (cpu.leaf7[0] >= 1) {  // eax of subleaf 0: the last subleaf
      __cpuid_count(7, 1, a, b, c, d);
      cpu.leaf7_subleaf1[0] = a, cpu.leaf7_subleaf1[1] = b, cpu.leaf7_subleaf1[2] = c, cpu.leaf7_subleaf1[3] = d;
    }
  }
  const auto max_extended = static_cast<unsigned>(__get_cpuid_max(0x80000000, nullptr));
  if (max_extended >= 0x80000001u && __get_cpuid(0x80000001, &a, &b, &c, &d)) {
    cpu.extended1[0] = a, cpu.extended1[1] = b, cpu.extended1[2] = c, cpu.extended1[3] = d;
  }
  constexpr unsigned kOsxsave = 1u << 27;  // leaf 1 ecx: the OS enabled XSAVE, so XGETBV may be executed
  if ((cpu.leaf1[2] & kOsxsave) != 0) {
    unsigned low = 0, high = 0;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    cpu.xcr0 = (static_cast<std::uint64_t>(high) << 32) | low;
  }
#endif
  return cpu;
}

namespace {

const std::uint32_t* leaf_registers(const CpuidAnswers& cpu, std::uint32_t leaf, std::uint32_t subleaf) {
  if (leaf == 1) return cpu.leaf1;
  if (leaf == 7) return subleaf == 0 ? cpu.leaf7 : cpu.leaf7_subleaf1;
  return cpu.extended1;
}

bool state_saved(std::uint64_t xcr0, SavedState state) {
  constexpr std::uint64_t kYmm = 0x6;    // SSE and AVX state
  constexpr std::uint64_t kZmm = 0xe6;   // and the opmask and both halves of the AVX-512 registers
  switch (state) {
    case SavedState::kNone: return true;
    case SavedState::kYmm: return (xcr0 & kYmm) == kYmm;
    case SavedState::kZmm: return (xcr0 & kZmm) == kZmm;
  }
  return false;
}

// Appends `text` at `used` (counting what would not fit), keeping out terminated.
void append(const char* text, char* out, std::size_t size, std::size_t& used) {
  const std::size_t length = std::strlen(text);
  if (used < size) {
    const std::size_t room = size - used - 1;
    const std::size_t n = length < room ? length : room;
    std::memcpy(out + used, text, n);
    out[used + n] = '\0';
  }
  used += length;
}

}  // namespace

std::uint64_t cpu_features_present(const CpuidAnswers& cpu) {
  std::uint64_t present = 0;
  for (std::size_t i = 0; i < kCpuFeatureCount; ++i) {
    const CpuFeature& f = kCpuFeatures[i];
    const std::uint32_t value = leaf_registers(cpu, f.leaf, f.subleaf)[static_cast<int>(f.reg)];
    if (((value >> f.bit) & 1u) != 0 && state_saved(cpu.xcr0, f.state)) present |= std::uint64_t{1} << i;
  }
  return present;
}

std::size_t cpu_feature_names(std::uint64_t features, char* out, std::size_t size) {
  std::size_t used = 0;
  if (size > 0) out[0] = '\0';
  for (std::size_t i = 0; i < kCpuFeatureCount; ++i) {
    if (((features >> i) & 1u) == 0) continue;
    if (used > 0) append(" ", out, size, used);
    append(kCpuFeatures[i].name, out, size, used);
  }
  return used;
}

std::size_t missing_cpu_features_message(std::uint64_t missing, const char* host, const char* march, char* out,
                                         std::size_t size) {
  std::size_t used = 0;
  if (size > 0) out[0] = '\0';
  append("normscale: this CPU (host ", out, size, used);
  append(host, out, size, used);
  append(") lacks instructions this build was compiled to use: ", out, size, used);
  char names[512];
  cpu_feature_names(missing, names, sizeof names);
  append(names, out, size, used);
  append(". It was compiled with -march=", out, size, used);
  append(march, out, size, used);
  append(
      " (NORMSCALE_MARCH; the default, x86-64-v3, needs AVX2 and FMA): build it on a node of this type with "
      "-DNORMSCALE_MARCH=native, or configure with -DNORMSCALE_MARCH=x86-64 for a binary that runs on any x86-64 "
      "CPU (the matrix products still choose their kernels for the CPU at run time).\n",
      out, size, used);
  return used;
}

namespace {

// Priority 101: before the program's other static initialisers (C++'s run at the default priority), which the
// compiler may have vectorised with the very instructions checked here.
__attribute__((constructor(101))) void stop_where_the_cpu_lacks_the_builds_instructions() {
  const std::uint64_t missing = kBuiltCpuFeatures & ~cpu_features_present(read_cpuid());
  if (missing == 0) return;
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host) != 0) std::strcpy(host, "unknown");
  host[HOST_NAME_MAX] = '\0';
  char message[2048];
  missing_cpu_features_message(missing, host, NORMSCALE_BUILT_MARCH, message, sizeof message);
  std::fputs(message, stderr);
  _exit(1);
}

}  // namespace

}  // namespace normscale
