// libFuzzer target: the CIFAR-10 binary batch reader (record count, labels, chosen records, whole file).
#include "fuzz_support.hpp"
#include "normscale/data/cifar_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string path = fuzz::write_input("data_batch_1.bin", data, size);
  fuzz::expect_only_errors([&] {
    const Index records = read_cifar_record_count(path);
    read_cifar_labels({path});
    std::vector<Index> rows{0};
    if (records > 1) rows.push_back(records - 1);
    if (records > 0) load_cifar_rows({path}, rows);
  });
  // Twice the same file as two batches: record numbers run on across files.
  fuzz::expect_only_errors([&] { load_cifar_dataset({path, path}); });
  return 0;
}
