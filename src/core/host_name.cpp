// gethostname with a terminated buffer and a readable fallback.
#include "normscale/core/host_name.hpp"

#include <unistd.h>

#include <climits>

namespace normscale {

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name) != 0) return "unknown host";
  name[HOST_NAME_MAX] = '\0';
  return name;
}

}  // namespace normscale
