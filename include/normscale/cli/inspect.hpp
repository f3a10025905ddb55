// `normscale inspect RUN`: the latest figures of a run directory as a table.
#pragma once

#include <string>

namespace normscale {

// The table for the newest evaluation in RUN/metrics.jsonl (scalars, then one row per layer).
// Errors name the file when the directory holds no readable metrics.
std::string inspect_run(const std::string& run_dir);

}  // namespace normscale
