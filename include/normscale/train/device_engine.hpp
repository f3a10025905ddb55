// The choice of training engine for `device = "cuda"`: the GPU trainer where this build has the CUDA
// backend and the machine a GPU, otherwise an error naming the option.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/train/trainer.hpp"
#include "normscale/train/training_engine.hpp"

#include <memory>

namespace normscale {

struct CudaEngineOptions {
  bool tf32 = false;      // cuBLAS may use TF32 tensor cores for the fp32 GEMMs
  bool bf16 = false;      // the GEMMs take bf16 operands, fp32 accumulation (precision = "bf16")
  bool graphs = false;    // the step's forward and backward replayed as CUDA graphs (DeviceNetwork::use_graphs)
};

// True when this binary was built with NORMSCALE_ENABLE_CUDA.
bool cuda_backend_built();
// True when the CUDA backend is built and this process sees a CUDA device; else `why` says why not.
bool cuda_usable(std::string* why = nullptr);

// The GPU engine on the device of this rank (local rank mod device count). It keeps parameters,
// momentum, the shard's examples and multipliers in device memory and reads / writes `network` and
// `objective` only in sync_to_host / load_from_host. Throws a normscale::Error naming `device` when
// the build has no CUDA backend or the machine no usable GPU.
std::unique_ptr<TrainingEngine<float>> make_cuda_engine(const TrainerOptions& options, const CudaEngineOptions& cuda,
                                                        Communicator& comm, const Dataset& train,
                                                        Index total_examples, Network<float>& network,
                                                        Objective<float>& objective);

}  // namespace normscale
