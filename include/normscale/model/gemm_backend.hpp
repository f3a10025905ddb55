// Which library runs gemm<float> (model/gemm.hpp): chosen once at start-up from the CPU's features.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace normscale {

// OpenBLAS is always built in and is the fallback; oneDNN (dnnl_sgemm, JIT-compiled for the CPU it
// runs on) is built in where CMake found libdnnl-dev (NORMSCALE_ENABLE_ONEDNN).
enum class GemmBackend { kOpenBlas, kOneDnn };

const char* gemm_backend_name(GemmBackend backend);  // "openblas", "onednn"
// "openblas" / "onednn"; an unknown name or one this build lacks throws normscale::Error.
GemmBackend parse_gemm_backend(std::string_view name);

// The back ends this build can run, OpenBLAS first. oneDNN is listed on every CPU it runs on (on an
// AVX2-only CPU it is merely slower), so tests compare both everywhere.
std::vector<GemmBackend> available_gemm_backends();

// The fastest for this CPU, measured on the MLP's shapes (perf/README.md, issue #16): oneDNN where its
// JIT emits AVX-512 kernels (1.6-1.7x OpenBLAS's Haswell kernels on an AVX-512 Xeon), OpenBLAS elsewhere
// (oneDNN's AVX2 kernels: 0.74x OpenBLAS at batch 1024 on the same Xeon, 0.91-0.95x on an AVX2 EPYC).
GemmBackend automatic_gemm_backend();

// The one gemm<float> uses: the environment variable NORMSCALE_GEMM (auto | openblas | onednn) read on
// first use, unset or "auto" meaning automatic_gemm_backend(); later set_gemm_backend's.
GemmBackend active_gemm_backend();
void set_gemm_backend(GemmBackend backend);  // for tests and benchmarks; throws if not available

// The step's threads: OpenBLAS's count and the OpenMP team of the calling thread (oneDNN's products and
// convolutions, the passes between them, OpenBLAS's products split over it). Until called, the team follows
// OpenBLAS's count (OPENBLAS_NUM_THREADS), so one setting sizes both.
void set_gemm_threads(int threads);

// The operands of gemm<float>: fp32, or bf16 (precision = "bf16": rounded to bf16, products accumulated in
// fp32 and written as fp32; the network, its master weights and Minnorm's multipliers stay fp32 or wider).
enum class GemmPrecision { kFloat32, kBf16 };
// Whether this build and CPU run bf16 products on the CPU's own bf16 dot products (avx512_bf16 or AMX).
bool bf16_gemm_supported();
GemmPrecision active_gemm_precision();
// Throws normscale::Error naming precision = "bf16" and the CPU's ISA where bf16 is not supported.
void set_gemm_precision(GemmPrecision precision);
// Sets a precision for its lifetime (a run), then restores the one before.
class ScopedGemmPrecision {
 public:
  explicit ScopedGemmPrecision(GemmPrecision precision);
  ~ScopedGemmPrecision();
  ScopedGemmPrecision(const ScopedGemmPrecision&) = delete;
  ScopedGemmPrecision& operator=(const ScopedGemmPrecision&) = delete;

 private:
  GemmPrecision before_;
};

// How Conv2d<float> runs: oneDNN's direct convolution (its JIT kernels for this CPU on its blocked layouts, no im2col
// columns: 1.2-1.6x im2col + GEMM on the ConvNet's layers, 1.4-1.8x on its whole step, with AVX-512 and with AVX2
// kernels alike, perf/README.md) wherever oneDNN is built, else im2col + gemm<float>. float64 convolutions always run im2col + gemm<double>.
enum class ConvolutionKernel { kIm2colGemm, kOneDnnDirect };
const char* convolution_kernel_name(ConvolutionKernel kernel);  // "im2col", "direct"
// "im2col" / "direct"; an unknown name, or "direct" without oneDNN, throws normscale::Error.
ConvolutionKernel parse_convolution_kernel(std::string_view name);
ConvolutionKernel automatic_convolution_kernel();
// The environment variable NORMSCALE_CONV (auto | im2col | direct) read on first use, unset or "auto" meaning
// automatic_convolution_kernel(); later set_convolution_kernel's.
ConvolutionKernel active_convolution_kernel();
void set_convolution_kernel(ConvolutionKernel kernel);  // for tests and benchmarks; throws if not built
// What runs a T network's convolutions, for --version and metrics.jsonl: "onednn 2.6.3 (direct convolution,
// avx512_core JIT)" or "im2col + gemm".
template <class T>
std::string convolution_kernel_family();

// What runs the products of a T network, for --version and metrics.jsonl: library, version and
// kernels, e.g. "onednn 2.6.3 (dnnl_sgemm, avx512_core_amx JIT)" or "openblas (Haswell kernels)".
// float64 products always run on OpenBLAS (oneDNN has no double-precision GEMM).
template <class T>
std::string gemm_kernel_family();

}  // namespace normscale
