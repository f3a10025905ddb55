// CUDA graphs for the step's launch-bound kernel sequences (cuda_graphs = true): a sequence of stream work is
// captured the first time its key is seen and replayed as one graph launch after that, which saves the
// per-kernel launch cost that dominates small-batch steps (ten-odd GEMMs and kernels of a few microseconds
// each). A sequence may be captured only when every launch in it takes the same arguments at each replay
// (pointers, sizes, constants) and it neither synchronises with the host nor allocates; the callers key it by
// what changes those.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>

namespace normscale {

class GraphCache {
 public:
  // (what the sequence is, its inputs, its row count): the caller's identification of one launch sequence.
  using Key = std::tuple<int, const void*, const void*, std::int64_t>;

  GraphCache() = default;
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  // Enqueues issue()'s work on `stream`: replayed from the graph of `key`, captured now if there is none yet (and
  // issued directly once kMaxGraphs are kept, so an unbounded set of keys costs no memory).
  void run(cudaStream_t stream, const Key& key, const std::function<void()>& issue);
  // Forgets every graph (the buffers they captured were reallocated).
  void clear();
  std::size_t size() const { return graphs_.size(); }

  static constexpr std::size_t kMaxGraphs = 16;

 private:
  std::map<Key, cudaGraphExec_t> graphs_;
};

}  // namespace normscale
