// Keeping the memory a process frees for its own reuse.
#pragma once

namespace normscale {

// glibc's malloc serves a large block (above its mmap threshold, 128 KB growing to at most 32 MB) with a
// mapping of its own, unmapped when freed, and gives the heap's free top back to the system; so a buffer that is
// freed and allocated again -- a minibatch's activations resized to an evaluation chunk and back, at every
// evaluation -- is fresh memory each time, and each of its pages faults on first touch. This keeps freed memory in
// the heap (no such mappings, no trimming), as Open MPI's leave-pinned mode does: the process's memory stays at its
// peak, which a training process reaches again at every step anyway. A no-op without glibc.
void keep_freed_memory_for_reuse();

}  // namespace normscale
