// libFuzzer target: the IDX reader on raw file bytes (zlib's gzread also takes gzip'ed input as is).
#include "fuzz_support.hpp"
#include "normscale/data/idx_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string path = fuzz::write_input("input.idx", data, size);
  fuzz::expect_only_errors([&] { read_idx_labels(path); });
  fuzz::expect_only_errors([&] {
    const IdxImages header = read_idx_images_header(path);
    // The first and last image by position: the streaming reader seeks past the rest.
    std::vector<Index> rows{0};
    if (header.count > 1) rows.push_back(header.count - 1);
    if (header.count > 0) read_idx_image_rows(path, rows);
  });
  fuzz::expect_only_errors([&] { read_idx_images(path); });
  return 0;
}
