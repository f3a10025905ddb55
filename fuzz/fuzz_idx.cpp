// libFuzzer target: the IDX reader on raw file bytes (zlib's gzread also takes gzip'ed input as is).
#include "fuzz_support.hpp"
#include "read_idx_every_way.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  fuzz::read_idx_every_way(fuzz::write_input("input.idx", data, size));
  return 0;
}
