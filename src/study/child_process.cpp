// fork + execvp with the file descriptors, process group and signals a scheduler's child needs.
#include "normscale/study/child_process.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/holder_lock.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

extern char** environ;

namespace normscale {
namespace {

// The C arrays execvpe takes, built before fork (the child only calls async-signal-safe functions).
struct ExecArrays {
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecArrays(const std::vector<std::string>& args,
             const std::vector<std::pair<std::string, std::string>>& environment,
             const std::vector<std::string>& removed = {}) {
    NS_CHECK(!args.empty(), "starting a process: empty argument vector");
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    for (char** variable = environ; *variable != nullptr; ++variable) {
      const std::string_view entry(*variable);
      const std::string_view name = entry.substr(0, entry.find('='));
      const bool replaced = std::any_of(environment.begin(), environment.end(),
                                        [&](const auto& item) { return name == item.first; }) ||
                            std::find(removed.begin(), removed.end(), name) != removed.end();
      if (!replaced) env_strings.emplace_back(entry);
    }
    for (const auto& [name, value] : environment) env_strings.push_back(name + "=" + value);
    for (std::string& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
  }
};

void write_all(int fd, const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(fd, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<std::size_t>(n);
  }
}

// In the child, after fork: default signals (the scheduler's SignalWatch forwards some to its own thread), then
// nothing blocked, so that a signal already pending meets its default action.
void reset_signals() {
  for (const int signal : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT, kCheckpointSignal}) {
    ::signal(signal, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void exec_or_die(ExecArrays& arrays) {
  execvpe(arrays.argv[0], arrays.argv.data(), arrays.envp.data());
  write_all(STDERR_FILENO, "normscale study: cannot start ");
  write_all(STDERR_FILENO, arrays.argv[0]);
  write_all(STDERR_FILENO, ": ");
  write_all(STDERR_FILENO, std::strerror(errno));
  write_all(STDERR_FILENO, "\n");
  _exit(127);
}

}  // namespace

pid_t spawn_child(const ChildSpec& spec) {
  ExecArrays arrays(spec.argv, spec.environment, spec.removed);
  const std::string output = spec.output.string();
  const std::string lock = spec.lock_file.string();
  const pid_t pid = fork();
  NS_CHECK(pid >= 0, "starting {}: fork failed: {}", spec.argv[0], std::strerror(errno));
  if (pid > 0) {
    // Also from the parent, so the group exists before the scheduler may signal it.
    setpgid(pid, pid);
    return pid;
  }
  setpgid(0, 0);
  reset_signals();
  const int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
  if (!output.empty()) {
    const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
      write_all(STDERR_FILENO, "normscale study: cannot open the trial log\n");
      _exit(127);
    }
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
  }
  if (!lock.empty()) {
    // Not close-on-exec: mpirun and whatever it forks keep the lock until the last of them exits.
    const int fd = open(lock.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
      write_all(STDERR_FILENO, "normscale study: cannot open the trial's lock file\n");
      _exit(127);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      // Only async-signal-safe calls here: fixed texts (the scheduler's own lock has said why in full).
      write_all(STDERR_FILENO, errno == EWOULDBLOCK ? "normscale study: the trial's lock is held by another process\n"
                                                    : "normscale study: the trial's lock file cannot be locked (flock "
                                                      "failed: a file system without locks?)\n");
      _exit(127);
    }
  }
  exec_or_die(arrays);
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::optional<int> poll_child(pid_t pid) {
  int status = 0;
  const pid_t done = waitpid(pid, &status, WNOHANG);
  NS_CHECK(done >= 0 || errno == EINTR, "waiting for process {}: {}", pid, std::strerror(errno));
  if (done != pid) return std::nullopt;
  return exit_code_of(status);
}

int wait_child(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    NS_CHECK(errno == EINTR, "waiting for process {}: {}", pid, std::strerror(errno));
  }
  return exit_code_of(status);
}

CapturedRun run_captured(const std::vector<std::string>& argv) {
  ExecArrays arrays(argv, {});
  int pipe_fds[2];
  NS_CHECK(pipe2(pipe_fds, O_CLOEXEC) == 0, "running {}: pipe failed: {}", argv[0], std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    NS_FAIL("running {}: fork failed: {}", argv[0], std::strerror(errno));
  }
  if (pid == 0) {
    reset_signals();
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    exec_or_die(arrays);
  }
  close(pipe_fds[1]);
  CapturedRun run;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      run.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipe_fds[0]);
  run.exit_code = wait_child(pid);
  return run;
}

std::vector<pid_t> processes_with_last_argument(const std::string& argument,
                                                const std::filesystem::path& process_table) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(process_table, error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline;
    try {
      std::ifstream file(entry.path() / "cmdline", std::ios::binary);
      cmdline.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    } catch (const std::ios_base::failure&) {
      continue;  // it ended while being read: reading its cmdline then fails with ESRCH, which libstdc++ throws
    }
    // NUL-separated arguments, the last one NUL-terminated.
    if (cmdline.size() < argument.size() + 1 || cmdline.back() != '\0') continue;
    const std::size_t begin = cmdline.size() - 1 - argument.size();
    if ((begin == 0 || cmdline[begin - 1] == '\0') && cmdline.compare(begin, argument.size(), argument) == 0) {
      found.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return found;
}

bool wait_for_lock(const std::filesystem::path& lock_file, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    const int fd = open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    NS_CHECK(fd >= 0, "lock file {}: cannot be opened: {}", lock_file.string(), std::strerror(errno));
    const bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
    const int lock_errno = errno;
    close(fd);
    if (free) return true;
    NS_CHECK(lock_errno == EWOULDBLOCK, "{}", flock_failure(lock_file, lock_errno));
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace normscale
