// cuBLAS and NCCL are opened on first use, not linked (src/cuda/cuda_libraries.hpp): the binary of a CUDA build
// needs neither to start, a CPU run never loads them, every function the backend calls resolves, and a missing
// library is named with where it was looked for. No GPU needed: these run wherever the backend is built.
#include "cuda/cuda_libraries.hpp"
#include "support/error_text.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

namespace normscale {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CudaLibraries, TheBinaryDoesNotNeedCublasOrNccl) {
  const auto dynamic = testing::run_shell(fmt::format("readelf -d {}", NORMSCALE_BINARY));
  ASSERT_EQ(dynamic.exit_code, 0) << dynamic.output;
  ASSERT_THAT(dynamic.output, HasSubstr("(NEEDED)"));
  EXPECT_THAT(dynamic.output, Not(HasSubstr("libcublas")));
  EXPECT_THAT(dynamic.output, Not(HasSubstr("libnccl")));
}

TEST(CudaLibraries, ACpuRunNeverLoadsThem) {
  const testing::TempDir work("normscale_cuda_libraries_", "cpu_run");
  // LD_DEBUG=files: the loader says every library it opens, those opened with dlopen included.
  const auto run = testing::run_shell(fmt::format("LD_DEBUG=files {} {}--set steps=5 --out {}", NORMSCALE_BINARY,
                                                  testing::kTinyBinaryTrain, (work.path() / "run").string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_THAT(run.output, HasSubstr("file=libopenblas"));  // the debugging output is there
  EXPECT_THAT(run.output, Not(HasSubstr("libcublas")));
  EXPECT_THAT(run.output, Not(HasSubstr("libnccl")));
}

TEST(CudaLibraries, EveryFunctionTheBackendCallsResolves) {
  const cuda_detail::CublasLibrary& cublas = cuda_detail::cublas();
  EXPECT_STREQ(cublas.status_name(CUBLAS_STATUS_NOT_INITIALIZED), "CUBLAS_STATUS_NOT_INITIALIZED");
  const cuda_detail::NcclLibrary& nccl = cuda_detail::nccl();
  EXPECT_THAT(nccl.error_string(ncclInvalidArgument), HasSubstr("invalid argument"));
  // Loaded once: the same tables on every call (each function was checked as it was resolved).
  EXPECT_EQ(&cuda_detail::cublas(), &cublas);
  EXPECT_EQ(&cuda_detail::nccl(), &nccl);
}

TEST(CudaLibraries, AMissingLibraryIsNamedWithWhereItWasLookedFor) {
  const std::string message = testing::error_of(
      [] { cuda_detail::open_library("cuBLAS", {"libnormscale-absent.so.13", "/nonexistent/libcublas.so.13"}); });
  EXPECT_THAT(message, HasSubstr("GPU ranks need cuBLAS"));
  EXPECT_THAT(message, HasSubstr("libnormscale-absent.so.13: "));
  EXPECT_THAT(message, HasSubstr("/nonexistent/libcublas.so.13: "));
  EXPECT_THAT(message, HasSubstr("LD_LIBRARY_PATH"));
}

}  // namespace
}  // namespace normscale
