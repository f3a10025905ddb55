// CudaTrainer: the Trainer (the one step algorithm) with the CudaExecutor: parameters, gradient,
// momentum, activations, the shard's examples and the objective's multipliers live in this rank's GPU
// memory; the host samples the step's rows (the same MinibatchSampler) and uploads their indices; the
// gradient is reduced over the device communicator (NCCL) bucket by bucket while the backward pass goes
// on; the per-step scalars go over the run's host Communicator (MPI). The host Network and
// MultiplierStore are touched only by sync_to_host / load_from_host.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/train/device_engine.hpp"
#include "normscale/train/trainer.hpp"

namespace normscale {

class CudaTrainer final : public Trainer<float> {
 public:
  // Collective over `comm` (each rank picks its GPU, then the device communicator is built over `comm`
  // when there are several ranks). Starts from the host copies of `network` and `objective`.
  CudaTrainer(const TrainerOptions& options, const CudaEngineOptions& cuda, Communicator& comm, const Dataset& train,
              Index total_examples, Network<float>& network, Objective<float>& objective);
};

}  // namespace normscale
