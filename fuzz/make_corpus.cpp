// Writes the fuzz targets' seed corpus (small valid files of every format) and dictionaries, and empties the
// folders a run writes to:
//   fuzz_make_corpus FUZZ_DIR SOURCE_DIR  ->  FUZZ_DIR/corpus/<target>/*, FUZZ_DIR/corpus/<target>.dict,
//                                             empty FUZZ_DIR/scratch/<target>/, FUZZ_DIR/artifacts/<target>/
// Built with the fuzz targets and run by ctest before them, so the seeds always match the formats of this build.
#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/core/error.hpp"
#include "normscale/comm/communicator.hpp"
#include "normscale/data/npy.hpp"
#include "normscale/train/config.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/presets.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace normscale;
using Bytes = std::vector<std::uint8_t>;

namespace {

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  NS_CHECK(out.good(), "cannot write seed '{}'", path.string());
}

void write_file(const fs::path& path, const Bytes& bytes) {
  write_file(path, std::string(bytes.begin(), bytes.end()));
}

void write_gzip(const fs::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  NS_CHECK(file != nullptr, "cannot write seed '{}'", path.string());
  const bool written = bytes.empty() || gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
                                            static_cast<int>(bytes.size());
  NS_CHECK(gzclose(file) == Z_OK && written, "cannot write seed '{}'", path.string());
}

