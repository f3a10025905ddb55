// Dependencies point one way (../shared/DESIGN.md, "Who may include whom"): no file of a component
// includes a component it must not know, read from the sources themselves.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;

const fs::path kRoot = fs::path(NORMSCALE_TEST_DATA_DIR).parent_path().parent_path();

// component -> the components it must never include.
const std::map<std::string, std::set<std::string>> kForbidden = {
    {"core", {"data", "model", "objective", "optim", "comm", "train", "checkpoint", "metrics", "study", "cli", "cuda"}},
    {"model", {"comm", "objective", "train", "study", "cuda"}},
    {"objective", {"comm", "train", "study", "cuda", "optim"}},
    {"data", {"model", "objective", "train", "study", "cuda"}},
    {"optim", {"train", "study", "comm", "objective", "cuda"}},
    {"comm", {"train", "study", "model", "objective"}},
    {"metrics", {"train", "study", "comm", "cuda"}},
    {"study", {"model", "objective", "cuda"}},
    {"train", {"study", "cli"}},
};

// The normscale components a file includes ("normscale/<component>/...").
std::set<std::string> included_components(const fs::path& file) {
  static const std::regex include(R"(^\s*#\s*include\s+"normscale/([a-z_]+)/)");
  std::set<std::string> components;
  std::ifstream in(file);
  std::smatch match;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, match, include)) components.insert(match[1]);
  }
  return components;
}

TEST(IncludeDirections, NoComponentIncludesOneItMustNotKnow) {
  std::size_t files = 0;
  std::string violations;
  for (const auto& [component, forbidden] : kForbidden) {
    for (const fs::path& dir : {kRoot / "include/normscale" / component, kRoot / "src" / component}) {
      if (!fs::exists(dir)) continue;
      for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        ++files;
        for (const std::string& used : included_components(entry.path())) {
          if (forbidden.count(used) > 0) {
            violations += fs::relative(entry.path(), kRoot).string() + " includes normscale/" + used + "\n";
          }
        }
      }
    }
  }
  EXPECT_GT(files, 50u) << "the sources were not found under " << kRoot;
  EXPECT_TRUE(violations.empty()) << violations;
}

}  // namespace
