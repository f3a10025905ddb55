// flock plus the holder's name, written in place (not renamed over: the lock belongs to this inode).
#include "normscale/core/holder_lock.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace normscale {

HolderLock::HolderLock(const std::filesystem::path& file) : file_(file) {
  const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NS_CHECK(fd >= 0, "lock file {}: cannot be opened: {}; check the folder is writable", file.string(),
           std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    close(fd);
    NS_CHECK(lock_errno == EWOULDBLOCK, "{}", flock_failure(file, lock_errno));
    return;
  }
  const std::string holder = nlohmann::json{{"host", host_name()}, {"pid", getpid()}}.dump() + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size())) {
    const int write_errno = errno;
    close(fd);
    NS_FAIL("lock file {}: cannot write its holder: {}; is the disk full?", file.string(), std::strerror(write_errno));
  }
  fd_ = fd;
}

std::string flock_failure(const std::filesystem::path& file, int error) {
  const bool unsupported = error == ENOSYS || error == EOPNOTSUPP || error == ENOLCK;
  return fmt::format("lock file {}: flock failed: {}{}", file.string(), std::strerror(error),
                     unsupported ? "; its file system does not lock files (Lustre mounted without -o flock, some "
                                   "FUSE or NFS mounts), and normscale keeps a run directory or study to one process "
                                   "by a lock; hint: put it on a file system that locks (node-local disk, GPFS, NFS "
                                   "with its lock service, Lustre with -o flock)"
                                 : "");
}

HolderLock::~HolderLock() {
  if (fd_ >= 0) close(fd_);
}

std::string HolderLock::holder() const {
  // The holder writes its name just after it took the lock: one that started at the same moment as this process
  // may not have yet, so an empty file is read again for a while.
  for (int attempt = 0;; ++attempt) {
    std::ifstream file(file_);
    std::ostringstream text;
    text << file.rdbuf();
    const auto holder = nlohmann::json::parse(text.str(), nullptr, false);
    if (!holder.is_discarded() && holder.is_object()) {
      return fmt::format("host {}, pid {}", holder.value("host", std::string("?")), holder.value("pid", -1));
    }
    if (!text.str().empty() || attempt == 50) return "an unknown process";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace normscale
