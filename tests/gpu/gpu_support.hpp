// Shared helpers of the GPU tests: skip (visibly) where no CUDA device is present, move host data to
// and from the device, own a stream, and compare against the CPU path with a relative tolerance.
#pragma once

#include "normscale/core/error.hpp"
#include "normscale/cuda/device.hpp"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

// Skips the current test, saying why, when this process sees no CUDA device (never a silent pass).
#define NS_REQUIRE_CUDA_DEVICE()                                                          \
  do {                                                                                    \
    std::string ns_why_;                                                                  \
    if (::normscale::cuda_device_count(&ns_why_) == 0) {                                  \
      GTEST_SKIP() << "no CUDA device: " << ns_why_ << " (GPU tests need a GPU node)";   \
    }                                                                                     \
    ::normscale::select_cuda_device(*::normscale::gpu_testing::local_comm(), "device");   \
  } while (0)

namespace normscale::gpu_testing {

inline Communicator* local_comm() {
  static LocalComm comm;
  return &comm;
}

// A non-blocking stream of the test's own, as the trainer's communication stream is.
class Stream {
 public:
  Stream() { EXPECT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess); }
  ~Stream() { cudaStreamDestroy(stream_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const { ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess); }

 private:
  cudaStream_t stream_ = nullptr;
};

template <class T>
DeviceBuffer<T> to_device(const std::vector<T>& host) {
  DeviceBuffer<T> buffer;
  buffer.upload(host);
  return buffer;
}

template <class T>
std::vector<T> to_host(const DeviceBuffer<T>& buffer, std::size_t count) {
  std::vector<T> host(count);
  buffer.download(host);
  return host;
}

// Copies `count` values from device memory after all queued work is done.
template <class T>
std::vector<T> to_host(const T* device, std::size_t count) {
  std::vector<T> host(count);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

// |a - b| <= rtol * max(|b|, scale) elementwise, where scale is the root mean square of `expected`,
// so entries near zero are held to the vector's magnitude, not to their own.
template <class A, class B>
void expect_close(const std::vector<A>& actual, const std::vector<B>& expected, double rtol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double rms = 0.0;
  for (const B& e : expected) rms += static_cast<double>(e) * static_cast<double>(e);
  rms = expected.empty() ? 0.0 : std::sqrt(rms / static_cast<double>(expected.size()));
  std::size_t failures = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]);
    const double e = static_cast<double>(expected[i]);
    const double tolerance = rtol * std::max({std::abs(e), rms, 1e-30});
    if (!(std::abs(a - e) <= tolerance) && failures++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: " << a << " vs CPU " << e << " (tolerance " << tolerance << ")";
    }
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << actual.size() << " entries differ";
}

inline void expect_close(double actual, double expected, double rtol, const std::string& what) {
  EXPECT_LE(std::abs(actual - expected), rtol * std::max(std::abs(expected), 1e-12)) << what << ": " << actual
                                                                                      << " vs CPU " << expected;
}

}  // namespace normscale::gpu_testing
