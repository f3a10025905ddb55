// Device selection, DeviceBuffer and CudaContext, and the text helpers of the checking macros.
#include "normscale/cuda/device.hpp"

#include "cuda/check.hpp"
#include "cuda/cuda_libraries.hpp"

#include <cstdint>

namespace normscale {

namespace cuda_detail {

const char* cublas_status_text(cublasStatus_t status) {
  const char* name = cublas().status_name(status);
  return name != nullptr ? name : "unknown cuBLAS status";
}

std::string nccl_status_text(ncclResult_t status) {
  return fmt::format("{} ({})", nccl().error_string(status), nccl().last_error(nullptr));
}

}  // namespace cuda_detail

int cuda_device_count(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why != nullptr) *why = fmt::format("{} ({})", cudaGetErrorString(status), cudaGetErrorName(status));
    cudaGetLastError();  // not sticky: leave no error behind for the next call
    return 0;
  }
  if (count == 0 && why != nullptr) *why = "the driver reports no CUDA device";
  return count;
}

int select_cuda_device(Communicator& comm, const char* option) {
  std::string why;
  const int count = cuda_device_count(&why);
  NS_CHECK(count > 0,
           "{} = \"cuda\": rank {} on {} has no usable CUDA device ({}); run on a GPU node or use {} = \"cpu\"",
           option, comm.rank(), host_name(), why, option);
  const int device = comm.local_rank() % count;
  NS_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

std::string cuda_device_name(int device) {
  cudaDeviceProp properties{};
  NS_CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  return properties.name;
}

template <class T>
DeviceBuffer<T>::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

template <class T>
DeviceBuffer<T>::DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

template <class T>
DeviceBuffer<T>& DeviceBuffer<T>::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

template <class T>
void DeviceBuffer<T>::resize(std::size_t size) {
  if (size == size_) return;
  if (data_ != nullptr) NS_CUDA_CHECK(cudaFree(data_));
  data_ = nullptr;
  size_ = 0;
  if (size == 0) return;
  void* memory = nullptr;
  const cudaError_t status = cudaMalloc(&memory, size * sizeof(T));
  NS_CHECK(status == cudaSuccess, "cudaMalloc of {} MiB failed on {}: {}; the model, batch or data shard is too "
           "large for this GPU (use more ranks or a smaller batch)",
           static_cast<double>(size * sizeof(T)) / (1024.0 * 1024.0), host_name(),
           cudaGetErrorString(status));
  data_ = static_cast<T*>(memory);
  size_ = size;
}

template <class T>
void DeviceBuffer<T>::upload(std::span<const T> host) {
  resize(host.size());
  // The backend's streams do not synchronise with the legacy default stream: wait on both sides.
  NS_CUDA_CHECK(cudaDeviceSynchronize());
  if (!host.empty()) NS_CUDA_CHECK(cudaMemcpy(data_, host.data(), host.size_bytes(), cudaMemcpyHostToDevice));
  NS_CUDA_CHECK(cudaDeviceSynchronize());
}

template <class T>
void DeviceBuffer<T>::download(std::span<T> host) const {
  NS_CHECK(host.size() <= size_, "device buffer holds {} values; {} were asked for", size_, host.size());
  NS_CUDA_CHECK(cudaDeviceSynchronize());
  if (!host.empty()) NS_CUDA_CHECK(cudaMemcpy(host.data(), data_, host.size_bytes(), cudaMemcpyDeviceToHost));
}

template <class T>
void DeviceBuffer<T>::zero(CUstream_st* stream) {
  if (size_ > 0) NS_CUDA_CHECK(cudaMemsetAsync(data_, 0, size_ * sizeof(T), stream));
}

template class DeviceBuffer<float>;
template class DeviceBuffer<double>;
template class DeviceBuffer<std::int32_t>;
template class DeviceBuffer<unsigned long long>;
template class DeviceBuffer<unsigned char>;

CudaContext::CudaContext(bool tf32, bool bf16) : bf16_(bf16) {
  NS_CUDA_CHECK(cudaGetDevice(&device_));
  NS_CUDA_CHECK(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
  NS_CUDA_CHECK(cudaStreamCreateWithFlags(&communication_, cudaStreamNonBlocking));
  NS_CUBLAS_CHECK(cuda_detail::cublas().create(&blas_));
  NS_CUBLAS_CHECK(cuda_detail::cublas().set_stream(blas_, compute_));
  // Default math is true fp32; TF32 tensor cores only when asked for (cuda_tf32 = true).
  NS_CUBLAS_CHECK(cuda_detail::cublas().set_math_mode(blas_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

CudaContext::~CudaContext() {
  if (blas_ != nullptr) cuda_detail::cublas().destroy(blas_);
  if (blas_workspace_ != nullptr) cudaFree(blas_workspace_);
  if (compute_ != nullptr) cudaStreamDestroy(compute_);
  if (communication_ != nullptr) cudaStreamDestroy(communication_);
}

void CudaContext::synchronize() const { NS_CUDA_CHECK(cudaStreamSynchronize(compute_)); }

void CudaContext::reserve_blas_workspace() {
  if (blas_workspace_ != nullptr) return;
  constexpr std::size_t kBytes = std::size_t{32} << 20;  // NVIDIA's advice for Hopper; 4 MiB suffices before it
  NS_CUDA_CHECK(cudaMalloc(&blas_workspace_, kBytes));
  NS_CUBLAS_CHECK(cuda_detail::cublas().set_workspace(blas_, blas_workspace_, kBytes));
}

void CudaContext::gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* a, int lda, const float* b,
                       int ldb, float* c, int ldc) const {
  const float one = 1.0f, zero = 0.0f;
  const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (!bf16_) {
    NS_CUBLAS_CHECK(cuda_detail::cublas().sgemm(blas_, op_a, op_b, m, n, k, &one, a, lda, b, ldb, &zero, c, ldc));
    return;
  }
  // fp32 in memory, bf16 tensor-core products with fp32 accumulation: the CPU's bf16 path, done by cuBLAS.
  NS_CUBLAS_CHECK(cuda_detail::cublas().gemm_ex(blas_, op_a, op_b, m, n, k, &one, a, CUDA_R_32F, lda, b, CUDA_R_32F,
                                                ldb, &zero, c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF,
                                                CUBLAS_GEMM_DEFAULT));
}

}  // namespace normscale