void put_u32_big_endian(Bytes& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

// An IDX file of unsigned bytes: magic, the dimensions, then count * rows * cols values.
Bytes idx_file(std::uint32_t magic, const std::vector<std::uint32_t>& dims) {
  Bytes bytes;
  put_u32_big_endian(bytes, magic);
  std::size_t values = 1;
  for (std::uint32_t d : dims) {
    put_u32_big_endian(bytes, d);
    values *= d;
  }
  for (std::size_t i = 0; i < values; ++i) bytes.push_back(static_cast<std::uint8_t>((i * 37) % 10));
  return bytes;
}

void idx_seeds(const fs::path& raw_dir, const fs::path& plain_dir) {
  const Bytes images = idx_file(0x00000803, {3, 2, 3});
  const Bytes labels = idx_file(0x00000801, {5});
  const Bytes empty_images = idx_file(0x00000803, {0, 28, 28});
  write_file(raw_dir / "images.idx", images);
  write_file(raw_dir / "labels.idx", labels);
  write_gzip(raw_dir / "images.idx.gz", images);
  write_gzip(raw_dir / "labels.idx.gz", labels);
  // fuzz_idx_gzip compresses its input itself: its seeds are the plain files.
  write_file(plain_dir / "images.idx", images);
  write_file(plain_dir / "labels.idx", labels);
  write_file(plain_dir / "empty_images.idx", empty_images);
}

// A .npy file written byte by byte (format `major`.0), for what write_npy does not write: Fortran order,
// big-endian and one-byte dtypes, format 2.0.
Bytes npy_file(const std::string& dict, const Bytes& data, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes bytes{0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  for (std::size_t i = 0; i < length_bytes; ++i) bytes.push_back(static_cast<std::uint8_t>(header.size() >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

void npy_seeds(const fs::path& dir) {
  const float f32[6] = {0.f, 1.f, 2.5f, -3.f, 4.f, 5.f};
  const double f64[3] = {1.0, -2.0, 0.5};
  const std::int32_t i32[4] = {0, 1, 2, 1};
  const std::int64_t i64[4] = {3, 1, 4, 1};
  write_npy((dir / "f4_2x3.npy").string(), {2, 3}, f32);
  write_npy((dir / "f8_3.npy").string(), {3}, f64);
  write_npy((dir / "i4_4x1.npy").string(), {4, 1}, i32);
  write_npy((dir / "i8_2x2.npy").string(), {2, 2}, i64);
  write_npy((dir / "f8_scalar.npy").string(), {}, f64);
  write_file(dir / "u1_fortran_2x2.npy",
             npy_file("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", Bytes{1, 2, 3, 4}));
  write_file(dir / "b1_3.npy", npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", Bytes{1, 0, 1}));
  write_file(dir / "big_endian_i2_2.npy",
             npy_file("{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", Bytes{0, 1, 0xff, 0xfe}));
  write_file(dir / "v2_f4_1.npy",
             npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", Bytes{0, 0, 0x80, 0x3f}, 2));
}

void cifar_seeds(const fs::path& dir) {
  constexpr std::size_t kRecord = 1 + 32 * 32 * 3;
  for (std::size_t records : {1, 2}) {
    Bytes bytes;
    for (std::size_t r = 0; r < records; ++r) {
      bytes.push_back(static_cast<std::uint8_t>(r == 0 ? 3 : 9));
      for (std::size_t i = 1; i < kRecord; ++i) bytes.push_back(static_cast<std::uint8_t>((i * 7 + r) % 256));
    }
    write_file(dir / ("records_" + std::to_string(records) + ".bin"), bytes);
  }
}

// Real manifests, written by write_checkpoint itself: without multipliers and with them.
void manifest_seeds(const fs::path& dir, const fs::path& scratch) {
  LocalComm comm;
  for (Index per_example : {0, 2}) {
    const fs::path run_dir = scratch / ("run_" + std::to_string(per_example));
    fs::remove_all(run_dir);
    CheckpointManifest manifest;
    manifest.config_hash = 0x1234abcd5678ef90ULL;
    manifest.seed = 42;
    manifest.step = 7;
    manifest.epoch = 1.75;
    manifest.virtual_shards = 2;
    manifest.examples = 4;
    manifest.per_example = per_example;
    ModelState<float> model;
    model.parameters = {0.5f, -1.f, 2.f};
    if (per_example > 0) {
      const MultiplierStore store(0, 4, per_example);
      write_checkpoint(run_dir.string(), comm, manifest, model, &store, 0, 2, 1);
    } else {
      write_checkpoint<float>(run_dir.string(), comm, manifest, model, nullptr, 0, 2, 1);
    }
    const std::vector<std::string> written = list_checkpoints(run_dir.string());
    NS_CHECK(written.size() == 1, "expected one checkpoint under '{}'", run_dir.string());
    fs::copy_file(fs::path(written[0]) / "manifest.bin", dir / ("manifest_" + std::to_string(per_example) + ".bin"),
                  fs::copy_options::overwrite_existing);
    fs::remove_all(run_dir);
  }
}

// The canonical TOML of the defaults and of every preset, a document naming a preset, a nested-table form.
void config_seeds(const fs::path& dir) {
  write_file(dir / "defaults.toml", to_toml(TrainConfig{}));
  for (const auto& [name, description] : list_presets()) {
    TrainConfig config;
    apply_preset(name, config);
    write_file(dir / ("preset_" + name + ".toml"), to_toml(config));
    write_file(dir / ("uses_preset_" + name + ".toml"), "preset = \"" + name + "\"\n\"optim.lr\" = 0.05\n");
  }
  write_file(dir / "nested.toml", "[optim]\nlr = 0.1\n[model]\nhidden = [16, 8]\n[data]\ntrain_limit = 100\n");
}

// The studies shipped in launch/studies/ and two minimal ones (a grid, a grid with a search).
void study_seeds(const fs::path& dir, const fs::path& source_dir) {
  for (const fs::directory_entry& entry : fs::directory_iterator(source_dir / "launch" / "studies")) {
    if (entry.path().extension() == ".toml") {
      fs::copy_file(entry.path(), dir / entry.path().filename(), fs::copy_options::overwrite_existing);
    }
  }
  write_file(dir / "minimal.toml", "name = \"m\"\nbatch = [8, \"full\"]\nseeds = [1]\n[base]\n\"optim.lr\" = 0.1\n"
                                   "[grid]\n\"optim.momentum\" = [0.0, 0.9]\n");
  write_file(dir / "search.toml", "[grid]\n\"optim.momentum\" = [0.0, 0.9]\n[search]\nkind = \"quasi-random\"\n"
                                  "trials = 8\nseed = 3\n[search.ranges]\n"
                                  "\"optim.lr\" = { low = 1e-4, high = 1.0, scale = \"log\" }\n"
                                  "optim.weight_decay = { low = 0, high = 1e-3 }\n");
}

// libFuzzer dictionaries: every option key (quoted and bare, as TOML allows both) and the study keys.
void dictionaries(const fs::path& out) {
  std::string keys;
  for (const OptionDescriptor& option : option_table()) {
    keys += fmt::format("\"\\\"{}\\\"\"\n\"{}\"\n", option.key, option.key);
    for (std::string_view choice : option.choices) keys += fmt::format("\"\\\"{}\\\"\"\n", choice);
  }
  write_file(out / "fuzz_config.dict", keys);
  std::string study = keys;
  for (const char* key : {"name", "preset", "base", "regimes", "batch", "ranks", "seeds", "grid", "grid_per_batch",
                          "lr_scaling", "base_batch", "warmup_epochs", "full_batch_size", "epochs", "steps",
                          "target_validation_error", "full", "linear", "sqrt", "none", "search", "kind",
                          "quasi-random", "trials", "seed", "ranges", "low", "high", "scale", "log"}) {
    study += fmt::format("\"{}\"\n", key);
  }
  write_file(out / "fuzz_study.dict", study);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FUZZ_DIR SOURCE_DIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path fuzz_dir = argv[1];
    const fs::path out = fuzz_dir / "corpus";
    const fs::path source_dir = argv[2];
    const char* targets[] = {"fuzz_idx", "fuzz_idx_gzip", "fuzz_npy", "fuzz_cifar", "fuzz_checkpoint_manifest",
                             "fuzz_config", "fuzz_study"};
    for (const char* target : targets) {
      for (const fs::path& dir : {out / target, fuzz_dir / "scratch" / target}) {
        fs::remove_all(dir);
        fs::create_directories(dir);
      }
      // Artifacts are kept: a finding of an earlier run stays until someone looks at it.
      fs::create_directories(fuzz_dir / "artifacts" / target);
    }
    idx_seeds(out / "fuzz_idx", out / "fuzz_idx_gzip");
    npy_seeds(out / "fuzz_npy");
    cifar_seeds(out / "fuzz_cifar");
    manifest_seeds(out / "fuzz_checkpoint_manifest", out);
    config_seeds(out / "fuzz_config");
    study_seeds(out / "fuzz_study", source_dir);
    dictionaries(out);
  } catch (const Error& error) {
    std::fprintf(stderr, "fuzz_make_corpus: %s\n", error.what());
    return 1;
  }
  return 0;
}
