// The host surface through which ranks talk: sums, broadcasts, barriers on host memory (every span is
// host memory), plus where the rank sits on its node. Objectives and layers never see it; the Trainer
// decides what to reduce. GPU buffers go over a DeviceCommunicator (device_communicator.hpp) instead;
// communicator_factory.hpp chooses both.
#pragma once

#include <cstddef>
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

  bool is_root() const { return rank() == 0; }
};

// One process: every collective is the identity.
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
