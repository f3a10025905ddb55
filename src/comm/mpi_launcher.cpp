// Launchers name their processes' rank in their environment; any of these variables means the process
// is one of a launched job (when in doubt it initialises MPI, which is never wrong, only slower alone).
#include "normscale/comm/mpi_launcher.hpp"

#include <string_view>

extern char** environ;

namespace normscale {

bool started_by_mpi_launcher(const char* const* environment) {
  if (environment == nullptr) return false;
  for (const char* const* entry = environment; *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const std::string_view name = variable.substr(0, variable.find('='));
    for (const std::string_view launcher : kMpiLauncherVariables) {
      if (name == launcher) return true;
    }
  }
  return false;
}

bool started_by_mpi_launcher() { return started_by_mpi_launcher(environ); }

}  // namespace normscale
