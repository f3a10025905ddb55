// oneDNN's dnnl_sgemm behind model/gemm_backend.hpp; stubs where this build has no oneDNN.
#include "gemm_onednn.hpp"

#include "normscale/core/error.hpp"

#ifdef NORMSCALE_HAVE_ONEDNN
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#endif

namespace normscale::onednn {

#ifdef NORMSCALE_HAVE_ONEDNN

namespace {

const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown ISA";
  }
}

}  // namespace

bool built() { return true; }

bool has_avx512_kernels() {
  // The ISA values are nested bit sets: every AVX-512 "core" level contains avx512_core's bits.
  const unsigned isa = dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

std::string description() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("onednn {}.{}.{} (dnnl_sgemm, {} JIT)", v->major, v->minor, v->patch,
                     isa_name(dnnl_get_effective_cpu_isa()));
}

// Debian's oneDNN runs its threads on the OpenMP runtime it is linked with (libgomp); its team size is
// that runtime's omp_set_num_threads, looked up in the loaded libraries rather than linked, so the build
// needs no OpenMP flags (clang's sanitizer build would look for its own libomp).
void set_threads(int threads) {
  using SetNumThreads = void (*)(int);
  static const auto set_num_threads = reinterpret_cast<SetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  NS_CHECK(set_num_threads != nullptr, "oneDNN's OpenMP runtime (omp_set_num_threads) is not loaded; hint: run "
           "with NORMSCALE_GEMM=openblas");
  set_num_threads(threads);
}

void sgemm(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
           const float* b, Index ldb, float beta, float* c, Index ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  NS_CHECK(status == dnnl_success,
           "dnnl_sgemm({}x{}x{}, lda {}, ldb {}, ldc {}) failed with status {}; hint: run with NORMSCALE_GEMM=openblas",
           m, n, k, lda, ldb, ldc, static_cast<int>(status));
}

#else

bool built() { return false; }
bool has_avx512_kernels() { return false; }
std::string description() { return "onednn (not built)"; }
void set_threads(int /*threads*/) {}
void sgemm(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float, float*, Index) {
  NS_FAIL("this build has no oneDNN; hint: install libdnnl-dev and reconfigure, or use NORMSCALE_GEMM=openblas");
}

#endif

}  // namespace normscale::onednn
