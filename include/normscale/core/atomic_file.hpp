// Writes a whole output file through a temporary name and a rename, so readers never see half a file.
#pragma once

#include <string>
#include <string_view>

namespace normscale {

// Writes `bytes` to `path` + ".tmp" and renames it onto `path` (atomic within one file system).
// The temporary file is removed when anything fails; errors name the file.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace normscale
