// Checkpoint writing and loading: Boost binary archives checked by crc32, a temporary directory
// renamed into place, and every failure agreed on by all ranks so no rank waits in a collective.
#include "normscale/checkpoint/checkpoint.hpp"

#include "normscale/comm/agreement.hpp"
#include "normscale/core/error.hpp"
#include "normscale/data/data_shard.hpp"

#include <boost/archive/archive_exception.hpp>
#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace normscale {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "normscale-checkpoint";
constexpr std::string_view kStepPrefix = "step_";
// Everything whose name starts with this is unfinished work of some write and may be removed.
constexpr std::string_view kTempPrefix = ".tmp_";
constexpr const char* kManifestFile = "manifest.bin";
constexpr const char* kModelFile = "model.bin";

std::string step_dir_name(Index step) { return fmt::format("{}{:010d}", kStepPrefix, step); }
std::string shard_file_name(Index v) { return fmt::format("shard_{:06d}.bin", v); }


std::uint32_t crc32_of(std::string_view bytes) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
  return static_cast<std::uint32_t>(crc);
}

// Writes the whole file and fsyncs it, so the data is on disk before the manifest vouches for it.
void write_file_synced(const fs::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  NS_CHECK(fd >= 0, "cannot create checkpoint file '{}': {}; hint: is the run directory writable?", path.string(),
           std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int write_errno = errno;
      ::close(fd);
      NS_FAIL("cannot write {} bytes to checkpoint file '{}': {}; hint: is the disk full?", bytes.size(),
              path.string(), std::strerror(write_errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int sync_errno = errno;
    ::close(fd);
    NS_FAIL("cannot flush checkpoint file '{}' to disk (fsync): {}", path.string(), std::strerror(sync_errno));
  }
  NS_CHECK(::close(fd) == 0, "cannot close checkpoint file '{}': {}", path.string(), std::strerror(errno));
}

// Makes a rename or a new entry in `dir` durable.
void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  NS_CHECK(fd >= 0, "cannot open directory '{}' to flush it: {}", dir.string(), std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  NS_CHECK(synced, "cannot flush directory '{}' to disk (fsync): {}", dir.string(), std::strerror(sync_errno));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  NS_CHECK(in.good(), "cannot open checkpoint file '{}': {}; hint: is the checkpoint complete and readable?",
           path.string(), std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  NS_CHECK(!in.bad(), "cannot read checkpoint file '{}': {}", path.string(), std::strerror(errno));
  return bytes;
}

void verify_checksum(const fs::path& path, std::string_view bytes, std::uint32_t expected) {
  const std::uint32_t actual = crc32_of(bytes);
  NS_CHECK(actual == expected,
           "checkpoint file '{}' fails its checksum (crc32 {:08x} over {} bytes, the manifest records {:08x}): "
           "the file is corrupt or truncated; hint: resume from an older checkpoint or start afresh",
           path.string(), actual, bytes.size(), expected);
}

template <class Save>
std::string to_archive_bytes(Save&& save) {
  std::ostringstream out(std::ios::binary);
  {
    boost::archive::binary_oarchive archive(out);
    save(archive);
  }  // the archive flushes when it goes away
  return std::move(out).str();
}

// What every Boost binary archive starts with: the signature as Boost writes a std::string (its length as a
// native std::size_t, then the characters).
std::string archive_signature_prefix() {
  const std::string_view signature = boost::archive::BOOST_ARCHIVE_SIGNATURE();
  const std::size_t length = signature.size();
  std::string prefix(reinterpret_cast<const char*>(&length), sizeof length);
  prefix += signature;
  return prefix;
}

// The bytes of `in` (over `total` bytes) not yet read.
std::size_t bytes_left(std::istream& in, std::size_t total) {
  const std::streamoff at = in.tellg();
  return at < 0 || static_cast<std::size_t>(at) > total ? 0 : total - static_cast<std::size_t>(at);
}

// Boost resizes a string or vector to the length it reads before reading the data, so one damaged length in a
// manifest of a few hundred bytes (which, unlike the other files, has no checksum) could allocate and zero
// gigabytes. Lengths are checked against the bytes left first; what is read is Boost's own layout.

// A string as Boost's binary archive writes it: its length as std::size_t, then the characters.
void load_bounded(boost::archive::binary_iarchive& ar, std::istream& in, std::size_t total, std::string& s) {
  std::size_t length = 0;
  ar.load_binary(&length, sizeof length);
  const std::size_t left = bytes_left(in, total);
  if (length > left) {
    throw std::length_error(fmt::format("a string of {} bytes with {} bytes left", length, left));
  }
  s.resize(length);
  if (length > 0) ar.load_binary(s.data(), length);
}

// A vector of numbers as boost/serialization/vector.hpp's optimized load reads one (no class information for a
// vector of a primitive type): its count, an item version only where Boost's own macro says the archive's
// library version has one, then the elements. Boost's own types and macro keep the layout Boost's.
template <class T>
void load_bounded(boost::archive::binary_iarchive& ar, std::istream& in, std::size_t total, std::vector<T>& v) {
  boost::serialization::collection_size_type count(0);
  ar >> count;
  if (BOOST_SERIALIZATION_VECTOR_VERSIONED(ar.get_library_version())) {
    unsigned int item_version = 0;
    ar >> item_version;
  }
  const std::size_t room = bytes_left(in, total) / sizeof(T);
  if (count > room) {
    throw std::length_error(fmt::format("a list of {} elements with room for {}", std::size_t(count), room));
  }
  v.resize(count);
  if (count > 0) ar >> boost::serialization::make_array<T, boost::serialization::collection_size_type>(v.data(), count);
}

// Runs `load(archive, in)` on an archive over `bytes` (`in`: the stream under it, for bytes_left); any failure
// to parse becomes an Error naming the file. Sets *consumed_all, if given, to whether `load` read every byte.
template <class Load>
void from_archive_bytes(const fs::path& path, const std::string& bytes, Load&& load, bool* consumed_all = nullptr) {
  // Boost's archive reads its signature as a string too, before any of our checks could run.
  static const std::string signature = archive_signature_prefix();
  NS_CHECK(std::string_view(bytes).starts_with(signature),
           "cannot parse checkpoint file '{}' ({} bytes): it does not start with a Boost binary archive's signature; "
           "hint: the file is damaged or was written by another program or machine",
           path.string(), bytes.size());
  try {
    std::istringstream in(bytes, std::ios::binary);
    boost::archive::binary_iarchive archive(in);
    load(archive, in);
    if (consumed_all != nullptr) *consumed_all = in.peek() == std::char_traits<char>::eof();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    NS_FAIL("cannot parse checkpoint file '{}' ({} bytes): {}; hint: the file is damaged or was written by "
            "another program or machine",
            path.string(), bytes.size(), e.what());
  }
}

constexpr std::size_t kManifestChecksumBytes = 4;
constexpr int kUncheckedManifestVersion = 2;  // the last version without a checksum of the manifest
constexpr int kNoiseScaleVersion = 4;         // the first with the noise scale's averages

// The archive, then its crc32 in 4 little-endian bytes: every field that steers a resume is covered.
std::string manifest_bytes(const CheckpointManifest& m) {
  std::string bytes = to_archive_bytes([&](boost::archive::binary_oarchive& ar) {
    const std::string magic(kMagic);
    ar << magic << m.format_version << m.config_hash << m.seed << m.step << m.epoch << m.ranks
       << m.virtual_shards << m.examples << m.per_example << m.scalar << m.parameter_count << m.model_checksum
       << m.shard_checksums << m.data_fingerprint << m.noise_scale;
  });
  const std::uint32_t crc = crc32_of(bytes);
  for (std::size_t i = 0; i < kManifestChecksumBytes; ++i) bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return bytes;
}

// True when `bytes` ends with the crc32 of what comes before it.
bool manifest_checksum_holds(std::string_view bytes) {
  if (bytes.size() <= kManifestChecksumBytes) return false;
  const std::string_view archive = bytes.substr(0, bytes.size() - kManifestChecksumBytes);
  std::uint32_t recorded = 0;
  for (std::size_t i = 0; i < kManifestChecksumBytes; ++i) {
    recorded |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[archive.size() + i])) << (8 * i);
  }
  return crc32_of(archive) == recorded;
}

// Global ids covered by shards [first, last).
ShardRange shard_span(Index examples, Index shards, Index first, Index last) {
  if (first >= last) return {0, 0};
  return {virtual_shard(examples, shards, first).begin, virtual_shard(examples, shards, last - 1).end};
}

void check_shard_range(Index first_shard, Index last_shard, Index shards) {
  NS_CHECK(first_shard >= 0 && first_shard <= last_shard && last_shard <= shards,
           "checkpoint shards [{}, {}) are not a range within the {} virtual shards; hint: rank r of p owns "
           "shards [r V/p, (r+1) V/p)",
           first_shard, last_shard, shards);
}

void check_manifest_fields(const CheckpointManifest& m) {
  NS_CHECK(m.virtual_shards >= 1 && m.examples >= 0 && m.per_example >= 0 && m.step >= 0,
           "checkpoint manifest needs virtual_shards >= 1, examples >= 0, per_example >= 0 and step >= 0 (got "
           "{}, {}, {}, {})",
           m.virtual_shards, m.examples, m.per_example, m.step);
}

// Validates this rank's part of a write before anything touches the disk.
template <class T>
void check_write_arguments(const Communicator& comm, const CheckpointManifest& m, const ModelState<T>& model,
                           const MultiplierStore* store, Index first_shard, Index last_shard) {
  check_manifest_fields(m);
  check_shard_range(first_shard, last_shard, m.virtual_shards);
  if (comm.is_root()) {
    NS_CHECK(model.velocity.empty() || model.velocity.size() == model.parameters.size(),
             "checkpoint velocity has {} values but there are {} parameters; it must be empty or as long",
             model.velocity.size(), model.parameters.size());
  }
  if (m.per_example == 0 || first_shard == last_shard) return;
  const ShardRange rows = shard_span(m.examples, m.virtual_shards, first_shard, last_shard);
  NS_CHECK(store != nullptr, "checkpoint has {} multipliers per example but rank {} passed no multiplier store",
           m.per_example, comm.rank());
  NS_CHECK(store->first_id() == rows.begin && store->count() == rows.size() && store->per_example() == m.per_example,
           "rank {}'s multiplier store holds examples [{}, {}) with {} per example, but shards [{}, {}) of {} cover "
           "examples [{}, {}) with {} per example; hint: the store must hold exactly the rank's shards",
           comm.rank(), store->first_id(), store->first_id() + store->count(), store->per_example(), first_shard,
           last_shard, m.virtual_shards, rows.begin, rows.end, m.per_example);
}

constexpr std::string_view kReplacedPrefix = ".tmp_replaced_";

// Unfinished writes and removals. A checkpoint moved aside to be replaced (rename_into_place) whose replacement never
// arrived goes back in place instead: it is complete.
void remove_stale_temporaries(const fs::path& root) {
  std::vector<fs::path> stale;
  for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
    if (entry.path().filename().string().starts_with(kTempPrefix)) stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) {
    const std::string name = path.filename().string();
    if (name.starts_with(kReplacedPrefix)) {
      const fs::path original = root / name.substr(kReplacedPrefix.size());
      std::error_code ec;
      if (!fs::exists(original, ec) && !ec) {
        fs::rename(path, original);
        continue;
      }
    }
    fs::remove_all(path);
  }
}

