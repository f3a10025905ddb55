// NcclComm: NCCL sums of device buffers on the caller's stream; the unique id travels over the host
// bootstrap communicator, which also gives the rank its place on the node.
#include "normscale/cuda/nccl_comm.hpp"

#include "cuda/check.hpp"
#include "cuda/cuda_libraries.hpp"

#include <cstring>
#include <exception>

namespace normscale {

namespace {

template <class T>
constexpr ncclDataType_t nccl_type();
template <>
constexpr ncclDataType_t nccl_type<float>() {
  return ncclFloat;
}
template <>
constexpr ncclDataType_t nccl_type<double>() {
  return ncclDouble;
}

const char* memory_type_name(cudaMemoryType type) {
  switch (type) {
    case cudaMemoryTypeHost: return "page-locked host memory";
    case cudaMemoryTypeDevice: return "device memory";
    case cudaMemoryTypeManaged: return "managed memory";
    default: return "host memory unknown to CUDA";
  }
}

// The front door: a host pointer handed to NCCL faults on the device, far from the call that passed it.
void check_device_memory(const void* values, std::size_t count) {
  cudaPointerAttributes attributes{};
  NS_CUDA_CHECK(cudaPointerGetAttributes(&attributes, values));
  NS_CHECK(attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged,
           "NcclComm::allreduce_sum_async: the {} values at {} are in {}, not in GPU memory; a DeviceCommunicator "
           "sums device buffers (host buffers go over the host Communicator)",
           count, fmt::ptr(values), memory_type_name(attributes.type));
}

}  // namespace

NcclComm::NcclComm(Communicator& bootstrap)
    : rank_(bootstrap.rank()), size_(bootstrap.size()), local_rank_(bootstrap.local_rank()) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (bootstrap.is_root()) NS_NCCL_CHECK(cuda_detail::nccl().get_unique_id(&id));
  bootstrap.broadcast(std::span<std::byte>(reinterpret_cast<std::byte*>(&id), sizeof(id)), 0);
  ncclComm_t comm = nullptr;
  NS_NCCL_CHECK(cuda_detail::nccl().comm_init_rank(&comm, size_, id, rank_));
  comm_ = comm;
}

NcclComm::~NcclComm() { release(); }

// A group left open (an exception between begin_group and end_group) would swallow this thread's later
// NCCL calls into it: close it before the communicator goes. While an exception unwinds -- this rank failed
// alone, the others may be waiting in a collective -- the communicator is aborted: finalizing waits for every
// rank to be quiescent, which would keep this rank from reporting its error and ending the job.
void NcclComm::release() noexcept {
  for (; open_groups_ > 0; --open_groups_) cuda_detail::nccl().group_end();
  if (comm_ != nullptr) {
    if (std::uncaught_exceptions() > 0) {
      cuda_detail::nccl().comm_abort(comm_);
    } else {
      cuda_detail::nccl().comm_finalize(comm_);
      cuda_detail::nccl().comm_destroy(comm_);
    }
    comm_ = nullptr;
  }
}

NcclComm::NcclComm(NcclComm&& other) noexcept
    : comm_(other.comm_), rank_(other.rank_), size_(other.size_), local_rank_(other.local_rank_),
      open_groups_(other.open_groups_) {
  other.comm_ = nullptr;
  other.open_groups_ = 0;
}

NcclComm& NcclComm::operator=(NcclComm&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = other.comm_;
    rank_ = other.rank_;
    size_ = other.size_;
    local_rank_ = other.local_rank_;
    open_groups_ = other.open_groups_;
    other.comm_ = nullptr;
    other.open_groups_ = 0;
  }
  return *this;
}

ncclComm* NcclComm::usable(const char* operation) const {
  NS_CHECK(comm_ != nullptr, "NcclComm::{} on a moved-from communicator", operation);
  return comm_;
}

template <class T>
void NcclComm::enqueue_sum(T* device_values, std::size_t count, CUstream_st* stream) {
  ncclComm* comm = usable("allreduce_sum_async");
  if (count == 0) return;
  check_device_memory(device_values, count);
  NS_NCCL_CHECK(
      cuda_detail::nccl().all_reduce(device_values, device_values, count, nccl_type<T>(), ncclSum, comm, stream));
}

void NcclComm::allreduce_sum_async(float* device_values, std::size_t count, CUstream_st* stream) {
  enqueue_sum(device_values, count, stream);
}

void NcclComm::allreduce_sum_async(double* device_values, std::size_t count, CUstream_st* stream) {
  enqueue_sum(device_values, count, stream);
}

void NcclComm::begin_group() {
  usable("begin_group");
  NS_NCCL_CHECK(cuda_detail::nccl().group_start());
  ++open_groups_;
}

void NcclComm::end_group() {
  NS_CHECK(open_groups_ > 0, "NcclComm::end_group without a matching begin_group");
  --open_groups_;
  NS_NCCL_CHECK(cuda_detail::nccl().group_end());
}

}  // namespace normscale
