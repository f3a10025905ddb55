// Runs the normscale binary (alone or under mpiexec) from a test and captures its exit code and output.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace normscale::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; `command` is used as is (quote values yourself).
inline CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) result.output += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

inline CommandResult run_normscale(const std::string& arguments) {
  return run_shell(fmt::format("{} {}", NORMSCALE_BINARY, arguments));
}

// A tiny synthetic binary problem that trains in about a second: the launch tests add steps, checkpoints, ...
inline const std::string kTinyBinaryTrain =
    "train --set data.source=separable-2d --set data.synthetic_examples=200 --set 'model.hidden=[8]' "
    "--set objective.task=binary --set optim.batch=20 --set optim.lr=0.01 --set objective.s=0.1 "
    "--set objective.rho=1 --set virtual_shards=8 --set progress=false ";

// `ranks` processes of normscale with the same arguments, one BLAS thread each.
inline CommandResult run_normscale_mpi(int ranks, const std::string& arguments) {
  return run_shell(std::string(NORMSCALE_MPIEXEC) + " -x OPENBLAS_NUM_THREADS=1 -n " + std::to_string(ranks) + " " +
                   NORMSCALE_BINARY + " " + arguments);
}

}  // namespace normscale::testing
