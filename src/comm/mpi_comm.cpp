// MpiComm: each collective checks its arguments at the front door, then makes one MPI call per
// INT_MAX elements (MPI counts are int) on the owned duplicate communicator.
#include "normscale/comm/mpi_comm.hpp"

#include "normscale/comm/mpi_check.hpp"
#include "normscale/core/error.hpp"

#include <algorithm>
#include <climits>
#include <utility>

namespace normscale {

namespace {

// Large spans go in pieces of at most INT_MAX elements, the most one MPI call can count.
template <class T, class Call>
void for_each_chunk(std::span<T> values, Call&& call) {
  constexpr std::size_t kMaxCount = static_cast<std::size_t>(INT_MAX);
  for (std::size_t offset = 0; offset < values.size(); offset += kMaxCount) {
    const std::size_t count = std::min(kMaxCount, values.size() - offset);
    call(values.data() + offset, static_cast<int>(count));
  }
}

}  // namespace

MpiComm::MpiComm(MPI_Comm parent) {
  int initialized = 0;
  NS_MPI_CHECK(MPI_Initialized(&initialized));
  NS_CHECK(initialized != 0,
           "MpiComm needs MPI to be initialised; hint: call MPI_Init in main before creating it");
  NS_CHECK(parent != MPI_COMM_NULL, "MpiComm needs a valid parent communicator, got MPI_COMM_NULL");
  NS_MPI_CHECK(MPI_Comm_dup(parent, &comm_));
  NS_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  NS_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  NS_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  // The ranks that share this node's memory: a rank's index among them picks its GPU.
  MPI_Comm node = MPI_COMM_NULL;
  NS_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  NS_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  NS_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  NS_MPI_CHECK(MPI_Comm_free(&node));
}

MpiComm::~MpiComm() { release(); }

MpiComm::MpiComm(MpiComm&& other) noexcept
    : comm_(std::exchange(other.comm_, MPI_COMM_NULL)),
      rank_(other.rank_),
      size_(other.size_),
      local_rank_(other.local_rank_),
      local_size_(other.local_size_) {}

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    rank_ = other.rank_;
    size_ = other.size_;
    local_rank_ = other.local_rank_;
    local_size_ = other.local_size_;
  }
  return *this;
}

// A destructor cannot throw, and freeing after MPI_Finalize is illegal: then the handle is left to
// MPI's own teardown.
void MpiComm::release() noexcept {
  if (comm_ == MPI_COMM_NULL) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized == 0) MPI_Comm_free(&comm_);
  comm_ = MPI_COMM_NULL;
}

MPI_Comm MpiComm::usable_handle(const char* operation) const {
  NS_CHECK(comm_ != MPI_COMM_NULL, "MpiComm::{} called on a moved-from communicator", operation);
  return comm_;
}

void MpiComm::allreduce_sum(std::span<float> values) {
  const MPI_Comm comm = usable_handle("allreduce_sum");
  for_each_chunk(values, [comm](float* data, int count) {
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, comm));
  });
}

void MpiComm::allreduce_sum(std::span<double> values) {
  const MPI_Comm comm = usable_handle("allreduce_sum");
  for_each_chunk(values, [comm](double* data, int count) {
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_SUM, comm));
  });
}

void MpiComm::allreduce_max(std::span<double> values) {
  const MPI_Comm comm = usable_handle("allreduce_max");
  for_each_chunk(values, [comm](double* data, int count) {
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_MAX, comm));
  });
}

void MpiComm::broadcast(std::span<std::byte> bytes, int root) {
  const MPI_Comm comm = usable_handle("broadcast");
  NS_CHECK(root >= 0 && root < size_, "MpiComm::broadcast: root {} is not a rank of this {}-rank communicator",
           root, size_);
  for_each_chunk(bytes, [comm, root](std::byte* data, int count) {
    NS_MPI_CHECK(MPI_Bcast(data, count, MPI_BYTE, root, comm));
  });
}

void MpiComm::barrier() { NS_MPI_CHECK(MPI_Barrier(usable_handle("barrier"))); }

}  // namespace normscale
