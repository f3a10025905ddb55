// The run directory's lock (flock on run.lock with the holder written into it), its finished marker and
// its last evaluation record.
#include "normscale/train/run_directory_lock.hpp"

#include "normscale/core/atomic_file.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/host_name.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace normscale {

namespace {

// What the holder wrote into the lock file; "unknown" when it is not there yet (it writes just after
// locking) or not readable.
std::string describe_holder(const std::filesystem::path& lock) {
  std::ifstream file(lock);
  std::ostringstream text;
  text << file.rdbuf();
  const auto holder = nlohmann::json::parse(text.str(), nullptr, false);
  if (holder.is_discarded() || !holder.is_object()) return "an unknown process";
  return fmt::format("host {}, pid {}", holder.value("host", std::string("?")), holder.value("pid", -1));
}

}  // namespace

RunDirectoryLock::RunDirectoryLock(const std::filesystem::path& out) {
  std::error_code error;
  std::filesystem::create_directories(out, error);
  NS_CHECK(!error, "run directory {}: cannot be created: {}; check the path and its permissions", out.string(),
           error.message());
  const std::filesystem::path lock = out / "run.lock";
  // Close-on-exec: a trainer starts no programs, and none should inherit the lock if it ever did.
  fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  NS_CHECK(fd_ >= 0, "run directory lock {}: cannot be opened: {}; check the directory is writable", lock.string(),
           std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    close(fd_);
    fd_ = -1;
    NS_CHECK(lock_errno == EWOULDBLOCK, "run directory lock {}: flock failed: {}", lock.string(),
             std::strerror(lock_errno));
    NS_FAIL("run directory {} is in use by another training ({}, per {}); wait for it to end or stop it, or "
            "train into another --out",
            out.string(), describe_holder(lock), lock.string());
  }
  const std::string holder = nlohmann::json{{"host", host_name()}, {"pid", getpid()}}.dump() + "\n";
  // Rewritten in place (not renamed over: the lock belongs to this inode).
  if (ftruncate(fd_, 0) != 0 || pwrite(fd_, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size())) {
    const int write_errno = errno;
    close(fd_);
    fd_ = -1;
    NS_FAIL("run directory lock {}: cannot write its holder: {}; is the disk full?", lock.string(),
            std::strerror(write_errno));
  }
}

RunDirectoryLock::~RunDirectoryLock() {
  if (fd_ >= 0) close(fd_);
}

std::filesystem::path finished_marker(const std::filesystem::path& out) { return out / "finished.json"; }

void mark_run_finished(const std::filesystem::path& out) {
  write_file_atomically(finished_marker(out).string(),
                        nlohmann::json{{"finished", true}, {"host", host_name()}, {"pid", getpid()}}.dump() + "\n");
}

void clear_finished_marker(const std::filesystem::path& out) {
  std::error_code error;
  std::filesystem::remove(finished_marker(out), error);
  NS_CHECK(!error, "run directory {}: cannot remove {}: {}; check the directory is writable", out.string(),
           finished_marker(out).string(), error.message());
}

std::vector<nlohmann::json> evaluation_records(const std::filesystem::path& out) {
  std::ifstream file(out / "metrics.jsonl");
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(file, line);) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object() || record.contains("event") || !record.contains("step")) {
      continue;
    }
    records.push_back(std::move(record));
  }
  return records;
}

nlohmann::json last_evaluation_record(const std::filesystem::path& out) {
  std::vector<nlohmann::json> records = evaluation_records(out);
  return records.empty() ? nlohmann::json::object() : std::move(records.back());
}

}  // namespace normscale
