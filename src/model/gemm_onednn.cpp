// oneDNN's dnnl_sgemm behind model/gemm_backend.hpp; stubs where this build has no oneDNN.
#include "gemm_onednn.hpp"

#include "normscale/core/error.hpp"
#include "normscale/model/bf16_rounding.hpp"
#include "normscale/model/team_parallel.hpp"

#ifdef NORMSCALE_HAVE_ONEDNN
#include "onednn_engine.hpp"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>
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

// The OpenMP team size last set: a bf16 matmul primitive splits its work for the team it was made for.
std::atomic<int>& team_size() {
  static std::atomic<int> size{0};
  return size;
}

}  // namespace

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu_engine());
  return stream;
}

bool built() { return true; }

bool has_avx512_kernels() {
  // The ISA values are nested bit sets: every AVX-512 "core" level contains avx512_core's bits.
  const unsigned isa = dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

std::string described(std::string_view what) {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("onednn {}.{}.{} ({}, {} JIT)", v->major, v->minor, v->patch, what,
                     isa_name(dnnl_get_effective_cpu_isa()));
}

std::string description() { return described("dnnl_sgemm"); }

// Debian's oneDNN runs its threads on the OpenMP runtime it is linked with (libgomp); its team size is
// that runtime's omp_set_num_threads, looked up in the loaded libraries rather than linked, so the build
// needs no OpenMP flags (clang's sanitizer build would look for its own libomp).
void set_threads(int threads) {
  using SetNumThreads = void (*)(int);
  static const auto set_num_threads = reinterpret_cast<SetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  NS_CHECK(set_num_threads != nullptr, "oneDNN's OpenMP runtime (omp_set_num_threads) is not loaded; hint: run "
           "with NORMSCALE_GEMM=openblas");
  set_num_threads(threads);
  team_size().store(threads, std::memory_order_relaxed);
}

int threads() { return std::max(1, team_size().load(std::memory_order_relaxed)); }

void sgemm(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
           const float* b, Index ldb, float beta, float* c, Index ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  NS_CHECK(status == dnnl_success,
           "dnnl_sgemm({}x{}x{}, lda {}, ldb {}, ldc {}) failed with status {}; hint: run with NORMSCALE_GEMM=openblas",
           m, n, k, lda, ldb, ldc, static_cast<int>(status));
}

namespace {

// One bf16 product: the matmul (alpha as its output scale, beta as a sum post-op) on dense bf16 copies of
// op(A) and op(B), which keep the f32 operands' orientation (a conversion that also transposes ran at a
// quarter of the speed on the 784 x 800 weights), and buffers for the copies no caller keeps.
struct Bf16Plan {
  dnnl::memory a16, b16, c32;  // no buffers of their own: each product points them at its operands' bf16 values
  std::vector<std::uint16_t> a_scratch, b_scratch;  // operands rounded for one product alone
  dnnl::matmul product;
};

Bf16Plan make_bf16_plan(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, float beta, Index ldc) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine& engine = cpu_engine();
  const dnnl::memory::desc a16({m, k}, dt::bf16, trans_a ? tag::ba : tag::ab);
  const dnnl::memory::desc b16({k, n}, dt::bf16, trans_b ? tag::ba : tag::ab);
  const dnnl::memory::desc c32({m, n}, dt::f32, dnnl::memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops sum;
    sum.append_sum(beta);
    attr.set_post_ops(sum);
  }
  const dnnl::matmul::primitive_desc product(dnnl::matmul::desc(a16, b16, c32), attr, engine);
  return Bf16Plan{dnnl::memory(a16, engine, DNNL_MEMORY_NONE),
                  dnnl::memory(b16, engine, DNNL_MEMORY_NONE),
                  dnnl::memory(c32, engine, DNNL_MEMORY_NONE), {}, {}, dnnl::matmul(product)};
}

// A stored rows x cols f32 matrix at `ld` into a dense bf16 one (bf16_bits).
// Our loop rather than oneDNN's reorder: this is one streaming pass (split over the team), and the reorder on
// an OpenMP team of two ran 3.5x slower than on one thread (0.30 against 0.086 ms for the weights, Zen 5).
void round_to_bf16(const float* from, Index rows, Index cols, Index ld, void* to) {
  auto* out = static_cast<std::uint16_t*>(to);
  for_each_range(rows, indices_per_thread(cols), [from, cols, ld, out](Index begin, Index end) {
    for (Index r = begin; r < end; ++r) {
      const float* row = from + r * ld;
      std::uint16_t* row_out = out + r * cols;
      for (Index c = 0; c < cols; ++c) row_out[c] = bf16_bits(row[c]);
    }
  });
}

// The bf16 values of an operand stored rows x cols at ld: its kept copy where that holds it (kReuse) or is to be
// refreshed, else rounded into `scratch`.
void* bf16_values(const float* from, Index rows, Index cols, Index ld, KeptCopy kept,
                  std::vector<std::uint16_t>& scratch) {
  Bf16Copy* copy = kept.copy;
  const CopyUse use = kept.use;
  if (copy != nullptr && use == CopyUse::kReuse && copy->source == from && copy->rows == rows &&
      copy->cols == cols && copy->ld == ld) {
    return const_cast<std::uint16_t*>(copy->rounded);  // oneDNN reads it only (its handles are void*)
  }
  if (copy != nullptr && use == CopyUse::kRefresh) {
    copy->values.resize(static_cast<std::size_t>(rows * cols));
    round_to_bf16(from, rows, cols, ld, copy->values.data());
    copy->hold(copy->values.data(), from, rows, cols, ld);
    return copy->values.data();
  }
  scratch.resize(static_cast<std::size_t>(rows * cols));  // on first use: operands with kept copies need none
  round_to_bf16(from, rows, cols, ld, scratch.data());
  return scratch.data();
}

}  // namespace