// Step folders in `root` without a manifest and their steps: no checkpoint (an interrupted removal of an older build,
// or one damaged by hand), so list_checkpoints passes over them.
std::vector<std::pair<Index, fs::path>> step_folders_without_manifest(const fs::path& root) {
  std::vector<std::pair<Index, fs::path>> found;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    const Index step = parse_step_dir_name(entry.path().filename().string());
    if (step >= 0 && entry.is_directory(ec) && !fs::is_regular_file(entry.path() / kManifestFile, ec)) {
      found.emplace_back(step, entry.path());
    }
  }
  return found;
}

// Removes a checkpoint as one step for every reader: renamed under the temporary prefix first, so that a kill during
// the removal leaves an unfinished removal, not a step folder without its manifest that nothing would remove.
void remove_checkpoint_dir(const fs::path& dir) {
  const fs::path doomed = dir.parent_path() / (std::string(kTempPrefix) + "removed_" + dir.filename().string());
  fs::remove_all(doomed);
  fs::rename(dir, doomed);
  fs::remove_all(doomed);
}

// Moves `temp` onto `target`, replacing a checkpoint of the same step if there is one.
void rename_into_place(const fs::path& root, const fs::path& temp, const fs::path& target) {
  if (fs::exists(target)) {
    const fs::path replaced = root / (std::string(kReplacedPrefix) + target.filename().string());
    fs::remove_all(replaced);
    fs::rename(target, replaced);
    fs::rename(temp, target);
    fs::remove_all(replaced);
  } else {
    fs::rename(temp, target);
  }
}

