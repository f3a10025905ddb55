// Building a trial's argument vector (never a shell command line) and environment.
#include "normscale/study/trial_command.hpp"

#include "normscale/comm/mpi_launcher.hpp"

#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

namespace normscale {

std::vector<std::string> trainer_argv(const std::string& trainer, const TrialInvocation& trial) {
  std::vector<std::string> argv = {trainer, "train", "--config", trial.config.string(), "--out",
                                   trial.out.string()};
  if (trial.resume) argv.emplace_back("--resume");
  return argv;
}

std::vector<std::string> local_trial_argv(const LocalLauncher& launcher, const TrialInvocation& trial) {
  if (trial.ranks == 1) return trainer_argv(launcher.trainer, trial);
  std::vector<std::string> argv = {launcher.mpiexec, "-np", std::to_string(trial.ranks), "--bind-to", "none"};
  if (trial.ranks > launcher.slots) argv.emplace_back("--oversubscribe");
  if (launcher.as_root) argv.emplace_back("--allow-run-as-root");
  for (const auto& [name, value] : trial_environment(trial)) {
    argv.emplace_back("-x");
    argv.push_back(name);
  }
  for (std::string& word : trainer_argv(launcher.trainer, trial)) argv.push_back(std::move(word));
  return argv;
}

std::vector<std::pair<std::string, std::string>> trial_environment(const TrialInvocation& trial) {
  return {{"OPENBLAS_NUM_THREADS", std::to_string(trial.threads_per_rank)}, {"OMP_NUM_THREADS", "1"}};
}

std::vector<std::string> trial_environment_removed(const TrialInvocation& trial) {
  if (trial.ranks != 1) return {};
  return {kMpiLauncherVariables.begin(), kMpiLauncherVariables.end()};
}

std::int64_t threads_per_rank(std::int64_t config_threads) { return config_threads > 0 ? config_threads : 1; }

std::int64_t physical_cores() {
  std::set<std::string> cores;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (long cpu = 0; cpu < online; ++cpu) {
    const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream package(topology + "physical_package_id");
    std::ifstream core(topology + "core_id");
    std::string package_id, core_id;
    if (!(package >> package_id) || !(core >> core_id)) return online > 0 ? online : 1;
    cores.insert(package_id + ":" + core_id);
  }
  return cores.empty() ? 1 : static_cast<std::int64_t>(cores.size());
}

}  // namespace normscale
