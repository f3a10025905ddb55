// Named starting points for a TrainConfig: the paper's runs (Minnorm paper, Appendix D).
#pragma once

#include "normscale/train/config.hpp"

#include <string>
#include <utility>
#include <vector>

namespace normscale {

// Sets the preset's fields of `config` (others keep their values) and records the name in
// config.preset; an unknown name throws normscale::Error listing the known ones.
void apply_preset(const std::string& name, TrainConfig& config);
// Every preset as (name, one-line description), in a fixed order.
std::vector<std::pair<std::string, std::string>> list_presets();
bool is_known_preset(const std::string& name);

}  // namespace normscale
