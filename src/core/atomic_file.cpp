// write_file_atomically: stdio write to a sibling temporary file, then std::rename onto the target.
#include "normscale/core/atomic_file.hpp"

#include "normscale/core/error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace normscale {

void write_file_atomically(const std::string& path, std::string_view bytes) {
  // The temporary lives next to the target: rename is only atomic within one file system.
  const std::string temp = path + ".tmp";
  std::FILE* file = std::fopen(temp.c_str(), "wb");
  NS_CHECK(file != nullptr, "cannot create '{}' (for '{}'): {}; hint: does the directory exist and is it writable?",
           temp, path, std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const int write_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::remove(temp.c_str());
    NS_FAIL("cannot write {} bytes to '{}': {}; hint: is the disk full?", bytes.size(), temp,
            std::strerror(written ? errno : write_errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temp.c_str());
    NS_FAIL("cannot rename '{}' to '{}': {}", temp, path, std::strerror(rename_errno));
  }
}

}  // namespace normscale
