// Every rank must train the same configuration; when they do not, every rank stops with one message
// naming the first option that differs and both values.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/train/config.hpp"

#include <string>
#include <vector>

namespace normscale {

// Collective: returns when every rank holds the same configuration (its TOML text, as config_hash);
// otherwise throws AgreedError on every rank naming the first option whose value differs from rank 0's.
void check_same_configuration(Communicator& comm, const TrainConfig& config);

// An option whose value differs between two to_toml texts (a, b), with both values ("(not set)" where a text
// lacks it), in b's order, then those only a sets; empty when the texts hold the same options and values.
struct OptionDifference {
  std::string key, a, b;
};
std::vector<OptionDifference> differing_options(const std::string& a_toml, const std::string& b_toml);

// The first option whose value differs between two to_toml texts, as "optim.lr is 0.1 on rank 0 but
// 0.2 on rank 3"; empty when the texts hold the same options and values.
std::string first_differing_option(const std::string& root_toml, const std::string& toml, int rank);

}  // namespace normscale
