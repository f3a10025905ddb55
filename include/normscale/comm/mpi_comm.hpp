// MpiComm: the host Communicator over MPI. It owns a duplicate of the communicator it is given, so its
// collectives never mix with anyone else's traffic, and frees it when it goes away. The node-local rank
// comes from one MPI_COMM_TYPE_SHARED split at construction.
#pragma once

#include "normscale/comm/communicator.hpp"

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace normscale {

// The exit code of a job ended by a collective timeout: that of any normscale error.
inline constexpr int kCollectiveTimeoutExitCode = 2;

class MpiComm final : public Communicator {
 public:
  // Collective over `parent`: every rank of it must construct its MpiComm at the same point.
  // Requires MPI_Init to have been called; errors on the duplicate are returned (MPI_ERRORS_RETURN)
  // and turned into normscale::Error by NS_MPI_CHECK instead of aborting.
  explicit MpiComm(MPI_Comm parent = MPI_COMM_WORLD);
  ~MpiComm() override;

  MpiComm(MpiComm&& other) noexcept;
  MpiComm& operator=(MpiComm&& other) noexcept;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }

  // Every rank must pass spans of the same length (and the same root); MPI cannot check that.
  void allreduce_sum(std::span<float> values) override;
  void allreduce_sum(std::span<double> values) override;
  void allreduce_max(std::span<double> values) override;
  void broadcast(std::span<std::byte> bytes, int root) override;
  void barrier() override;

  // The watchdog's report ends the job with MPI_Abort on MPI_COMM_WORLD (exit code
  // kCollectiveTimeoutExitCode); a rank other than 0 waits a second first, so that rank 0, if it is
  // waiting too, gets its record written before the abort ends it.
  void set_collective_timeout(std::chrono::duration<double> timeout, TimeoutRecord record = {}) override;
  void set_step(std::int64_t step) override;
  CollectiveWatchdog* watchdog() override { return watchdog_.get(); }

  // The owned duplicate, for code that must call MPI directly (benchmarks, tests); MPI_COMM_NULL
  // after a move.
  MPI_Comm native() const { return comm_; }

 private:
  MPI_Comm usable_handle(const char* operation) const;
  void release() noexcept;

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  std::unique_ptr<CollectiveWatchdog> watchdog_;  // null: collectives wait as long as they take
};

}  // namespace normscale
