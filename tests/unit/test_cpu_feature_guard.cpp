// The start-up check of the CPU against the instructions the build took (core/cpu_feature_guard.hpp).
#include "normscale/core/cpu_feature_guard.hpp"

#include "support/run_command.hpp"
#include "support/sanitizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace normscale {
namespace {

std::uint64_t bit_of(std::string_view name) {
  for (std::size_t i = 0; i < kCpuFeatureCount; ++i) {
    if (name == kCpuFeatures[i].name) return std::uint64_t{1} << i;
  }
  ADD_FAILURE() << name << " is not in the table";
  return 0;
}

std::string names_of(std::uint64_t features) {
  char names[512];
  cpu_feature_names(features, names, sizeof names);
  return names;
}

TEST(CpuFeatureGuard, TheMachineThatBuiltTheTestsHasEverythingTheBuildTook) {
  const std::uint64_t present = cpu_features_present(read_cpuid());
  EXPECT_EQ(kBuiltCpuFeatures & ~present, 0u) << "missing: " << names_of(kBuiltCpuFeatures & ~present);
#if defined(__x86_64__)
  EXPECT_NE(present & bit_of("sse3"), 0u) << "every x86-64 CPU of this century has SSE3: the decoding is off";
#endif
}

// The tests are compiled with the library's flags, so the compiler's macros here are the build's.
TEST(CpuFeatureGuard, TheBuildsFeaturesAreTheCompilersMacros) {
  const auto took = [](std::string_view name) { return (kBuiltCpuFeatures & bit_of(name)) != 0; };
#ifdef __SSE3__
  EXPECT_TRUE(took("sse3"));
#else
  EXPECT_FALSE(took("sse3"));
#endif
#ifdef __AVX2__
  EXPECT_TRUE(took("avx2"));
#else
  EXPECT_FALSE(took("avx2"));
#endif
#ifdef __FMA__
  EXPECT_TRUE(took("fma"));
#else
  EXPECT_FALSE(took("fma"));
#endif
#ifdef __AVX512F__
  EXPECT_TRUE(took("avx512f"));
#else
  EXPECT_FALSE(took("avx512f"));
#endif
#ifdef __AVX512BF16__
  EXPECT_TRUE(took("avx512_bf16"));
#else
  EXPECT_FALSE(took("avx512_bf16"));
#endif
#ifdef __SSE4A__
  EXPECT_TRUE(took("sse4a"));
#else
  EXPECT_FALSE(took("sse4a"));
#endif
}

// CPUID answers of an AVX2 CPU (Zen 2 like: no AVX-512), and of an AVX-512 one.
CpuidAnswers avx2_cpu() {
  CpuidAnswers cpu;
  cpu.leaf1[2] = (1u << 0) | (1u << 9) | (1u << 12) | (1u << 19) | (1u << 20) | (1u << 23) | (1u << 27) | (1u << 28);
  cpu.leaf7[1] = (1u << 3) | (1u << 5) | (1u << 8);
  cpu.extended1[2] = 1u << 5;
  cpu.xcr0 = 0x7;  // x87, SSE and AVX state
  return cpu;
}

TEST(CpuFeatureGuard, DecodesCpuidAndWhatTheOperatingSystemSaves) {
  const CpuidAnswers avx2 = avx2_cpu();
  EXPECT_EQ(names_of(cpu_features_present(avx2)), "sse3 ssse3 fma sse4_1 sse4_2 popcnt avx bmi1 avx2 bmi2 abm");

  CpuidAnswers avx512 = avx2;
  avx512.leaf7[1] |= (1u << 16) | (1u << 30) | (1u << 31);  // avx512f, bw, vl
  avx512.leaf7_subleaf1[0] = 1u << 5;                        // avx512_bf16
  EXPECT_EQ(cpu_features_present(avx512) & bit_of("avx512f"), 0u)
      << "an OS that does not save the AVX-512 registers (XCR0 without 0xe0) makes them unusable";
  avx512.xcr0 = 0xe7;
  EXPECT_EQ(cpu_features_present(avx512) & ~cpu_features_present(avx2),
            bit_of("avx512f") | bit_of("avx512bw") | bit_of("avx512vl") | bit_of("avx512_bf16"));

  CpuidAnswers no_avx_state = avx2;
  no_avx_state.xcr0 = 0x3;  // AVX present but its registers not saved (an old kernel, a hypervisor)
  EXPECT_EQ(cpu_features_present(no_avx_state) & (bit_of("avx") | bit_of("avx2") | bit_of("fma")), 0u);
  EXPECT_NE(cpu_features_present(no_avx_state) & bit_of("bmi2"), 0u);
}

TEST(CpuFeatureGuard, TheMessageNamesWhatIsMissingWhereAndTheWayOut) {
  const std::uint64_t missing = bit_of("avx512f") | bit_of("avx512bw");
  char message[1024];
  const std::size_t length = missing_cpu_features_message(missing, "node17", "native", message, sizeof message);
  const std::string text = message;
  EXPECT_EQ(text.size(), length);
  EXPECT_NE(text.find("host node17"), std::string::npos) << text;
  EXPECT_NE(text.find(": avx512f avx512bw."), std::string::npos) << text;
  EXPECT_NE(text.find("compiled with -march=native (NORMSCALE_MARCH;"), std::string::npos) << text;
  EXPECT_NE(text.find("-DNORMSCALE_MARCH=native,"), std::string::npos) << text;
  EXPECT_NE(text.find("-DNORMSCALE_MARCH=x86-64 "), std::string::npos) << text;

  char short_buffer[20];
  std::memset(short_buffer, 'x', sizeof short_buffer);
  EXPECT_EQ(missing_cpu_features_message(missing, "node17", "native", short_buffer, sizeof short_buffer), length);
  EXPECT_EQ(std::string(short_buffer), text.substr(0, sizeof short_buffer - 1));
}

TEST(CpuFeatureGuard, StopsAProgramBeforeItsOwnCodeRuns) {
  const testing::CommandResult probe = testing::run_shell(CPU_GUARD_PROBE);
  EXPECT_EQ(probe.exit_code, 1) << probe.output;
  EXPECT_NE(probe.output.find("lacks instructions this build was compiled to use"), std::string::npos)
      << probe.output;
  EXPECT_EQ(probe.output.find("static initialiser ran"), std::string::npos) << probe.output;
  EXPECT_EQ(probe.output.find("main ran"), std::string::npos) << probe.output;
}

TEST(CpuFeatureGuard, VersionSaysWhatTheBuildTook) {
  const testing::CommandResult version = testing::run_shell(NORMSCALE_BINARY " --version");
  ASSERT_EQ(version.exit_code, 0) << version.output;
  const std::string expected = kBuiltCpuFeatures == 0 ? "built for: any x86-64 CPU"
                                                      : "built for: CPUs with " + names_of(kBuiltCpuFeatures);
  EXPECT_NE(version.output.find(expected), std::string::npos) << version.output;
}

// QEMU's user-mode emulator (Debian's qemu-user) runs x86-64 programs on a CPU model of its own, whose CPUID it
// answers itself: its "max" model implements x86-64 up to AVX2, without AVX-512 or bf16, so on an AVX-512 build
// machine it stands for an older node.
std::string emulator() {
  const testing::CommandResult found = testing::run_shell("command -v qemu-x86_64");
  return found.exit_code == 0 ? found.output.substr(0, found.output.find('\n')) : std::string();
}

std::uint64_t features_named_in(const std::string& output, std::string_view prefix) {
  const std::size_t start = output.find(prefix);
  if (start == std::string::npos) {
    ADD_FAILURE() << "no '" << prefix << "' in: " << output;
    return 0;
  }
  std::uint64_t features = 0;
  std::string line = output.substr(start + prefix.size());
  line = line.substr(0, line.find_first_of(".\n"));
  std::size_t position = 0;
  while (position < line.size()) {
    const std::size_t end = std::min(line.find(' ', position), line.size());
    if (end > position) features |= bit_of(line.substr(position, end - position));
    position = end + 1;
  }
  return features;
}

// The real binary on an emulated CPU without AVX-512: it runs, and chooses the CPU's products, where the build took
// nothing that CPU lacks (the default NORMSCALE_MARCH=x86-64-v3); it is stopped with the message naming exactly what
// the CPU lacks otherwise (NORMSCALE_MARCH=native on an AVX-512 machine).
TEST(CpuFeatureGuard, TheBinaryOnAnEmulatedCpuWithoutAvx512) {
  if (testing::kUnderAddressSanitizer) {
    GTEST_SKIP() << "AddressSanitizer's shadow memory does not fit under the emulator (the process was killed)";
  }
  const std::string qemu = emulator();
  if (qemu.empty()) GTEST_SKIP() << "qemu-x86_64 not found (Debian package qemu-user): no emulated CPU to run on";
  const std::string emulated = qemu + " -cpu max ";
  const testing::CommandResult probe = testing::run_shell(emulated + CPU_FEATURES_PROBE);
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  const std::uint64_t present = features_named_in(probe.output, "present: ");
  ASSERT_NE(present & bit_of("avx2"), 0u) << "the emulated CPU should have AVX2: " << probe.output;
  ASSERT_EQ(present & bit_of("avx512f"), 0u) << "the emulated CPU should lack AVX-512: " << probe.output;

  const std::uint64_t missing = kBuiltCpuFeatures & ~present;
  const testing::CommandResult version = testing::run_shell(emulated + NORMSCALE_BINARY " --version");
  if (missing != 0) {
    EXPECT_EQ(version.exit_code, 1) << version.output;
    EXPECT_EQ(features_named_in(version.output, "lacks instructions this build was compiled to use: "), missing)
        << "expected exactly " << names_of(missing) << " in: " << version.output;
  } else {
    ASSERT_EQ(version.exit_code, 0) << version.output;
    // oneDNN's kernels would be capped at AVX2 there, where OpenBLAS's are faster (perf/README.md): OpenBLAS runs.
    EXPECT_NE(version.output.find("gemm: openblas"), std::string::npos) << version.output;
  }
}

}  // namespace
}  // namespace normscale
