// What every fuzz target shares: the input as a file for readers that take a path, and the rule that
// normscale::Error is a clean outcome while any other exception is a finding.
#pragma once

#include "normscale/core/error.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace normscale::fuzz {

// A folder of this process's own (pid in the name, so parallel fuzzing jobs never share one), removed at exit;
// each input is rewritten into a file there, because the readers under test take paths, not buffers.
class InputDir {
 public:
  InputDir()
      : dir_(std::filesystem::temp_directory_path() / ("normscale_fuzz_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
  }
  InputDir(const InputDir&) = delete;
  InputDir& operator=(const InputDir&) = delete;
  ~InputDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::filesystem::path& path() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

inline std::filesystem::path input_path(const std::string& name) {
  static const InputDir dir;
  return dir.path() / name;
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
