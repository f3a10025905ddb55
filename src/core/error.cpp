// Builds the message of normscale::Error; the source location is kept for debugging builds only.
#include "normscale/core/error.hpp"

namespace normscale {

void throw_error(const char* file, int line, const std::string& message) {
#ifndef NDEBUG
  throw Error(fmt::format("{} [{}:{}]", message, file, line));
#else
  (void)file;
  (void)line;
  throw Error(message);
#endif
}

}  // namespace normscale
