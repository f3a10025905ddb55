// NS_HOST_DEVICE marks a function that both the C++ and the CUDA compiler build, so that math shared
// by CPU and GPU ranks (the objectives' per-example rules) is written once.
#pragma once

#if defined(__CUDACC__)
#define NS_HOST_DEVICE __host__ __device__
#else
#define NS_HOST_DEVICE
#endif
