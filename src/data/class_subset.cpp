// select_classes: a pure function of the labels, so every part of a sharded load keeps the same rows.
#include "normscale/data/class_subset.hpp"

#include "normscale/core/error.hpp"

#include <fmt/ranges.h>

#include <algorithm>

namespace normscale {

void check_class_list(const std::vector<std::int64_t>& classes, Index num_classes, const std::string& name) {
  NS_CHECK(classes.size() >= 2,
           "data.classes = [{}] selects {} class{}; expected at least 2 distinct classes (or [] for all classes)",
           fmt::join(classes, ", "), classes.size(), classes.size() == 1 ? "" : "es");
  for (std::size_t j = 0; j < classes.size(); ++j) {
    NS_CHECK(classes[j] >= 0 && classes[j] < num_classes,
             "data.classes[{}] = {} is out of range: '{}' has {} classes; expected a label in [0, {}]", j,
             classes[j], name, num_classes, num_classes - 1);
    for (std::size_t i = 0; i < j; ++i) {
      NS_CHECK(classes[i] != classes[j], "data.classes = [{}] names class {} twice; expected distinct labels",
               fmt::join(classes, ", "), classes[j]);
    }
  }
}

ClassSubset select_classes(const std::vector<std::int64_t>& classes, const std::vector<std::int32_t>& labels,
                           Index num_classes, const std::string& name, bool require_every_class) {
  check_class_list(classes, num_classes, name);
  // new_label[old] = position of old in `classes`, or -1 when the class is dropped.
  std::vector<std::int32_t> new_label(static_cast<std::size_t>(num_classes), -1);
  for (std::size_t j = 0; j < classes.size(); ++j) {
    new_label[static_cast<std::size_t>(classes[j])] = static_cast<std::int32_t>(j);
  }
  ClassSubset subset;
  subset.num_classes = static_cast<Index>(classes.size());
  std::vector<Index> examples(classes.size(), 0);
  for (std::size_t r = 0; r < labels.size(); ++r) {
    const std::int32_t old = labels[r];
    NS_CHECK(old >= 0 && old < num_classes, "'{}': label {} of example {} is outside [0, {})", name, old, r,
             num_classes);
    const std::int32_t relabelled = new_label[static_cast<std::size_t>(old)];
    if (relabelled < 0) continue;
    subset.rows.push_back(static_cast<Index>(r));
    subset.labels.push_back(relabelled);
    ++examples[static_cast<std::size_t>(relabelled)];
  }
  if (require_every_class) {
    for (std::size_t j = 0; j < classes.size(); ++j) {
      NS_CHECK(examples[j] > 0,
               "data.classes[{}] = {}: '{}' has no example of class {}; expected every selected class to be present; "
               "hint: check data.classes against the data set's labels",
               j, classes[j], name, classes[j]);
    }
  }
  return subset;
}

Dataset keep_classes(const Dataset& data, const std::vector<std::int64_t>& classes, bool require_every_class) {
  NS_CHECK(data.is_classification() && data.target_cols == 0,
           "data.classes = [{}] but '{}' is a regression set (targets, no class labels); expected data.classes = [] "
           "for regression",
           fmt::join(classes, ", "), data.name);
  const ClassSubset subset = select_classes(classes, data.labels, data.num_classes, data.name, require_every_class);
  Dataset out = select_rows(data, subset.rows);
  out.labels = subset.labels;
  out.num_classes = subset.num_classes;
  return out;
}

}  // namespace normscale
