// libFuzzer target: a TOML training config parsed into TrainConfig (in memory) and validated, as `train` does.
#include "fuzz_support.hpp"
#include "normscale/train/config_io.hpp"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    const TrainConfig config = config_from_toml(text, "fuzz.toml");
    validate(config);
    // The canonical form must parse back: to_toml is what checkpoints hash and studies store.
    config_from_toml(to_toml(config), "fuzz.toml (canonical)");
  });
  return 0;
}
