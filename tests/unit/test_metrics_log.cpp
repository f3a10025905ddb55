// JsonlWriter: one flushed JSON object per line, append for resumed runs, truncate on request.
#include "normscale/metrics/metrics_log.hpp"

#include "normscale/core/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;

fs::path temp_path(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("normscale_test_metrics_log_" + name);
  fs::remove(p);
  return p;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(JsonlWriter, WritesOneCompactObjectPerLine) {
  const fs::path p = temp_path("lines.jsonl");
  {
    JsonlWriter log(p.string());
    log.write({{"step", 1}, {"loss", 0.5}});
    log.write({{"step", 2}, {"name", "a b"}, {"nested", {{"x", 1}}}});
  }
  EXPECT_EQ(read_all(p), "{\"loss\":0.5,\"step\":1}\n{\"name\":\"a b\",\"nested\":{\"x\":1},\"step\":2}\n");
}

TEST(JsonlWriter, EachLineIsOnDiskBeforeTheWriterCloses) {
  const fs::path p = temp_path("flush.jsonl");
  JsonlWriter log(p.string());
  log.write({{"step", 7}});
  // Read while the writer is still open: the flush must already have handed the line to the OS.
  EXPECT_EQ(read_all(p), "{\"step\":7}\n");
  log.write({{"step", 8}});
  EXPECT_EQ(read_lines(p).size(), 2u);
}

TEST(JsonlWriter, AppendsToAnExistingLogAndTruncatesOnRequest) {
  const fs::path p = temp_path("append.jsonl");
  { JsonlWriter(p.string()).write({{"run", 1}}); }
  { JsonlWriter(p.string(), JsonlWriter::Mode::kAppend).write({{"run", 2}}); }
  EXPECT_EQ(read_lines(p), (std::vector<std::string>{"{\"run\":1}", "{\"run\":2}"}));
  { JsonlWriter(p.string(), JsonlWriter::Mode::kTruncate).write({{"run", 3}}); }
  EXPECT_EQ(read_lines(p), (std::vector<std::string>{"{\"run\":3}"}));
}

TEST(JsonlWriter, AppendAfterACrashMidLineStartsANewLine) {
  const fs::path p = temp_path("partial.jsonl");
  { std::ofstream(p) << "{\"step\":1}\n{\"step\":2,\"lo"; }
  { JsonlWriter(p.string()).write({{"step", 3}}); }
  const auto lines = read_lines(p);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], "{\"step\":3}");
  EXPECT_TRUE(nlohmann::json::parse(lines[0]).is_object());
  EXPECT_TRUE(nlohmann::json::parse(lines[2]).is_object());
}

TEST(JsonlWriter, NonFiniteNumbersBecomeNull) {
  const fs::path p = temp_path("nan.jsonl");
  { JsonlWriter(p.string()).write({{"loss", std::nan("")}, {"norm", INFINITY}}); }
  const auto record = nlohmann::json::parse(read_lines(p).at(0));
  EXPECT_TRUE(record["loss"].is_null());
  EXPECT_TRUE(record["norm"].is_null());
}

TEST(JsonlWriter, RejectsNonObjectsAndWritesAfterClose) {
  const fs::path p = temp_path("reject.jsonl");
  JsonlWriter log(p.string());
  EXPECT_THROW(log.write(nlohmann::json::array({1, 2})), Error);
  EXPECT_THROW(log.write(3), Error);
  log.close();
  EXPECT_THROW(log.write({{"a", 1}}), Error);
  EXPECT_EQ(read_all(p), "");
}

TEST(JsonlWriter, MovedWriterKeepsWriting) {
  const fs::path p = temp_path("move.jsonl");
  JsonlWriter a(p.string());
  JsonlWriter b(std::move(a));
  b.write({{"k", 1}});
  EXPECT_EQ(read_all(p), "{\"k\":1}\n");
}

TEST(JsonlWriter, OpenErrorNamesTheFile) {
  const std::string p = (fs::temp_directory_path() / "normscale_no_such_dir" / "m.jsonl").string();
  try {
    JsonlWriter log(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace normscale
