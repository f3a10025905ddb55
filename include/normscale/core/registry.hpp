// Entries registered by name, for an option whose value picks one (data.source, model.type): unique
// names, kept in the order they were added, and errors that name the option and every registered name.
#pragma once

#include "normscale/core/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace normscale {

// Entry is a struct with a `std::string name`.
template <class Entry>
class Registry {
 public:
  // `option` is the key whose value names an entry ("data.source"), `noun` what an entry is ("data
  // source"); `check` (optional) rejects an incomplete entry by throwing; `add_builtins` (optional) adds
  // the built-in entries.
  Registry(std::string option, std::string noun, std::function<void(const Entry&)> check = {},
           const std::function<void(Registry&)>& add_builtins = {})
      : option_(std::move(option)), noun_(std::move(noun)), check_(std::move(check)) {
    if (add_builtins) add_builtins(*this);
  }
  // Entries are handed out by reference: the registry stays where it was made.
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Throws normscale::Error when the name is taken or the entry is incomplete.
  void add(Entry entry) {
    NS_CHECK(!entry.name.empty(), "a {} is registered without a name", noun_);
    NS_CHECK(find(entry.name) == nullptr, "{} '{}' is registered twice; hint: register it under another name",
             noun_, entry.name);
    if (check_) check_(entry);
    entries_.push_back(std::move(entry));
  }

  const Entry* find(const std::string& name) const {
    for (const Entry& entry : entries_) {
      if (entry.name == name) return &entry;
    }
    return nullptr;
  }

  // The entry of `name`, or an error naming the option and the registered names.
  const Entry& get(const std::string& name) const {
    const Entry* entry = find(name);
    NS_CHECK(entry != nullptr, "{} = \"{}\" is not a {}; expected one of {}", option_, name, noun_, quoted_names());
    return *entry;
  }

  // In the order of registration: the built-ins first.
  std::vector<std::string> names() const {
    std::vector<std::string> names;
    for (const Entry& entry : entries_) names.push_back(entry.name);
    return names;
  }

  // "a", "b", "c" (for messages).
  std::string quoted_names() const {
    std::vector<std::string> quoted;
    for (const Entry& entry : entries_) quoted.push_back(fmt::format("\"{}\"", entry.name));
    return fmt::format("{}", fmt::join(quoted, ", "));
  }

 private:
  std::string option_;
  std::string noun_;
  std::function<void(const Entry&)> check_;
  std::deque<Entry> entries_;  // a deque: entries never move once added
};

}  // namespace normscale
