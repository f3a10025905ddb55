// A bound on how long a block of a test may take: a hang (ranks waiting in collectives that never
// match) becomes a prompt failure of the whole job instead of a test that runs until ctest kills it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace normscale::testing {

// Ends the process with exit code 124 (as timeout(1) does), after saying what hung, unless the object
// goes away first. Under mpiexec the death of one rank ends every rank.
class Deadline {
 public:
  Deadline(std::chrono::seconds limit, std::string what)
      : what_(std::move(what)), watchdog_([this, limit] { watch(limit); }) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    finished_.notify_all();
    watchdog_.join();
  }

 private:
  void watch(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finished_.wait_for(lock, limit, [this] { return done_; })) return;
    std::fprintf(stderr, "deadline: %s did not finish within %lld s (a hang); ending the process\n", what_.c_str(),
                 static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(124);
  }

  std::string what_;
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  std::thread watchdog_;  // last: starts once the members it reads exist
};

}  // namespace normscale::testing
