// The one error type of normscale and the checking macro that throws it.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace normscale {

// Library code throws only this; only main() catches it (and aborts every rank when under MPI).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// An error every rank of the job throws at the same point, after agreeing on it (comm/agreement.hpp),
// so main() can report it once (rank 0) and end every rank normally instead of aborting the job.
class AgreedError : public Error {
 public:
  explicit AgreedError(const std::string& message) : Error(message) {}
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace normscale

// NS_CHECK(cond, "format {}", args...): throws normscale::Error with the message when cond fails.
#define NS_CHECK(cond, ...)                                                      \
  do {                                                                           \
    if (!(cond)) ::normscale::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

#define NS_FAIL(...) ::normscale::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
