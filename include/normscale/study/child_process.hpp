// Starting programs from an argument vector (fork + execvp, never a shell) and waiting for them.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace normscale {

struct ChildSpec {
  std::vector<std::string> argv;                                  // argv[0] is looked up on PATH
  std::vector<std::pair<std::string, std::string>> environment;   // set on top of this process's
  std::vector<std::string> removed;   // names of this process's variables the child does not inherit
  std::filesystem::path output;       // stdout and stderr are appended here ("": inherited)
  // Locked (flock) by the child and everything it starts, until the last of them exits: a later
  // scheduler waits on it before restarting the trial, so two runs never share a directory.
  std::filesystem::path lock_file;
};

// Starts the child in its own process group (a terminal's Ctrl-C reaches the scheduler, which stops
// the children itself). A scheduler that dies (SIGKILL, a crash) leaves its trials running: their work
// is not lost, and the next scheduler adopts them (see run_local). stdin is /dev/null, the signal mask
// and dispositions are reset. A program that
// cannot be started exits 127 with the reason in `output`.
pid_t spawn_child(const ChildSpec& spec);

// The exit code of a wait status: the code, or 128 + the signal that ended the process.
int exit_code_of(int wait_status);

// Whether `pid` (a child started here) has ended: its exit code, without blocking.
std::optional<int> poll_child(pid_t pid);
// Waits for `pid` to end and returns its exit code.
int wait_child(pid_t pid);

struct CapturedRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a short command (sbatch, squeue, sacct) to completion and captures its output. A program that
// cannot be started gives exit code 127 and the reason as output.
CapturedRun run_captured(const std::vector<std::string>& argv);

// The live processes on this host whose last command-line argument is `argument` (from /proc; none where
// there is no /proc). The scheduler finds an sbatch an earlier scheduler left running by its script this way.
// `process_table` is /proc but for tests, which give a folder laid out like it.
std::vector<pid_t> processes_with_last_argument(const std::string& argument,
                                                const std::filesystem::path& process_table = "/proc");

// Whether the lock file is free (no process holds it); waits up to `seconds` for it to become free.
bool wait_for_lock(const std::filesystem::path& lock_file, double seconds);

}  // namespace normscale