// Keeps the checkpoint just written and the newest keep - 1 others. Step folders older than it without a manifest
// (left by an older build's interrupted removal, or damaged) go too.
void prune_checkpoints(const std::string& run_dir, const fs::path& written, int keep) {
  if (keep <= 0) return;
  int kept = 1;
  for (const std::string& dir : list_checkpoints(run_dir)) {
    if (fs::path(dir) == written) continue;
    if (kept < keep) {
      ++kept;
    } else {
      remove_checkpoint_dir(dir);
    }
  }
  const Index written_step = parse_step_dir_name(written.filename().string());
  for (const auto& [step, dir] : step_folders_without_manifest(written.parent_path())) {
    if (step < written_step) remove_checkpoint_dir(dir);
  }
}

void check_against_expectation(const fs::path& dir, const CheckpointManifest& m,
                               const CheckpointExpectation& expected, const char* scalar) {
  NS_CHECK(m.config_hash == expected.config_hash,
           "checkpoint '{}' was written with config hash {:016x}, but the current configuration hashes to "
           "{:016x}: the configuration changed since the checkpoint was written; hint: resume with the "
           "configuration saved in the run directory, or start a new run directory",
           dir.string(), m.config_hash, expected.config_hash);
  NS_CHECK(m.virtual_shards == expected.virtual_shards && m.examples == expected.examples,
           "checkpoint '{}' holds {} examples in {} virtual shards, but this run has {} examples in {}; hint: "
           "resume on the same data with the same shards (any rank count dividing V)",
           dir.string(), m.examples, m.virtual_shards, expected.examples, expected.virtual_shards);
  NS_CHECK(m.per_example == expected.per_example,
           "checkpoint '{}' holds {} multipliers per example, but this run needs {}", dir.string(), m.per_example,
           expected.per_example);
  NS_CHECK(m.data_fingerprint == 0 || expected.data_fingerprint == 0 || m.data_fingerprint == expected.data_fingerprint,
           "checkpoint '{}' was written on training data with fingerprint {:016x}, but this run's training data has "
           "fingerprint {:016x}: the data files changed since; hint: resume on the data the run started with",
           dir.string(), m.data_fingerprint, expected.data_fingerprint);
  NS_CHECK(m.scalar == scalar && m.parameter_count == expected.parameter_count,
           "checkpoint '{}' holds {} {} parameters, but this run's model has {} {} parameters", dir.string(),
           m.parameter_count, m.scalar, expected.parameter_count, scalar);
}

