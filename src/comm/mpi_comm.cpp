// MpiComm: each collective checks its arguments at the front door, then makes one MPI call per
// INT_MAX elements (MPI counts are int) on the owned duplicate communicator, under the watchdog's eye
// when a collective timeout is set.
#include "normscale/comm/mpi_comm.hpp"

#include "normscale/comm/mpi_check.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
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

// On the watchdog's thread, while this rank's collective still waits: say what waits where, let the run
// record it, end the job. Nothing here touches the waiting communicator; MPI_Abort is the one MPI call.
// The standard promises it from a second thread only under MPI_THREAD_MULTIPLE; Open MPI (4.1, checked
// by tests/launch/test_stalled_rank.cpp) serves it through its runtime whatever the thread level, and
// the _Exit below still ends this rank, which the launcher then turns into the end of the job.
[[noreturn]] void report_timeout_and_abort(const CollectiveTimeout& timeout,
                                           const Communicator::TimeoutRecord& record) {
  const StalledCollective& stalled = timeout.stalled;
  const std::string message = fmt::format(
      "normscale: error: collective_timeout: {} of {} bytes has not completed after {:.1f} s (collective_timeout "
      "= {:g} s) at step {}, waiting on host {} rank {} of {}: another rank has stopped, hung or lost its "
      "connection; ending the job. Hint: the rank that does not report this is the stuck one; raise "
      "collective_timeout if the ranks are only slow (0 waits forever)\n",
      stalled.collective, stalled.bytes, stalled.seconds, timeout.timeout_seconds, stalled.step, timeout.host,
      timeout.rank, timeout.ranks);
  std::fputs(message.c_str(), stderr);
  std::fflush(stderr);
  if (record) {
    try {
      record(timeout);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "normscale: the collective timeout could not be recorded: %s\n", error.what());
      std::fflush(stderr);
    }
  }
  // Every waiting rank reaches this at about the same time; rank 0 alone writes the record, so the
  // others leave it a moment before their abort takes its process down too.
  if (timeout.rank != 0) std::this_thread::sleep_for(std::chrono::seconds(1));
  MPI_Abort(MPI_COMM_WORLD, kCollectiveTimeoutExitCode);
  std::_Exit(kCollectiveTimeoutExitCode);  // MPI_Abort does not return; should it, the launcher sees an exit
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
      local_size_(other.local_size_),
      watchdog_(std::move(other.watchdog_)) {}

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    rank_ = other.rank_;
    size_ = other.size_;
    local_rank_ = other.local_rank_;
    local_size_ = other.local_size_;
    watchdog_ = std::move(other.watchdog_);
  }
  return *this;
}

// A destructor cannot throw, and freeing after MPI_Finalize is illegal: then the handle is left to
// MPI's own teardown.
void MpiComm::release() noexcept {
  watchdog_.reset();
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

void MpiComm::set_collective_timeout(std::chrono::duration<double> timeout, TimeoutRecord record) {
  NS_CHECK(std::isfinite(timeout.count()) && timeout.count() >= 0,
           "collective_timeout = {} is not valid; expected a finite number of seconds >= 0 (0: no timeout)",
           timeout.count());
  watchdog_.reset();
  if (timeout.count() == 0) return;
  CollectiveTimeout where;
  where.host = host_name();
  where.rank = rank_;
  where.ranks = size_;
  where.timeout_seconds = timeout.count();
  watchdog_ = std::make_unique<CollectiveWatchdog>(
      timeout, [where, record = std::move(record)](const StalledCollective& stalled) {
        CollectiveTimeout report = where;
        report.stalled = stalled;
        report_timeout_and_abort(report, record);
      });
}

void MpiComm::set_step(std::int64_t step) {
  if (watchdog_) watchdog_->set_step(step);
}

void MpiComm::allreduce_sum(std::span<float> values) {
  const MPI_Comm comm = usable_handle("allreduce_sum");
  const CollectiveWatchdog::Watch watch(watchdog_.get(), "allreduce_sum", values.size_bytes());
  for_each_chunk(values, [comm](float* data, int count) {
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, comm));
  });
}

void MpiComm::allreduce_sum(std::span<double> values) {
  const MPI_Comm comm = usable_handle("allreduce_sum");
  const CollectiveWatchdog::Watch watch(watchdog_.get(), "allreduce_sum", values.size_bytes());
  for_each_chunk(values, [comm](double* data, int count) {
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_SUM, comm));
  });
}

void MpiComm::allreduce_max(std::span<double> values) {
  const MPI_Comm comm = usable_handle("allreduce_max");
  const CollectiveWatchdog::Watch watch(watchdog_.get(), "allreduce_max", values.size_bytes());
  for_each_chunk(values, [comm](double* data, int count) {
    NS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_MAX, comm));
  });
}

void MpiComm::broadcast(std::span<std::byte> bytes, int root) {
  const MPI_Comm comm = usable_handle("broadcast");
  NS_CHECK(root >= 0 && root < size_, "MpiComm::broadcast: root {} is not a rank of this {}-rank communicator",
           root, size_);
  const CollectiveWatchdog::Watch watch(watchdog_.get(), "broadcast", bytes.size_bytes());
  for_each_chunk(bytes, [comm, root](std::byte* data, int count) {
    NS_MPI_CHECK(MPI_Bcast(data, count, MPI_BYTE, root, comm));
  });
}

void MpiComm::barrier() {
  const MPI_Comm comm = usable_handle("barrier");
  const CollectiveWatchdog::Watch watch(watchdog_.get(), "barrier", 0);
  NS_MPI_CHECK(MPI_Barrier(comm));
}

}  // namespace normscale
