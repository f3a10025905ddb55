// Keeping freed memory for reuse (see memory_reuse.hpp).
#include "normscale/core/memory_reuse.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace normscale {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);         // no block gets a mapping of its own (the main arena grows by brk)
  mallopt(M_TRIM_THRESHOLD, -1);  // and its free top is never given back
#endif
}

}  // namespace normscale
