// Checkpoints that survive crashes and resume on any rank count dividing V (ALGORITHMS §2, DESIGN
// checkpoint/): a manifest, the model and optimizer state, and the multipliers of each virtual shard.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/core/types.hpp"
#include "normscale/objective/multiplier_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace normscale {

// Bumped whenever the layout of any checkpoint file changes; a reader accepts only its own version.
// 2: model.bin also holds layer state. 3: the manifest carries the data fingerprint and ends with a
// crc32 of itself, so a damaged step or rank count is caught (version 2 manifests are still read). 4: the manifest
// carries the gradient noise scale's averages (versions 2 and 3 are still read: a run resumed from one starts them
// afresh).
inline constexpr int kCheckpointFormatVersion = 4;

// On disk a checkpoint is the directory <run_dir>/checkpoints/step_<step, 10 digits>/ holding
//   manifest.bin          this struct (written last: a directory without it is incomplete), then
//                         the crc32 of the archive before it (4 bytes, little-endian)
//   model.bin             ModelState (parameters, velocity, layer state)
//   shard_<v, 6 digits>.bin  the multipliers of virtual shard v, one file per shard (none if per_example == 0)
// Every file is a Boost.Serialization binary archive, so it is read back on the same kind of machine
// (byte order, type sizes) with the same Boost major version; the manifest is binary too, because
// a Boost text archive is no easier to read by eye and only the code reads it.
struct CheckpointManifest {
  int format_version = kCheckpointFormatVersion;
  std::uint64_t config_hash = 0;
  // The minibatch stream is a pure function of (seed, N, Q, V, step): the step is the whole RNG state.
  std::uint64_t seed = 0;
  Index step = 0;
  double epoch = 0.0;
  int ranks = 1;  // P that wrote it; resume may use any P dividing V
  Index virtual_shards = 0;
  Index examples = 0;
  Index per_example = 0;  // multipliers per example (0: no multipliers, no shard files)
  std::string scalar;     // "float32" or "float64"
  Index parameter_count = 0;
  std::uint32_t model_checksum = 0;             // crc32 of model.bin
  std::vector<std::uint32_t> shard_checksums;  // crc32 of shard_<v>.bin, one per shard (or none)
  std::uint64_t data_fingerprint = 0;           // of the training set (0: not recorded, version 2)
  std::vector<double> noise_scale;              // GradientNoiseScale::state() (empty: none, or before version 4)
};

// The model's flat parameter buffer, the optimizer's flat velocity (empty without momentum) and the
// layers' non-parameter state (batch-norm running statistics; empty without such layers).
template <class T>
struct ModelState {
  std::vector<T> parameters;
  std::vector<T> velocity;
  std::vector<T> layer_state;
};

// What the resuming run is: load_checkpoint refuses a checkpoint written by a different one.
struct CheckpointExpectation {
  std::uint64_t config_hash = 0;
  Index virtual_shards = 0;
  Index examples = 0;
  Index per_example = 0;
  Index parameter_count = 0;
  std::uint64_t data_fingerprint = 0;  // compared with a manifest that records one
};

// "float32" / "float64": the manifest's name of the scalar type T.
template <class T>
constexpr const char* checkpoint_scalar_name() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "checkpoints hold float or double");
  return std::is_same_v<T, float> ? "float32" : "float64";
}

// Collective: every rank calls it with the same manifest fields, model and keep. The caller fills
// config_hash, seed, step, epoch, virtual_shards, examples and per_example; this fills
// format_version, ranks, scalar, parameter_count and the checksums. Rank 0 writes manifest and model
// (only rank 0's model is read); each rank writes the files of its shards [first_shard, last_shard),
// whose rows `store` holds exactly (store may be null when per_example == 0). Everything goes into
// <run_dir>/checkpoints/.tmp_step_<step>/ first and is fsynced; the checksums reach rank 0 in one
// allreduce; then rank 0 writes the manifest last, renames the directory into place (replacing a
// checkpoint of the same step), removes stale temporary directories and all but the newest `keep`
// checkpoints (keep <= 0 keeps all). A failure on any rank throws on every rank. The run directory
// must be one file system that every rank sees.
template <class T>
void write_checkpoint(const std::string& run_dir, Communicator& comm, CheckpointManifest manifest,
                      const ModelState<T>& model, const MultiplierStore* store, Index first_shard,
                      Index last_shard, int keep);

// The step of a checkpoint directory named step_<digits>, or -1 for any other name.
Index parse_step_dir_name(const std::string& name);

// Complete checkpoints (directories step_* with a manifest) under <run_dir>/checkpoints, newest
// first; empty when there are none.
std::vector<std::string> list_checkpoints(const std::string& run_dir);

// Removes every checkpoint under <run_dir>/checkpoints (directories step_<digits>, complete or not, and
// unfinished writes), then the folder if nothing else is in it: what else a user put there stays. One rank.
void remove_checkpoints(const std::string& run_dir);

// Removes what writes that never finished left under <run_dir>/checkpoints (.tmp_* directories: a
// crash or a full disk mid-write); complete checkpoints are untouched. No collective: one rank calls it.
void remove_unfinished_checkpoint_writes(const std::string& run_dir);

// Reads and checks only the manifest of `checkpoint_dir` (no collective); errors name the file.
CheckpointManifest read_checkpoint_manifest(const std::string& checkpoint_dir);

// Collective: loads `checkpoint_dir` on any number of ranks dividing V. Verifies the manifest
// against `expected` (format version, config hash, V, N, multipliers per example, parameter count,
// scalar type T) and every file it reads against its checksum, then fills `model` and `store` with
// the rows of shards [first_shard, last_shard) (the store is reshaped to exactly those rows; it may
// be null when per_example == 0). Every rank reads the manifest and model; a failure on any rank
// throws the same message, naming the file, on every rank.
template <class T>
CheckpointManifest load_checkpoint(const std::string& checkpoint_dir, Communicator& comm,
                                   const CheckpointExpectation& expected, ModelState<T>& model,
                                   MultiplierStore* store, Index first_shard, Index last_shard);

// The checkpoint a resumed run continues from, loaded on every rank.
template <class T>
struct ResumePoint {
  std::string dir;
  CheckpointManifest manifest;
  ModelState<T> model;
  // Why newer checkpoints were passed over: "checkpoint DIR is unusable (WHY); " each, WHY naming the
  // file and the rank that could not read it; empty when the newest was used.
  std::string passed_over;
};

// Collective: loads the newest checkpoint under <run_dir>/checkpoints that every rank can load, as
// load_checkpoint would (filling `store` with the rows of shards [first_shard, last_shard)); none when
// there is no checkpoint at all. The ranks first agree on the candidates: a rank that cannot list
// them, or sees other ones than the rest, ends every rank with an error saying what it sees. Then,
// newest first, every rank reads its part of a candidate, the ranks agree whether it was usable on
// every rank, and all use it or all move on to the next one together. Throws on every rank, naming
// each candidate's failure, when none is usable.
template <class T>
std::optional<ResumePoint<T>> load_newest_usable_checkpoint(const std::string& run_dir, Communicator& comm,
                                                            const CheckpointExpectation& expected,
                                                            MultiplierStore* store, Index first_shard,
                                                            Index last_shard);

}  // namespace normscale
