// Waiting on a study database from a test: polls until the trials satisfy a condition, bounded so that a
// test fails rather than hangs.
#pragma once

#include "normscale/study/trial_store.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

namespace normscale::testing {

// True once `ready(trials)` holds for the trials of `db` (which may not exist yet); false after `seconds`.
template <class Ready>
bool wait_for_store(const std::filesystem::path& db, Ready&& ready, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(db)) {
      const TrialStore store(db);
      if (ready(store.trials())) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace normscale::testing
