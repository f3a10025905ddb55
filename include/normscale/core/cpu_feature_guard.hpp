// The x86 instruction-set extensions this build's compiler was allowed to use (NORMSCALE_MARCH: x86-64-v3 by default,
// the build machine's with native), checked against the CPU when the program starts. A binary built on one node type
// and started on an older one (a login node newer than the compute nodes, a mixed partition) then stops with a message
// naming what this CPU lacks, instead of dying of SIGILL in the first vectorised loop. The check runs from a file
// compiled for baseline x86-64 (src/core/cpu_feature_guard.cpp), before the program's other static initialisers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace normscale {

enum class CpuRegister { kEax, kEbx, kEcx, kEdx };
// The register state the operating system must save for a feature to be usable (XCR0).
enum class SavedState { kNone, kYmm, kZmm };

// The extensions a compiler may emit on its own, as -march enables them: X(name, the compiler's macro,
// CPUID leaf, subleaf, register, bit, saved state). Names as in /proc/cpuinfo where it has one.
#define NORMSCALE_CPU_FEATURES(X)                                              \
  X("sse3", __SSE3__, 1, 0, kEcx, 0, kNone)                                    \
  X("ssse3", __SSSE3__, 1, 0, kEcx, 9, kNone)                                  \
  X("fma", __FMA__, 1, 0, kEcx, 12, kYmm)                                      \
  X("sse4_1", __SSE4_1__, 1, 0, kEcx, 19, kNone)                               \
  X("sse4_2", __SSE4_2__, 1, 0, kEcx, 20, kNone)                               \
  X("movbe", __MOVBE__, 1, 0, kEcx, 22, kNone)                                 \
  X("popcnt", __POPCNT__, 1, 0, kEcx, 23, kNone)                               \
  X("avx", __AVX__, 1, 0, kEcx, 28, kYmm)                                      \
  X("f16c", __F16C__, 1, 0, kEcx, 29, kYmm)                                    \
  X("bmi1", __BMI__, 7, 0, kEbx, 3, kNone)                                     \
  X("avx2", __AVX2__, 7, 0, kEbx, 5, kYmm)                                     \
  X("bmi2", __BMI2__, 7, 0, kEbx, 8, kNone)                                    \
  X("avx512f", __AVX512F__, 7, 0, kEbx, 16, kZmm)                              \
  X("avx512dq", __AVX512DQ__, 7, 0, kEbx, 17, kZmm)                            \
  X("avx512ifma", __AVX512IFMA__, 7, 0, kEbx, 21, kZmm)                        \
  X("avx512cd", __AVX512CD__, 7, 0, kEbx, 28, kZmm)                            \
  X("avx512bw", __AVX512BW__, 7, 0, kEbx, 30, kZmm)                            \
  X("avx512vl", __AVX512VL__, 7, 0, kEbx, 31, kZmm)                            \
  X("avx512vbmi", __AVX512VBMI__, 7, 0, kEcx, 1, kZmm)                         \
  X("avx512_vbmi2", __AVX512VBMI2__, 7, 0, kEcx, 6, kZmm)                      \
  X("gfni", __GFNI__, 7, 0, kEcx, 8, kNone)                                    \
  X("vaes", __VAES__, 7, 0, kEcx, 9, kYmm)                                     \
  X("vpclmulqdq", __VPCLMULQDQ__, 7, 0, kEcx, 10, kYmm)                        \
  X("avx512_vnni", __AVX512VNNI__, 7, 0, kEcx, 11, kZmm)                       \
  X("avx512_bitalg", __AVX512BITALG__, 7, 0, kEcx, 12, kZmm)                   \
  X("avx512_vpopcntdq", __AVX512VPOPCNTDQ__, 7, 0, kEcx, 14, kZmm)             \
  X("avx512_vp2intersect", __AVX512VP2INTERSECT__, 7, 0, kEdx, 8, kZmm)        \
  X("avx512_fp16", __AVX512FP16__, 7, 0, kEdx, 23, kZmm)                       \
  X("avx_vnni", __AVXVNNI__, 7, 1, kEax, 4, kYmm)                              \
  X("avx512_bf16", __AVX512BF16__, 7, 1, kEax, 5, kZmm)                        \
  X("abm", __LZCNT__, 0x80000001, 0, kEcx, 5, kNone)                           \
  X("sse4a", __SSE4A__, 0x80000001, 0, kEcx, 6, kNone)

struct CpuFeature {
  const char* name;
  std::uint32_t leaf, subleaf;
  CpuRegister reg;
  unsigned bit;
  SavedState state;
};

#define NORMSCALE_CPU_FEATURE_ENTRY(name, macro, leaf, subleaf, reg, bit, state) \
  CpuFeature{name, leaf, subleaf, CpuRegister::reg, bit, SavedState::state},
// Bit i of a feature mask is kCpuFeatures[i].
inline constexpr CpuFeature kCpuFeatures[] = {NORMSCALE_CPU_FEATURES(NORMSCALE_CPU_FEATURE_ENTRY)};
#undef NORMSCALE_CPU_FEATURE_ENTRY
inline constexpr std::size_t kCpuFeatureCount = sizeof kCpuFeatures / sizeof kCpuFeatures[0];
static_assert(kCpuFeatureCount <= 64);

// What the compiler was allowed to use in this build (src/core/built_cpu_features.cpp, compiled with the library's
// flags): constant data, so reading it runs none of those instructions.
extern const std::uint64_t kBuiltCpuFeatures;

// The CPU's answers to the CPUID leaves the table reads ({eax, ebx, ecx, edx} each) and XCR0 (0 where the OS does
// not enable XSAVE).
struct CpuidAnswers {
  std::uint32_t leaf1[4] = {};
  std::uint32_t leaf7[4] = {};
  std::uint32_t leaf7_subleaf1[4] = {};
  std::uint32_t extended1[4] = {};  // leaf 0x80000001
  std::uint64_t xcr0 = 0;
};

// This CPU's answers (all zero off x86).
CpuidAnswers read_cpuid();
// The features the answers say are present and usable (the OS saves their registers).
std::uint64_t cpu_features_present(const CpuidAnswers& cpu);
// The features' names, space-separated, into out (always terminated); returns the length it needed.
std::size_t cpu_feature_names(std::uint64_t features, char* out, std::size_t size);
// The start-up error for `missing` (non-zero) features on host `host` of a build compiled with -march=`march`, into
// out; returns the length it needed.
std::size_t missing_cpu_features_message(std::uint64_t missing, const char* host, const char* march, char* out,
                                         std::size_t size);

}  // namespace normscale