template <class T>
ModelState<T> read_model(const fs::path& dir, const CheckpointManifest& m) {
  const fs::path path = dir / kModelFile;
  const std::string bytes = read_file(path);
  verify_checksum(path, bytes, m.model_checksum);
  ModelState<T> model;
  std::string scalar;
  from_archive_bytes(path, bytes, [&](boost::archive::binary_iarchive& ar, std::istream&) {
    ar >> scalar >> model.parameters >> model.velocity >> model.layer_state;
  });
  NS_CHECK(scalar == m.scalar && static_cast<Index>(model.parameters.size()) == m.parameter_count &&
               (model.velocity.empty() || model.velocity.size() == model.parameters.size()),
           "checkpoint file '{}' holds {} {} parameters and {} velocities, but its manifest says {} {} parameters",
           path.string(), model.parameters.size(), scalar, model.velocity.size(), m.parameter_count, m.scalar);
  return model;
}

// Reads shard v's file into the rows of `store` (which covers the shard).
void read_shard(const fs::path& dir, const CheckpointManifest& m, Index v, MultiplierStore& store) {
  const fs::path path = dir / shard_file_name(v);
  const std::string bytes = read_file(path);
  verify_checksum(path, bytes, m.shard_checksums[static_cast<std::size_t>(v)]);
  const ShardRange rows = virtual_shard(m.examples, m.virtual_shards, v);
  Index shard = -1, shards = -1, begin = -1, end = -1, per_example = -1;
  std::vector<double> values;
  from_archive_bytes(path, bytes, [&](boost::archive::binary_iarchive& ar, std::istream&) {
    ar >> shard >> shards >> begin >> end >> per_example >> values;
  });
  NS_CHECK(shard == v && shards == m.virtual_shards && begin == rows.begin && end == rows.end &&
               per_example == m.per_example && static_cast<Index>(values.size()) == rows.size() * per_example,
           "checkpoint file '{}' holds shard {} of {} (examples [{}, {}), {} values) but should hold shard {} of {} "
           "(examples [{}, {}), {} values)",
           path.string(), shard, shards, begin, end, values.size(), v, m.virtual_shards, rows.begin, rows.end,
           rows.size() * m.per_example);
  if (rows.size() > 0) std::copy(values.begin(), values.end(), store.row(rows.begin));
}

