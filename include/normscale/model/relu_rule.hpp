// ReLU's value as CPU and GPU ranks compute it: max(v, 0) in std::max's order, so a NaN passes on (and reaches the
// loss and the divergence guard) where fmaxf would turn it into 0.
#pragma once

#include "normscale/core/host_device.hpp"

namespace normscale {

template <class T>
NS_HOST_DEVICE inline T relu_value(T v) {
  return v < T(0) ? T(0) : v;
}

}  // namespace normscale
