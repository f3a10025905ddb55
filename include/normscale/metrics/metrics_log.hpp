// The run directory's metrics log: one JSON object per line (JSON Lines), flushed line by line.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

namespace normscale {

// Appends records to a .jsonl file. Each line is written and flushed whole, so a crash leaves only
// complete lines; a resumed run appends to the log of the run it continues.
class JsonlWriter {
 public:
  enum class Mode { kAppend, kTruncate };

  explicit JsonlWriter(const std::string& path, Mode mode = Mode::kAppend);
  ~JsonlWriter();
  JsonlWriter(JsonlWriter&& other) noexcept;
  JsonlWriter& operator=(JsonlWriter&& other) noexcept;
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  // Writes `record` (a JSON object) as one line and flushes it to the operating system.
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }
  // Flushes and closes; later writes are errors. The destructor closes without throwing.
  void close();

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace normscale
