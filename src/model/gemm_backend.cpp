// The GEMM back end: chosen once from the CPU's features (or NORMSCALE_GEMM), switchable for tests.
#include "normscale/model/gemm_backend.hpp"

#include "convolution_onednn.hpp"
#include "gemm_onednn.hpp"
#include "normscale/core/error.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace normscale {

namespace {

// What the environment variable names, through `parse`; unset, empty or "auto": `automatic()`.
template <class Automatic, class Parse>
auto chosen_by_environment(const char* variable, Automatic automatic, Parse parse) {
  const char* name = std::getenv(variable);
  return name == nullptr || std::string_view(name).empty() || std::string_view(name) == "auto" ? automatic()
                                                                                               : parse(name);
}

// The OpenMP team that runs a step (oneDNN's products and convolutions, the passes between them, OpenBLAS's products
// split over it) takes OpenBLAS's thread count (OPENBLAS_NUM_THREADS), so that one setting sizes the whole step.
void team_follows_openblas() {
  if (onednn::built()) onednn::set_threads(openblas_get_num_threads());
}

// The one piece of mutable state: which library gemm<float> calls. Atomic, so a test switching it
// races with nothing; read on every product (a relaxed load costs nothing beside a GEMM).
std::atomic<GemmBackend>& active_slot() {
  static std::atomic<GemmBackend> slot{[] {
    const GemmBackend chosen = chosen_by_environment("NORMSCALE_GEMM", automatic_gemm_backend, parse_gemm_backend);
    team_follows_openblas();
    return chosen;
  }()};
  return slot;
}

}  // namespace

const char* gemm_backend_name(GemmBackend backend) {
  return backend == GemmBackend::kOneDnn ? "onednn" : "openblas";
}

GemmBackend parse_gemm_backend(std::string_view name) {
  if (name == "openblas") return GemmBackend::kOpenBlas;
  NS_CHECK(name == "onednn", "unknown GEMM back end \"{}\" (NORMSCALE_GEMM); expected auto, openblas or onednn", name);
  NS_CHECK(onednn::built(),
           "GEMM back end \"onednn\" requested, but this build has no oneDNN; hint: install libdnnl-dev and "
           "reconfigure, or set NORMSCALE_GEMM=auto");
  return GemmBackend::kOneDnn;
}

std::vector<GemmBackend> available_gemm_backends() {
  std::vector<GemmBackend> backends{GemmBackend::kOpenBlas};
  if (onednn::built()) backends.push_back(GemmBackend::kOneDnn);
  return backends;
}

GemmBackend automatic_gemm_backend() {
  return onednn::built() && onednn::has_avx512_kernels() ? GemmBackend::kOneDnn : GemmBackend::kOpenBlas;
}

GemmBackend active_gemm_backend() { return active_slot().load(std::memory_order_relaxed); }

void set_gemm_backend(GemmBackend backend) {
  const std::vector<GemmBackend> available = available_gemm_backends();
  NS_CHECK(std::find(available.begin(), available.end(), backend) != available.end(),
           "GEMM back end \"{}\" is not built in; hint: install libdnnl-dev and reconfigure", gemm_backend_name(backend));
  team_follows_openblas();
  active_slot().store(backend, std::memory_order_relaxed);
}

const char* convolution_kernel_name(ConvolutionKernel kernel) {
  return kernel == ConvolutionKernel::kOneDnnDirect ? "direct" : "im2col";
}

ConvolutionKernel parse_convolution_kernel(std::string_view name) {
  if (name == "im2col") return ConvolutionKernel::kIm2colGemm;
  NS_CHECK(name == "direct", "unknown convolution kernel \"{}\" (NORMSCALE_CONV); expected auto, im2col or direct",
           name);
  NS_CHECK(onednn::built(),
           "convolution kernel \"direct\" requested, but this build has no oneDNN; hint: install "
           "libdnnl-dev and reconfigure, or set NORMSCALE_CONV=auto");
  return ConvolutionKernel::kOneDnnDirect;
}

ConvolutionKernel automatic_convolution_kernel() {
  return onednn::built() ? ConvolutionKernel::kOneDnnDirect : ConvolutionKernel::kIm2colGemm;
}

namespace {

std::atomic<ConvolutionKernel>& convolution_slot() {
  static std::atomic<ConvolutionKernel> slot{[] {
    const ConvolutionKernel chosen =
        chosen_by_environment("NORMSCALE_CONV", automatic_convolution_kernel, parse_convolution_kernel);
    team_follows_openblas();
    return chosen;
  }()};
  return slot;
}

}  // namespace

ConvolutionKernel active_convolution_kernel() { return convolution_slot().load(std::memory_order_relaxed); }

void set_convolution_kernel(ConvolutionKernel kernel) {
  NS_CHECK(kernel == ConvolutionKernel::kIm2colGemm || onednn::built(),
           "convolution kernel \"direct\" is not built in; hint: install libdnnl-dev and reconfigure");
  team_follows_openblas();
  convolution_slot().store(kernel, std::memory_order_relaxed);
}

template <>
std::string convolution_kernel_family<float>() {
  return active_convolution_kernel() == ConvolutionKernel::kOneDnnDirect ? onednn::convolution_description()
                                                                         : "im2col + gemm";
}

template <>
std::string convolution_kernel_family<double>() {
  return "im2col + gemm";
}

namespace {

std::atomic<GemmPrecision>& precision_slot() {
  static std::atomic<GemmPrecision> slot{GemmPrecision::kFloat32};
  return slot;
}

}  // namespace

bool bf16_gemm_supported() { return onednn::built() && onednn::has_bf16_kernels(); }

GemmPrecision active_gemm_precision() { return precision_slot().load(std::memory_order_relaxed); }

void set_gemm_precision(GemmPrecision precision) {
  if (precision == GemmPrecision::kBf16) {
    NS_CHECK(onednn::built(), "precision = \"bf16\" runs its products on oneDNN, which this build lacks; hint: "
             "install libdnnl-dev and reconfigure, or set precision = \"float32\"");
    NS_CHECK(onednn::has_bf16_kernels(),
             "precision = \"bf16\" needs a CPU with bf16 dot products (avx512_bf16 or AMX); this one offers {} "
             "(what oneDNN would run: {}); hint: set precision = \"float32\"",
             onednn::description(), onednn::bf16_description());
    team_follows_openblas();
  }
  precision_slot().store(precision, std::memory_order_relaxed);
}

ScopedGemmPrecision::ScopedGemmPrecision(GemmPrecision precision) : before_(active_gemm_precision()) {
  set_gemm_precision(precision);
}

ScopedGemmPrecision::~ScopedGemmPrecision() { precision_slot().store(before_, std::memory_order_relaxed); }

void set_gemm_threads(int threads) {
  openblas_set_num_threads(threads);
  onednn::set_threads(threads);
}

namespace {

std::string openblas_description() { return fmt::format("openblas ({} kernels)", openblas_get_corename()); }

}  // namespace

template <>
std::string gemm_kernel_family<float>() {
  if (active_gemm_precision() == GemmPrecision::kBf16) return onednn::bf16_description();
  return active_gemm_backend() == GemmBackend::kOneDnn ? onednn::description() : openblas_description();
}

template <>
std::string gemm_kernel_family<double>() {
  return openblas_description();
}

}  // namespace normscale
