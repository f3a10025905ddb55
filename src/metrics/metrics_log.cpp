// JsonlWriter: stdio with an explicit flush per line; invalid UTF-8 in strings is replaced, not fatal.
#include "normscale/metrics/metrics_log.hpp"

#include "normscale/core/error.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

namespace normscale {

namespace {

// True when the file exists, is not empty and its last byte is not a newline: the previous run died
// mid-line, and the next record must not be glued onto that fragment.
bool ends_with_partial_line(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  bool partial = false;
  if (std::fseek(file, -1, SEEK_END) == 0) partial = std::fgetc(file) != '\n';
  std::fclose(file);
  return partial;
}

}  // namespace

JsonlWriter::JsonlWriter(const std::string& path, Mode mode) : path_(path) {
  const bool repair = mode == Mode::kAppend && ends_with_partial_line(path);
  file_ = std::fopen(path.c_str(), mode == Mode::kAppend ? "ab" : "wb");
  NS_CHECK(file_ != nullptr, "cannot open metrics log '{}': {}; hint: does the run directory exist?",
           path, std::strerror(errno));
  if (repair) {
    NS_CHECK(std::fputc('\n', file_) != EOF && std::fflush(file_) == 0,
             "cannot write to metrics log '{}': {}", path, std::strerror(errno));
  }
}

JsonlWriter::~JsonlWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

JsonlWriter::JsonlWriter(JsonlWriter&& other) noexcept
    : path_(std::move(other.path_)), file_(std::exchange(other.file_, nullptr)) {}

JsonlWriter& JsonlWriter::operator=(JsonlWriter&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    path_ = std::move(other.path_);
    file_ = std::exchange(other.file_, nullptr);
  }
  return *this;
}

void JsonlWriter::write(const nlohmann::json& record) {
  NS_CHECK(file_ != nullptr, "metrics log '{}' is closed", path_);
  NS_CHECK(record.is_object(), "metrics log '{}' takes JSON objects, got a {}", path_,
           record.type_name());
  // Compact dump: no newlines inside a record. NaN and infinity become null (JSON has neither).
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  const bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0;
  NS_CHECK(ok, "cannot write to metrics log '{}': {}; hint: is the disk full?", path_,
           std::strerror(errno));
}

void JsonlWriter::close() {
  if (file_ == nullptr) return;
  const int rc = std::fclose(std::exchange(file_, nullptr));
  NS_CHECK(rc == 0, "cannot close metrics log '{}': {}", path_, std::strerror(errno));
}

}  // namespace normscale
