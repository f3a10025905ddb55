// How one option of the configuration is typed and where its value lives: shared by the option
// table (train/config_io) and the components that contribute rows to it (the objective registry).
#pragma once

#include "normscale/core/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace normscale {

// How an option is written in TOML and on the command line.
enum class OptionType {
  kString,       // "text"
  kInteger,      // signed 64-bit integer
  kUnsigned,     // integer in [0, 2^63 - 1] (seeds); TOML integers are signed 64-bit
  kReal,         // floating point; an integer is accepted too
  kBoolean,      // true / false
  kIntegerList,  // [800, 800] (on the command line also 800,800)
  kBatch,        // integer >= 1 or "full" (stored as kFullBatch)
};

// A pointer to the one field of the configuration an option reads and writes.
using FieldRef = std::variant<std::string*, std::int64_t*, std::uint64_t*, double*, bool*,
                              std::vector<std::int64_t>*>;

// The message of every out-of-range option. The value keeps its type (an integer is not echoed as a double).
template <class V>
void check_option_range(bool ok, std::string_view key, const V& value, std::string_view expected) {
  NS_CHECK(ok, "{} = {} is out of range; expected {}", key, value, expected);
}

}  // namespace normscale
