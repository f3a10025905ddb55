// The message of the normscale::Error an action throws, for tests that check what an error says.
#pragma once

#include "normscale/core/error.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace normscale::testing {

// Runs `action` and returns the message of the normscale::Error it throws; a test failure (and "") when it
// throws nothing.
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected normscale::Error";
  return {};
}

// Runs `action`, expects normscale::Error, returns its message ("" when nothing was thrown, which the caller's
// checks on the message then report).
template <class Action>
std::string error_message(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

}  // namespace normscale::testing
