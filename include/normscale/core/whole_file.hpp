// Reads a whole (text) file, failing where any read fails: a stream's filebuf reports a failed read as the end
// of the file, and the caller would go on with the part read, or none of it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace normscale {

// The bytes of `path`; errors say "<what> <path>: ..." (e.g. what = "config file").
std::string read_whole_file(const std::filesystem::path& path, std::string_view what);

}  // namespace normscale
