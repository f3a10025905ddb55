// libFuzzer target: a study file parsed (in memory) and, when its grid is small, expanded into validated trials.
#include "fuzz_support.hpp"
#include "normscale/study/study_file.hpp"

#include <algorithm>
#include <string_view>

namespace {

constexpr std::size_t kMaxTrials = 256;

// An upper bound on the trial count is below kMaxTrials: expand() validates one config per trial, and a fuzzed
// grid can ask for millions, which is slow, not wrong. Every axis anywhere counts, so the bound overestimates.
bool small_grid(const normscale::StudySpec& spec) {
  std::size_t trials = 1;
  auto times = [&](std::size_t n) {
    trials *= std::max<std::size_t>(n, 1);
    if (trials > kMaxTrials) trials = kMaxTrials + 1;  // saturate: no overflow
  };
  times(spec.regimes.size());
  times(spec.batches.size());
  times(spec.ranks.size());
  times(spec.seeds.size());
  for (const normscale::GridAxis& axis : spec.grid) times(axis.values.size());
  for (const normscale::Regime& regime : spec.regimes) {
    for (const normscale::GridAxis& axis : regime.grid) times(axis.values.size());
  }
  for (const auto& [batch, axes] : spec.grid_per_batch) {
    for (const normscale::GridAxis& axis : axes) times(axis.values.size());
  }
  if (spec.search) times(static_cast<std::size_t>(spec.search->trials));
  return trials <= kMaxTrials;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace normscale;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    const StudySpec spec = parse_study(text, "fuzz.toml");
    if (small_grid(spec)) expand(spec);
  });
  return 0;
}
