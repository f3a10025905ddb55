// libFuzzer target: the .npy reader (whole array, header only, and rows along the first axis).
#include "fuzz_support.hpp"
#include "normscale/data/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string path = fuzz::write_input("input.npy", data, size);
  fuzz::expect_only_errors([&] {
    const NpyArray header = read_npy_header(path);
    if (header.shape.empty() || header.shape[0] < 1) return;
    std::vector<Index> rows{0};
    if (header.shape[0] > 1) rows.push_back(header.shape[0] - 1);
    read_npy_rows(path, rows);
  });
  fuzz::expect_only_errors([&] { read_npy(path); });
  return 0;
}
