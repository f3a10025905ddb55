// GraphCache: stream capture, instantiation and replay (graph_cache.hpp).
#include "cuda/graph_cache.hpp"

#include "cuda/check.hpp"

namespace normscale {

GraphCache::~GraphCache() { clear(); }

void GraphCache::clear() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
}

void GraphCache::run(cudaStream_t stream, const Key& key, const std::function<void()>& issue) {
  auto found = graphs_.find(key);
  if (found == graphs_.end()) {
    if (graphs_.size() >= kMaxGraphs) {
      issue();
      return;
    }
    cudaGraph_t graph = nullptr;
    // Thread-local mode: another thread's unrelated CUDA calls are not refused during the capture.
    NS_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      issue();
    } catch (...) {
      // End the capture so the stream stays usable; the error that stopped it is the one reported.
      if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
      cudaGetLastError();
      throw;
    }
    NS_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    NS_CUDA_CHECK(instantiated);
    found = graphs_.emplace(key, exec).first;
  }
  NS_CUDA_CHECK(cudaGraphLaunch(found->second, stream));
}

}  // namespace normscale
