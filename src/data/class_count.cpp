// Class count of a training set and range checks of labels: one place, so every source bounds them alike.
#include "normscale/data/class_count.hpp"

#include "normscale/core/error.hpp"

#include <algorithm>

namespace normscale {

Index training_class_count(std::span<const std::int32_t> labels, Index fixed, const std::string& labels_path) {
  NS_CHECK(fixed <= kMaxClasses,
           "the class count of the training labels '{}' is {}; expected at most {} classes; hint: set "
           "data.num_classes to the data set's real class count",
           labels_path, fixed, kMaxClasses);
  if (fixed > 0) {
    check_labels_below(labels, fixed, labels_path, "training");
    return fixed;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    // Checked one by one (not by the maximum) so the message names the example.
    NS_CHECK(labels[i] >= 0 && labels[i] < kMaxClasses,
             "training labels file '{}': label {} of example {} is outside [0, {}), the class labels normscale "
             "accepts; hint: class labels are 0, 1, ..., C - 1 with C at most {}; is the file damaged?",
             labels_path, labels[i], i, kMaxClasses, kMaxClasses);
  }
  NS_CHECK(!labels.empty(), "training labels file '{}' holds no labels; expected at least one", labels_path);
  return Index{*std::max_element(labels.begin(), labels.end())} + 1;
}

void check_labels_below(std::span<const std::int32_t> labels, Index classes, const std::string& labels_path,
                        std::string_view split) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    NS_CHECK(labels[i] >= 0 && labels[i] < classes,
             "{} labels file '{}': label {} of example {} is outside [0, {}), the classes of the training set; "
             "hint: C is data.num_classes when set, else the source's class count or the largest training label + "
             "1; set data.num_classes when a class is missing from the training labels",
             split, labels_path, labels[i], i, classes);
  }
}

}  // namespace normscale
