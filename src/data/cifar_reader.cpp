// CIFAR-10 binary reader: the files are raw fixed-size records, so any record is one positioned read (pread).
#include "normscale/data/cifar_reader.hpp"

#include "normscale/core/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>

namespace normscale {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSubfolder = "cifar-10-batches-bin";
constexpr const char* kDownloadHint =
    "hint: data.path must hold the binary version of CIFAR-10 (cifar-10-binary.tar.gz, unpacked: "
    "cifar-10-batches-bin/data_batch_1.bin … data_batch_5.bin, test_batch.bin)";

// Owns a read-only file descriptor; every failure names the file.
class CifarFile {
 public:
  explicit CifarFile(const std::string& path) : path_(path), records_(read_cifar_record_count(path)) {
    errno = 0;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    NS_CHECK(fd_ >= 0, "cannot open CIFAR-10 file '{}': {}; hint: check the file's permissions", path_,
             std::strerror(errno));
  }
  CifarFile(const CifarFile&) = delete;
  CifarFile& operator=(const CifarFile&) = delete;
  ~CifarFile() { ::close(fd_); }

  Index records() const { return records_; }

  // Reads exactly n bytes at byte `offset`; the size was checked on opening, so a short read means the file
  // changed underneath us or the disk failed.
  void read_at(std::uint64_t offset, std::uint8_t* dst, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
      errno = 0;
      const ssize_t got = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      NS_CHECK(got > 0, "CIFAR-10 file '{}' cannot be read at byte {}: {}; hint: the file changed while it was read "
               "or is damaged, download it again",
               path_, offset + done, got == 0 ? "unexpected end of file" : std::strerror(errno));
      done += static_cast<std::size_t>(got);
    }
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  Index records_ = 0;
  int fd_ = -1;
};

// The labels of one file, checked: one positioned one-byte read per record, skipping the images.
void append_labels(const CifarFile& file, std::vector<std::uint8_t>& labels) {
  std::vector<std::uint8_t> label(1);
  for (Index r = 0; r < file.records(); ++r) {
    file.read_at(static_cast<std::uint64_t>(r * kCifarRecordBytes), label.data(), 1);
    NS_CHECK(label[0] < kCifarClasses,
             "CIFAR-10 file '{}': record {} has label {}; expected a label in 0..9; hint: is this CIFAR-100 (two "
             "label bytes per record) or not a CIFAR-10 batch?",
             file.path(), r, label[0]);
    labels.push_back(label[0]);
  }
}

}  // namespace

std::string find_cifar10_folder(const std::string& path) {
  std::error_code ec;
  const fs::path given = path;
  if (fs::exists(given / "data_batch_1.bin", ec)) return given.string();
  if (fs::exists(given / kSubfolder / "data_batch_1.bin", ec)) return (given / kSubfolder).string();
  NS_FAIL("CIFAR-10 file '{}' does not exist (nor '{}'); {}", (given / "data_batch_1.bin").string(),
          (given / kSubfolder / "data_batch_1.bin").string(), kDownloadHint);
}

std::vector<std::string> cifar10_train_files(const std::string& folder) {
  std::vector<std::string> files;
  for (int batch = 1; batch <= 5; ++batch) {
    files.push_back((fs::path(folder) / ("data_batch_" + std::to_string(batch) + ".bin")).string());
  }
  return files;
}

std::string cifar10_test_file(const std::string& folder) { return (fs::path(folder) / "test_batch.bin").string(); }

Index read_cifar_record_count(const std::string& path) {
  std::error_code ec;
  NS_CHECK(fs::exists(path, ec), "CIFAR-10 file '{}' does not exist; {}", path, kDownloadHint);
  NS_CHECK(fs::is_regular_file(path, ec), "CIFAR-10 file '{}' is not a regular file (a directory, a device or a pipe?)", path);
  const std::uintmax_t bytes = fs::file_size(path, ec);
  NS_CHECK(!ec, "cannot read the size of CIFAR-10 file '{}': {}", path, ec.message());
  NS_CHECK(bytes > 0, "CIFAR-10 file '{}' is empty; expected records of {} bytes (1 label byte + {} pixel bytes); "
           "hint: the file is incomplete, download it again",
           path, kCifarRecordBytes, kCifarImageBytes);
  const auto record = static_cast<std::uintmax_t>(kCifarRecordBytes);
  NS_CHECK(bytes % record == 0,
           "CIFAR-10 file '{}' is truncated: record {} has only {} of its {} bytes (the file has {} bytes, {} whole "
           "records); hint: the file is incomplete, download it again",
           path, bytes / record, bytes % record, kCifarRecordBytes, bytes, bytes / record);
  return static_cast<Index>(bytes / record);
}

