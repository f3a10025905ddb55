// One rank's GPU: which device it drives, device memory that frees itself, and the context (cuBLAS
// handle, compute and communication streams) the backend's pieces share. Host-only header: the CUDA
// handle types appear only as forward-declared pointers.
#pragma once

#include "normscale/comm/communicator.hpp"

#include <cstddef>
#include <span>
#include <string>

struct CUstream_st;   // cudaStream_t
struct CUevent_st;    // cudaEvent_t
struct cublasContext; // cublasHandle_t

namespace normscale {

// Devices this process can use; 0 where there is no driver or no GPU (`why` then says which). Never throws.
int cuda_device_count(std::string* why = nullptr);
// Makes device (comm.local_rank() mod device count) current for this thread and returns it. Throws naming
// `option` when no GPU is usable.
int select_cuda_device(Communicator& comm, const char* option = "device");
std::string cuda_device_name(int device);

// Device memory of `size` elements of T (not initialised); move-only.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t size) { resize(size); }
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Reallocates when the size changes; the contents are then undefined.
  void resize(std::size_t size);
  // Grows only (keeps the allocation when it is large enough).
  void reserve(std::size_t size) {
    if (size > size_) resize(size);
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Blocking copies (the whole buffer is resized to the host data on upload).
  void upload(std::span<const T> host);
  void download(std::span<T> host) const;
  void zero(CUstream_st* stream = nullptr);

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// cuBLAS handle plus the two streams of one rank: kernels and GEMMs run on compute(), gradient
// allreduces on communication(), ordered by events.
class CudaContext {
 public:
  // Uses the current device (select_cuda_device first). tf32: fp32 GEMMs may use TF32 tensor cores; bf16: the
  // GEMMs round their operands to bf16 and accumulate in fp32 (precision = "bf16").
  explicit CudaContext(bool tf32 = false, bool bf16 = false);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  CUstream_st* compute() const { return compute_; }
  CUstream_st* communication() const { return communication_; }
  cublasContext* blas() const { return blas_; }
  void synchronize() const;
  // C = op(A) op(B) in cuBLAS's column-major convention, on the compute stream, with this context's products
  // (fp32, TF32 or bf16 operands; fp32 accumulation and output). m x n output, inner dimension k.
  void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
            float* c, int ldc) const;
  // Gives cuBLAS a workspace of its own (once), so that GEMMs captured into a CUDA graph never allocate.
  void reserve_blas_workspace();

 private:
  int device_ = 0;
  CUstream_st* compute_ = nullptr;
  CUstream_st* communication_ = nullptr;
  cublasContext* blas_ = nullptr;
  bool bf16_ = false;
  void* blas_workspace_ = nullptr;
};

}  // namespace normscale