bool has_bf16_kernels() {
  const unsigned isa = dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

std::string bf16_description() { return described("matmul bf16 x bf16 -> f32"); }

void gemm_bf16(bool trans_a, bool trans_b, Index m, Index n, Index k, float alpha, const float* a, Index lda,
               const float* b, Index ldb, float beta, float* c, Index ldc, KeptCopy a_copy, KeptCopy b_copy) {
  using Key = std::tuple<bool, bool, Index, Index, Index, float, float, Index, int>;
  static std::map<Key, Bf16Plan> plans;
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  try {
    const Key key{trans_a, trans_b, m, n, k, alpha, beta, ldc, team_size().load(std::memory_order_relaxed)};
    auto plan = plans.find(key);
    if (plan == plans.end()) {
      plan = plans.emplace(key, make_bf16_plan(trans_a, trans_b, m, n, k, alpha, beta, ldc)).first;
    }
    Bf16Plan& p = plan->second;
    // As stored: op(A) = A^T is A's k x m rows at lda.
    p.a16.set_data_handle(bf16_values(a, trans_a ? k : m, trans_a ? m : k, lda, a_copy, p.a_scratch));
    p.b16.set_data_handle(bf16_values(b, trans_b ? n : k, trans_b ? k : n, ldb, b_copy, p.b_scratch));
    p.c32.set_data_handle(c);
    dnnl::stream& stream = cpu_stream();
    p.product.execute(stream, {{DNNL_ARG_SRC, p.a16}, {DNNL_ARG_WEIGHTS, p.b16}, {DNNL_ARG_DST, p.c32}});
    stream.wait();
  } catch (const dnnl::error& e) {
    NS_FAIL("oneDNN's bf16 matmul ({}x{}x{}, lda {}, ldb {}, ldc {}) failed: {}; hint: precision = \"float32\"", m,
            n, k, lda, ldb, ldc, e.what());
  }
}

#else

bool built() { return false; }
bool has_avx512_kernels() { return false; }
std::string description() { return "onednn (not built)"; }
void set_threads(int /*threads*/) {}
int threads() { return 1; }
void sgemm(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float, float*, Index) {
  NS_FAIL("this build has no oneDNN; hint: install libdnnl-dev and reconfigure, or use NORMSCALE_GEMM=openblas");
}
bool has_bf16_kernels() { return false; }
std::string bf16_description() { return "onednn (not built)"; }
void gemm_bf16(bool, bool, Index, Index, Index, float, const float*, Index, const float*, Index, float, float*,
               Index, KeptCopy, KeptCopy) {
  NS_FAIL("this build has no oneDNN, which runs the bf16 products; hint: precision = \"float32\"");
}

#endif

}  // namespace normscale::onednn
