// The one place that knows whether the CUDA backend was built: device = "cuda" either gets the GPU
// trainer or a clear error (never a crash) in a CPU-only build.
#include "normscale/train/device_engine.hpp"

#include "normscale/core/error.hpp"

#ifdef NORMSCALE_HAVE_CUDA
#include "normscale/cuda/cuda_trainer.hpp"
#include "normscale/cuda/device.hpp"
#endif

namespace normscale {

bool cuda_backend_built() {
#ifdef NORMSCALE_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_usable(std::string* why) {
#ifdef NORMSCALE_HAVE_CUDA
  return cuda_device_count(why) > 0;
#else
  if (why != nullptr) *why = "this normscale was built without the CUDA backend (NORMSCALE_ENABLE_CUDA=OFF)";
  return false;
#endif
}

std::unique_ptr<TrainingEngine<float>> make_cuda_engine(const TrainerOptions& options, const CudaEngineOptions& cuda,
                                                        Communicator& comm, const Dataset& train,
                                                        Index total_examples, Network<float>& network,
                                                        Objective<float>& objective) {
#ifdef NORMSCALE_HAVE_CUDA
  return std::make_unique<CudaTrainer>(options, cuda, comm, train, total_examples, network, objective);
#else
  (void)options, (void)cuda, (void)comm, (void)train, (void)total_examples, (void)network, (void)objective;
  NS_FAIL("device = \"cuda\": this normscale was built without the CUDA backend; rebuild with "
          "-DNORMSCALE_ENABLE_CUDA=ON (needs the CUDA toolkit and NCCL) or use device = \"cpu\"");
#endif
}

}  // namespace normscale