// What one rank read of a checkpoint, before the ranks agree that every rank could read its part.
template <class T>
struct CheckpointPart {
  CheckpointManifest manifest;
  ModelState<T> model;
  MultiplierStore store;  // the rows of the rank's shards (empty when per_example == 0)

  // Hands the part to the caller once every rank has read its own.
  CheckpointManifest commit(ModelState<T>& model_out, MultiplierStore* store_out) {
    model_out = std::move(model);
    if (manifest.per_example > 0) {
      // The caller's store says which leading values are multipliers and where the averaged ones start (its row
      // layout, which the objective set); the checkpoint keeps whole rows.
      const bool same_rows = store_out->per_example() == manifest.per_example;
      const Index multipliers = same_rows ? store_out->multipliers_per_example() : 0;
      const Index average = same_rows ? store_out->average_column() : -1;
      *store_out = MultiplierStore(store.first_id(), store.count(), store.per_example(), multipliers);
      store_out->set_average_column(average);
      store_out->values() = std::move(store.values());
    }
    return manifest;
  }
};

// This rank's part of loading `checkpoint_dir`, no collective: the manifest checked against
// `expected`, the model, and the multipliers of shards [first_shard, last_shard). Errors name the file.
template <class T>
CheckpointPart<T> read_checkpoint_part(const std::string& checkpoint_dir, const CheckpointExpectation& expected,
                                       const MultiplierStore* store, Index first_shard, Index last_shard, int rank) {
  const fs::path dir(checkpoint_dir);
  CheckpointPart<T> part;
  part.manifest = read_checkpoint_manifest(checkpoint_dir);
  const CheckpointManifest& manifest = part.manifest;
  check_against_expectation(dir, manifest, expected, checkpoint_scalar_name<T>());
  check_shard_range(first_shard, last_shard, manifest.virtual_shards);
  NS_CHECK(manifest.per_example == 0 || store != nullptr,
           "checkpoint '{}' holds {} multipliers per example but rank {} passed no multiplier store", checkpoint_dir,
           manifest.per_example, rank);
  part.model = read_model<T>(dir, manifest);
  if (manifest.per_example == 0) return part;
  const ShardRange rows = shard_span(manifest.examples, manifest.virtual_shards, first_shard, last_shard);
  part.store = MultiplierStore(rows.begin, rows.size(), manifest.per_example);
  for (Index v = first_shard; v < last_shard; ++v) read_shard(dir, manifest, v, part.store);
  return part;
}

// Collective: the complete checkpoints, newest first, as every rank sees them. A rank that cannot list
// them, or sees other ones than the rest, ends every rank with an error naming what it sees.
std::vector<std::string> agreed_checkpoints(const std::string& run_dir, Communicator& comm) {
  std::vector<std::string> dirs;
  throw_if_any_rank_failed(comm, error_of([&] { dirs = list_checkpoints(run_dir); }));
  std::string names;
  for (const std::string& dir : dirs) names += (names.empty() ? "" : ", ") + fs::path(dir).filename().string();
  const std::uint64_t fingerprint = (static_cast<std::uint64_t>(dirs.size()) << 32) | crc32_of(names);
  if (same_on_all_ranks(comm, fingerprint)) return dirs;
  throw AgreedError(fmt::format(
      "ranks disagree on the checkpoints in {}/checkpoints: rank {} of {} sees {}; hint: the run directory must be "
      "one file system that every rank sees, and nothing else may write checkpoints into it while the run resumes",
      run_dir, comm.rank(), comm.size(), names.empty() ? std::string("none") : "[" + names + "]"));
}

}  // namespace

