// Reader for CIFAR-10 binary batches (data_batch_1.bin … data_batch_5.bin, test_batch.bin).
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

// One record: 1 label byte (0..9), then 3072 pixel bytes: the 32 x 32 red plane, then green, then blue
// (each plane row-major).
inline constexpr Index kCifarImageBytes = 32 * 32 * 3;
inline constexpr Index kCifarRecordBytes = 1 + kCifarImageBytes;
inline constexpr Index kCifarClasses = 10;
inline constexpr ImageShape kCifarImageShape{32, 32, 3};

// The folder holding the .bin files: `path` itself, or its "cifar-10-batches-bin" subfolder when `path` is the
// folder the archive was unpacked in (path has no data_batch_1.bin but the subfolder does). Throws (naming both
// places) when neither holds data_batch_1.bin.
std::string find_cifar10_folder(const std::string& path);

// The five training batches of a folder, in order, and its test batch (paths only; nothing is opened).
std::vector<std::string> cifar10_train_files(const std::string& folder);
std::string cifar10_test_file(const std::string& folder);

// The number of records of one file, from its size: throws (naming the file) when it is missing, empty, or its
// size is not a multiple of kCifarRecordBytes (saying which record is cut short and how many bytes it has).
Index read_cifar_record_count(const std::string& path);

// The labels of every record of `paths`, file after file: one byte read per record (a seek past each image), so
// it costs a few reads per thousand records, not the files' size. Throws, naming the file, the record's number
// within that file and the value, when a label is above 9; and as read_cifar_record_count for each file.
std::vector<std::uint8_t> read_cifar_labels(const std::vector<std::string>& paths);

// The records `rows` (strictly ascending record numbers over the files of `paths` taken in order) as a
// classification set: features are the 3072 pixel bytes as float 0..255 in the file's planar order (channel c of
// pixel (y, x) at feature c*1024 + y*32 + x), image shape 32 x 32 x 3, num_classes 10, name = the first file.
// Only those records' bytes are read (a seek to each run of consecutive records); every label of every file is
// still checked (read_cifar_labels), so all callers see a bad file alike whichever rows they read. The result
// is a set of its own (first_id 0, total_rows = rows.size()).
Dataset load_cifar_rows(const std::vector<std::string>& paths, const std::vector<Index>& rows);

// load_cifar_rows of every record of `paths`.
Dataset load_cifar_dataset(const std::vector<std::string>& paths);

}  // namespace normscale
