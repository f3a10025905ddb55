// read_whole_file: stdio, whose ferror tells a failed read from the end of the file.
#include "normscale/core/whole_file.hpp"

#include "normscale/core/error.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace normscale {

std::string read_whole_file(const std::filesystem::path& path, std::string_view what) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  NS_CHECK(file != nullptr, "{} {}: cannot be opened for reading: {} (check its permissions)", what, path.string(),
           std::strerror(errno));
  std::string text;
  std::array<char, 65536> buffer{};
  while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get())) text.append(buffer.data(), n);
  NS_CHECK(std::ferror(file.get()) == 0, "{} {}: read failed: {}", what, path.string(), std::strerror(errno));
  return text;
}

}  // namespace normscale
