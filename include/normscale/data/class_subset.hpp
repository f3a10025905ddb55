// The class subset (data.classes): which examples of a labelled file are kept, and their new labels.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/data/dataset.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace normscale {

// Examples whose label is classes[j] are kept and relabelled j, in the order of `classes`: classes = {3, 5}
// makes class 3 the negative class 0 and class 5 the positive class 1; num_classes becomes classes.size().
struct ClassSubset {
  std::vector<Index> rows;           // kept rows of the file, ascending
  std::vector<std::int32_t> labels;  // their new labels, one per kept row
  Index num_classes = 0;             // classes.size()
};

// Throws (naming data.classes) unless `classes` holds at least 2 distinct labels in [0, num_classes).
void check_class_list(const std::vector<std::int64_t>& classes, Index num_classes, const std::string& name);

// The subset of a file with labels `labels` (all of its rows) and `num_classes` classes; `name` (the file) is for
// messages. Checks the list (check_class_list); with require_every_class, also that every listed class has at
// least one example (a training file must; a test file may lack one).
ClassSubset select_classes(const std::vector<std::int64_t>& classes, const std::vector<std::int32_t>& labels,
                           Index num_classes, const std::string& name, bool require_every_class);

// select_classes applied to a whole classification set held in memory (the generated problems): its kept rows in
// order, relabelled, num_classes = classes.size(); a set of its own (first_id 0). Throws for a regression set.
Dataset keep_classes(const Dataset& data, const std::vector<std::int64_t>& classes, bool require_every_class);

}  // namespace normscale
