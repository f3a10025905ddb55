// The host surface through which ranks talk: sums, broadcasts, barriers on host memory (every span is
// host memory), plus where the rank sits on its node. Objectives and layers never see it; the Trainer
// decides what to reduce. GPU buffers go over a DeviceCommunicator (device_communicator.hpp) instead;
// communicator_factory.hpp chooses both.
#pragma once

#include "normscale/comm/collective_watchdog.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace normscale {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's index among the ranks on its node, and their number (which GPU a rank drives).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual std::string backend() const = 0;

  // In-place elementwise sum over all ranks.
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<double> values) = 0;
  // In-place elementwise maximum over all ranks (used for agreement checks).
  virtual void allreduce_max(std::span<double> values) = 0;
  // Copies `bytes` from rank `root` to every rank.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  virtual void barrier() = 0;

  // Runs on the watchdog's thread while this rank's collective still waits, just before the job ends
  // (the run appends the event to its metrics log); it must not use the communicator.
  using TimeoutRecord = std::function<void(const CollectiveTimeout&)>;
  // From now on a collective that has not completed within `timeout` is reported on stderr (which one,
  // its bytes, the step, host and rank), handed to `record`, and ends the whole job: a stopped or hung
  // rank then costs the others `timeout`, not the rest of their allocation. Zero turns the watch off.
  // Not collective, though every rank should call it alike. A communicator whose collectives cannot
  // wait on another process ignores it.
  virtual void set_collective_timeout(std::chrono::duration<double> /*timeout*/, TimeoutRecord /*record*/ = {}) {}
  // The training step the following collectives belong to, for that report (0: before the first step).
  virtual void set_step(std::int64_t /*step*/) {}
  // The watchdog set_collective_timeout started (null: none), for waits outside the communicator that hang when a
  // peer does: a GPU rank waiting for its stream, behind an NCCL collective a stalled peer never joins.
  virtual CollectiveWatchdog* watchdog() { return nullptr; }

  bool is_root() const { return rank() == 0; }
};

// One process: every collective is the identity (and never waits, so it needs no watchdog).
class LocalComm final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void allreduce_max(std::span<double>) override {}
  void broadcast(std::span<std::byte>, int) override {}
  void barrier() override {}
};

}  // namespace normscale
