// A list in a message: the items named, then how many were left out ("a, b and 3 more").
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace normscale {

// The first `limit` of `items` joined by `separator`, then " and k more" for the rest of `total` (at least
// items.size(): a caller may have kept only the first few of many).
inline std::string first_and_more(const std::vector<std::string>& items, std::size_t limit, std::size_t total = 0,
                                  std::string_view separator = ", ") {
  const std::size_t named = std::min(limit, items.size());
  std::string text =
      fmt::format("{}", fmt::join(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(named), separator));
  total = std::max(total, items.size());
  if (total > named) text += fmt::format(" and {} more", total - named);
  return text;
}

}  // namespace normscale