std::vector<std::uint8_t> read_cifar_labels(const std::vector<std::string>& paths) {
  std::vector<std::uint8_t> labels;
  for (const std::string& path : paths) {
    const CifarFile file(path);
    labels.reserve(labels.size() + static_cast<std::size_t>(file.records()));
    append_labels(file, labels);
  }
  return labels;
}

Dataset load_cifar_rows(const std::vector<std::string>& paths, const std::vector<Index>& rows) {
  NS_CHECK(!paths.empty(), "load_cifar_rows: expected at least one CIFAR-10 file");
  // Every file is opened (and its size and labels checked) before any pixel is read.
  std::vector<std::unique_ptr<CifarFile>> files;
  std::vector<std::uint8_t> labels;
  std::vector<Index> first_record = {0};  // record number of each file's first record, then the total
  for (const std::string& path : paths) {
    files.push_back(std::make_unique<CifarFile>(path));
    append_labels(*files.back(), labels);
    first_record.push_back(first_record.back() + files.back()->records());
  }
  const Index total = first_record.back();
  for (std::size_t k = 0; k < rows.size(); ++k) {
    NS_CHECK(rows[k] >= 0 && rows[k] < total && (k == 0 || rows[k] > rows[k - 1]),
             "CIFAR-10 files '{}' …: record {} (position {} of the rows asked for) is out of order or outside "
             "[0, {}); expected strictly ascending record numbers",
             paths.front(), rows[k], k, total);
  }

  Dataset data;
  data.name = paths.front();
  data.rows = static_cast<Index>(rows.size());
  data.total_rows = data.rows;
  data.cols = kCifarImageBytes;
  data.num_classes = kCifarClasses;
  data.image = kCifarImageShape;
  data.features.resize(rows.size() * static_cast<std::size_t>(kCifarImageBytes));
  data.labels.reserve(rows.size());

  // Runs of consecutive records inside one file are read in pieces of at most kRunRecords records.
  constexpr Index kRunRecords = 1024;
  std::vector<std::uint8_t> buffer;
  std::size_t k = 0;
  std::size_t file = 0;
  while (k < rows.size()) {
    while (rows[k] >= first_record[file + 1]) ++file;
    const Index local = rows[k] - first_record[file];
    std::size_t run = 1;
    while (k + run < rows.size() && static_cast<Index>(run) < kRunRecords &&
           rows[k + run] == rows[k] + static_cast<Index>(run) && rows[k + run] < first_record[file + 1]) {
      ++run;
    }
    buffer.resize(run * static_cast<std::size_t>(kCifarRecordBytes));
    files[file]->read_at(static_cast<std::uint64_t>(local * kCifarRecordBytes), buffer.data(), buffer.size());
    for (std::size_t i = 0; i < run; ++i) {
      const std::uint8_t* record = buffer.data() + i * static_cast<std::size_t>(kCifarRecordBytes);
      data.labels.push_back(record[0]);
      std::copy(record + 1, record + kCifarRecordBytes,
                data.features.begin() + static_cast<std::ptrdiff_t>((k + i) * kCifarImageBytes));
    }
    k += run;
  }
  return data;
}

Dataset load_cifar_dataset(const std::vector<std::string>& paths) {
  Index total = 0;
  for (const std::string& path : paths) total += read_cifar_record_count(path);
  std::vector<Index> rows(static_cast<std::size_t>(total));
  std::iota(rows.begin(), rows.end(), Index{0});
  return load_cifar_rows(paths, rows);
}

}  // namespace normscale
