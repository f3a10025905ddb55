// libFuzzer target: read_checkpoint_manifest on the fuzzer's bytes as <dir>/manifest.bin.
#include "fuzz_support.hpp"
#include "normscale/checkpoint/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string path = fuzz::write_input("manifest.bin", data, size);
  fuzz::expect_only_errors([&] { read_checkpoint_manifest(std::filesystem::path(path).parent_path().string()); });
  return 0;
}
