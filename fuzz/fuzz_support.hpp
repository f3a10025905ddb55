// What every fuzz target shares: the input as a file for readers that take a path, and the rule that
// normscale::Error is a clean outcome while any other exception is a finding.
#pragma once

#include "normscale/core/error.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace normscale::fuzz {

// A file of this process's own (pid in the name, so parallel fuzzing jobs never share one), rewritten
// with each input: the readers under test take paths, not buffers.
inline std::filesystem::path input_path(const std::string& name) {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = std::filesystem::temp_directory_path() / ("normscale_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir / name;
}

inline std::string write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = input_path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();  // a harness that cannot write its input would report every input as clean
  return path.string();
}

// Runs `parse`: normscale::Error is how the library rejects bad input, so it ends the run cleanly. Anything
// else (std::bad_alloc, std::out_of_range, a third-party exception that escaped) propagates, and libFuzzer
// reports the uncaught exception as a crash with the input that caused it.
template <class Parse>
void expect_only_errors(Parse&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

}  // namespace normscale::fuzz
