// This machine's host name, for messages, lock files and the study's trial records.
#pragma once

#include <string>

namespace normscale {

// gethostname, or "unknown host" when it fails.
std::string host_name();

}  // namespace normscale