Index parse_step_dir_name(const std::string& name) {
  if (name.size() <= kStepPrefix.size() || name.compare(0, kStepPrefix.size(), kStepPrefix) != 0) return -1;
  const std::string digits = name.substr(kStepPrefix.size());
  if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoll(digits);
}

std::vector<std::string> list_checkpoints(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return {};
  std::vector<std::pair<Index, std::string>> found;
  fs::directory_iterator entries(root, ec);
  NS_CHECK(!ec, "cannot list checkpoints in '{}': {}", root.string(), ec.message());
  for (const fs::directory_entry& entry : entries) {
    const Index step = parse_step_dir_name(entry.path().filename().string());
    if (step < 0 || !entry.is_directory(ec)) continue;
    if (!fs::is_regular_file(entry.path() / kManifestFile, ec)) continue;  // incomplete: a crash mid-write
    found.emplace_back(step, entry.path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> dirs;
  dirs.reserve(found.size());
  for (auto& [step, dir] : found) dirs.push_back(std::move(dir));
  return dirs;
}

void remove_checkpoints(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  remove_stale_temporaries(root);
  std::vector<fs::path> checkpoints;
  fs::directory_iterator entries(root, ec);
  NS_CHECK(!ec, "cannot list checkpoints in '{}': {}", root.string(), ec.message());
  for (const fs::directory_entry& entry : entries) {
    if (parse_step_dir_name(entry.path().filename().string()) >= 0 && entry.is_directory(ec)) {
      checkpoints.push_back(entry.path());
    }
  }
  for (const fs::path& dir : checkpoints) {
    fs::remove_all(dir, ec);
    NS_CHECK(!ec, "cannot remove the earlier run's checkpoint '{}': {}", dir.string(), ec.message());
  }
  fs::remove(root, ec);  // only where empty: a folder that holds anything else fails to go, and stays
}

void remove_unfinished_checkpoint_writes(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (fs::is_directory(root, ec)) remove_stale_temporaries(root);
}

CheckpointManifest read_checkpoint_manifest(const std::string& checkpoint_dir) {
  const fs::path path = fs::path(checkpoint_dir) / kManifestFile;
  const std::string bytes = read_file(path);
  const bool checked = manifest_checksum_holds(bytes);
  CheckpointManifest m;
  bool whole_file_read = false;
  from_archive_bytes(path, bytes, [&](boost::archive::binary_iarchive& ar, std::istream& in) {
    std::string magic;
    load_bounded(ar, in, bytes.size(), magic);
    NS_CHECK(magic == kMagic, "'{}' is not a normscale checkpoint manifest", path.string());
    ar >> m.format_version;
    NS_CHECK(m.format_version >= kUncheckedManifestVersion && m.format_version <= kCheckpointFormatVersion,
             "checkpoint manifest '{}' has format version {}, but this build reads versions {} to {}; hint: resume "
             "with the normscale version that wrote it",
             path.string(), m.format_version, kUncheckedManifestVersion, kCheckpointFormatVersion);
    ar >> m.config_hash >> m.seed >> m.step >> m.epoch >> m.ranks >> m.virtual_shards >> m.examples >>
        m.per_example;
    load_bounded(ar, in, bytes.size(), m.scalar);
    ar >> m.parameter_count >> m.model_checksum;
    load_bounded(ar, in, bytes.size(), m.shard_checksums);
    if (m.format_version == kUncheckedManifestVersion) return;
    ar >> m.data_fingerprint;
    if (m.format_version >= kNoiseScaleVersion) load_bounded(ar, in, bytes.size(), m.noise_scale);
  }, &whole_file_read);
  // A version 2 manifest has no checksum, and is accepted only when it is exactly one archive: a newer
  // manifest whose version field was damaged to read 2 has bytes left over.
  NS_CHECK(m.format_version == kUncheckedManifestVersion ? whole_file_read : checked,
           "checkpoint manifest '{}' fails its checksum ({} bytes): the file is damaged or truncated; hint: resume "
           "falls back to an older checkpoint",
           path.string(), bytes.size());
  NS_CHECK(m.virtual_shards >= 1 && m.per_example >= 0 &&
               m.shard_checksums.size() == static_cast<std::size_t>(m.per_example > 0 ? m.virtual_shards : 0),
           "checkpoint manifest '{}' is inconsistent: {} virtual shards, {} multipliers per example, {} shard "
           "checksums",
           path.string(), m.virtual_shards, m.per_example, m.shard_checksums.size());
  return m;
}

template <class T>
void write_checkpoint(const std::string& run_dir, Communicator& comm, CheckpointManifest manifest,
                      const ModelState<T>& model, const MultiplierStore* store, Index first_shard,
                      Index last_shard, int keep) {
  manifest.format_version = kCheckpointFormatVersion;
  manifest.ranks = comm.size();
  manifest.scalar = checkpoint_scalar_name<T>();
  manifest.parameter_count = static_cast<Index>(model.parameters.size());
  const fs::path root = fs::path(run_dir) / "checkpoints";
  const std::string name = step_dir_name(manifest.step);
  const fs::path temp = root / (std::string(kTempPrefix) + name);

  // 1. Every rank checks its arguments; rank 0 clears what an earlier crash left and makes the
  //    temporary directory the others write into.
  throw_if_any_rank_failed(comm, error_of([&] {
    check_write_arguments(comm, manifest, model, store, first_shard, last_shard);
    if (!comm.is_root()) return;
    fs::create_directories(root);
    remove_stale_temporaries(root);
    fs::create_directory(temp);
  }));

  // 2. Each rank writes its shards, rank 0 the model. One allreduce (sum) carries, per rank, a failure
  //    flag; the model's checksum; per shard, its checksum and how many ranks wrote it.
  const std::size_t p = static_cast<std::size_t>(comm.size());
  const std::size_t shard_files = manifest.per_example > 0 ? static_cast<std::size_t>(manifest.virtual_shards) : 0;
  std::vector<double> reduced(p + 1 + 2 * shard_files, 0.0);
  const std::size_t model_slot = p;
  const std::size_t crc_slot = p + 1;
  const std::size_t writers_slot = p + 1 + shard_files;
  const std::string local_error = error_of([&] {
    if (comm.is_root()) {
      const std::string bytes = to_archive_bytes([&](boost::archive::binary_oarchive& ar) {
        const std::string scalar = manifest.scalar;
        ar << scalar << model.parameters << model.velocity << model.layer_state;
      });
      write_file_synced(temp / kModelFile, bytes);
      reduced[model_slot] = crc32_of(bytes);
    }
    if (shard_files == 0) return;
    for (Index v = first_shard; v < last_shard; ++v) {
      const ShardRange rows = virtual_shard(manifest.examples, manifest.virtual_shards, v);
      const std::size_t offset = static_cast<std::size_t>((rows.begin - store->first_id()) * manifest.per_example);
      const std::size_t count = static_cast<std::size_t>(rows.size() * manifest.per_example);
      const std::vector<double> values(store->values().begin() + static_cast<std::ptrdiff_t>(offset),
                                       store->values().begin() + static_cast<std::ptrdiff_t>(offset + count));
      const std::string bytes = to_archive_bytes([&](boost::archive::binary_oarchive& ar) {
        ar << v << manifest.virtual_shards << rows.begin << rows.end << manifest.per_example << values;
      });
      write_file_synced(temp / shard_file_name(v), bytes);
      reduced[crc_slot + static_cast<std::size_t>(v)] = crc32_of(bytes);
      reduced[writers_slot + static_cast<std::size_t>(v)] = 1.0;
    }
  });
  reduced[static_cast<std::size_t>(comm.rank())] = local_error.empty() ? 0.0 : 1.0;
  comm.allreduce_sum(std::span<double>(reduced));
  if (const auto failure = first_failure(comm, std::span<const double>(reduced.data(), p), local_error)) {
    throw AgreedError(failure->message);
  }

  // 3. Every file is on disk (each rank fsynced before the allreduce returned): rank 0 writes the
  //    manifest last and renames the directory into place.
  throw_if_any_rank_failed(comm, error_of([&] {
    for (std::size_t v = 0; v < shard_files; ++v) {
      NS_CHECK(reduced[writers_slot + v] == 1.0,
               "virtual shard {} of a checkpoint was written by {} ranks instead of one; hint: rank r of p must pass "
               "shards [r V/p, (r+1) V/p)",
               v, reduced[writers_slot + v]);
    }
    if (!comm.is_root()) return;
    manifest.model_checksum = static_cast<std::uint32_t>(reduced[model_slot]);
    manifest.shard_checksums.resize(shard_files);
    for (std::size_t v = 0; v < shard_files; ++v) {
      manifest.shard_checksums[v] = static_cast<std::uint32_t>(reduced[crc_slot + v]);
    }
    write_file_synced(temp / kManifestFile, manifest_bytes(manifest));
    fsync_directory(temp);
    const fs::path target = root / name;
    rename_into_place(root, temp, target);
    fsync_directory(root);
    prune_checkpoints(run_dir, target, keep);
  }));
}

template <class T>
CheckpointManifest load_checkpoint(const std::string& checkpoint_dir, Communicator& comm,
                                   const CheckpointExpectation& expected, ModelState<T>& model,
                                   MultiplierStore* store, Index first_shard, Index last_shard) {
  CheckpointPart<T> part;
  throw_if_any_rank_failed(comm, error_of([&] {
    part = read_checkpoint_part<T>(checkpoint_dir, expected, store, first_shard, last_shard, comm.rank());
  }));
  return part.commit(model, store);
}

template <class T>
std::optional<ResumePoint<T>> load_newest_usable_checkpoint(const std::string& run_dir, Communicator& comm,
                                                            const CheckpointExpectation& expected,
                                                            MultiplierStore* store, Index first_shard,
                                                            Index last_shard) {
  const std::vector<std::string> candidates = agreed_checkpoints(run_dir, comm);
  std::string passed_over;
  for (const std::string& dir : candidates) {
    CheckpointPart<T> part;
    // "Usable here" on every rank, agreed before anyone uses it or moves on: all ranks take the same branch.
    const std::optional<RankFailure> failure = agree_on_failure(comm, error_of([&] {
      part = read_checkpoint_part<T>(dir, expected, store, first_shard, last_shard, comm.rank());
    }));
    if (failure) {
      passed_over += fmt::format("checkpoint {} is unusable ({}); ", dir, failure->message);
      continue;
    }
    ResumePoint<T> point;
    point.dir = dir;
    point.manifest = part.commit(point.model, store);
    // Newer step folders without a manifest are no checkpoint to list, but passing them over silently hid a
    // damaged one (its manifest lost).
    if (comm.is_root()) {
      std::string incomplete;
      for (const auto& [step, folder] : step_folders_without_manifest(fs::path(run_dir) / "checkpoints")) {
        if (step > point.manifest.step) incomplete += fmt::format("{} has no {}; ", folder.string(), kManifestFile);
      }
      passed_over = incomplete + passed_over;
    }
    point.passed_over = std::move(passed_over);
    return point;
  }
  if (candidates.empty()) return std::nullopt;
  throw AgreedError(fmt::format("resume: no usable checkpoint in {}/checkpoints: {}", run_dir, passed_over));
}

template void write_checkpoint<float>(const std::string&, Communicator&, CheckpointManifest, const ModelState<float>&,
                                      const MultiplierStore*, Index, Index, int);
template void write_checkpoint<double>(const std::string&, Communicator&, CheckpointManifest,
                                       const ModelState<double>&, const MultiplierStore*, Index, Index, int);
template CheckpointManifest load_checkpoint<float>(const std::string&, Communicator&, const CheckpointExpectation&,
                                                   ModelState<float>&, MultiplierStore*, Index, Index);
template CheckpointManifest load_checkpoint<double>(const std::string&, Communicator&, const CheckpointExpectation&,
                                                    ModelState<double>&, MultiplierStore*, Index, Index);
template std::optional<ResumePoint<float>> load_newest_usable_checkpoint<float>(const std::string&, Communicator&,
                                                                                const CheckpointExpectation&,
                                                                                MultiplierStore*, Index, Index);
template std::optional<ResumePoint<double>> load_newest_usable_checkpoint<double>(const std::string&, Communicator&,
                                                                                  const CheckpointExpectation&,
                                                                                  MultiplierStore*, Index, Index);

}  // namespace normscale
