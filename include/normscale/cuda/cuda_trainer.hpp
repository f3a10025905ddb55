// CudaTrainer: the training step of Trainer<float> with everything on this rank's GPU. Parameters,
// gradient, momentum, activations, the shard's examples and Minnorm multipliers live in device
// memory; the host samples the step's rows (the same MinibatchSampler) and uploads their indices; the
// gradient is reduced over NCCL bucket by bucket while the backward pass goes on; the per-step scalars
// go over the run's Communicator (MPI). The host Network and MultiplierStore are touched only by
// sync_to_host / load_from_host.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/train/device_engine.hpp"
#include "normscale/train/trainer.hpp"
#include "normscale/train/training_engine.hpp"

#include <memory>
#include <string>
#include <vector>

namespace normscale {

class CudaTrainer final : public TrainingEngine<float> {
 public:
  // Collective over `comm` (each rank picks its GPU, then the NCCL communicator is built).
  CudaTrainer(const TrainerOptions& options, const CudaEngineOptions& cuda, Communicator& comm, const Dataset& train,
              Index total_examples, Network<float>& network, Objective<float>& objective);
  ~CudaTrainer() override;
  CudaTrainer(const CudaTrainer&) = delete;
  CudaTrainer& operator=(const CudaTrainer&) = delete;

  std::string device() const override;
  StepStats step() override;
  void flush_multipliers() override;
  EvalStats evaluate(const Dataset& data) override;
  double lagrangian() override;
  Index support_count() override;
  Index steps_done() const override;
  Index global_batch() const override;
  double epochs_done() const override;
  Index steps_for_epochs(double epochs) const override;
  void restore(Index step) override;
  std::vector<float>& velocity() override;
  void sync_to_host() override;
  void load_from_host() override;

  // Rows that took part in the last step's backward pass on this rank (support-vector skip).
  Index last_backward_rows() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace normscale
