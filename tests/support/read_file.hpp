// The whole of a file as bytes, for tests that look at what a run or a study wrote.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace normscale::testing {

// The file's bytes; "" when it cannot be read (the test's expectation then says what was missing).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace normscale::testing
