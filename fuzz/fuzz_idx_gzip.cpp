// libFuzzer target: the IDX reader through zlib's gzip path, on the fuzzer's bytes compressed before writing,
// so mutations reach the IDX parsing behind a valid gzip stream (fuzz_idx covers damaged gzip streams).
#include "fuzz_support.hpp"
#include "read_idx_every_way.hpp"

#include <zlib.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string path = fuzz::input_path("input.idx.gz").string();
  gzFile file = gzopen(path.c_str(), "wb1");
  if (file == nullptr) std::abort();
  // gzwrite of zero bytes still writes a valid (empty) gzip stream at gzclose.
  if (size > 0 && gzwrite(file, data, static_cast<unsigned>(size)) != static_cast<int>(size)) std::abort();
  if (gzclose(file) != Z_OK) std::abort();
  fuzz::read_idx_every_way(path);
  return 0;
}
