// An exclusive flock on a file that names its holder inside (host and pid, as JSON), so that a process
// refused the lock can say who holds it. Released when the holder ends, however it ends (also by
// SIGKILL). The file is never removed: unlinking a lock file others may be opening races with them.
#pragma once

#include <filesystem>
#include <string>

namespace normscale {

class HolderLock {
 public:
  // Opens (creating) `file` close-on-exec and tries to lock it without waiting; when it gets the lock it
  // writes this process's host and pid into it. Throws naming the file when it cannot be opened, locked
  // (other than being held) or written.
  explicit HolderLock(const std::filesystem::path& file);
  HolderLock(const HolderLock&) = delete;
  HolderLock& operator=(const HolderLock&) = delete;
  ~HolderLock();

  // Whether this process holds the lock; if not, holder() says who does.
  bool held() const { return fd_ >= 0; }
  // "host H, pid P" as the holder wrote it; "an unknown process" while it has not yet written it.
  std::string holder() const;

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

// The error of a flock on `file` that failed with `error` other than EWOULDBLOCK (held): names the file and, where
// the file system has no flock (ENOSYS, EOPNOTSUPP, ENOLCK: Lustre mounted without -o flock, some FUSE and NFS
// setups), says so and where a run directory or study can go instead.
std::string flock_failure(const std::filesystem::path& file, int error);

}  // namespace normscale
