// Quoting for POSIX sh: the only way a value from a study file may appear in generated script text.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace normscale {

// `text` as one sh word that expands to exactly `text`: wrapped in single quotes, each ' written as
// '\'' (inside single quotes sh interprets nothing: no $, `, \, newline or ; is special).
std::string shell_quote(std::string_view text);
// Every word quoted and joined by spaces (for displaying an argument vector, or a script line).
std::string shell_join(std::span<const std::string> words);

}  // namespace normscale
