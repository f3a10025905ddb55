// The class count of a classification data set and the checks of labels against it: the count comes from the
// training labels (or data.num_classes), is bounded, and evaluation labels must lie inside it.
#pragma once

#include "normscale/core/types.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace normscale {

// The most classes a data set may have. A label is one output unit per class, so a corrupt label such as
// 2^31 - 2 would otherwise size an output layer of billions of units; 100000 is far above any data set
// normscale trains (ImageNet-21k has about 21800) and keeps the output layer of an 800-wide MLP at 80M weights.
inline constexpr Index kMaxClasses = 100000;

// The class count of a training set: `fixed` when > 0 (data.num_classes, or the source's own count such as 10
// for CIFAR-10; every label must lie below it), else the largest label + 1. Throws, naming `labels_path`, the
// example index and the value, for a negative label, a label >= fixed, or a count above kMaxClasses.
Index training_class_count(std::span<const std::int32_t> labels, Index fixed, const std::string& labels_path);

// Throws, naming `labels_path`, the split ("test", "validation"), the example index and the value, for the
// first label outside [0, classes): evaluation labels must not enlarge the model the training set defines.
void check_labels_below(std::span<const std::int32_t> labels, Index classes, const std::string& labels_path,
                        std::string_view split);

}  // namespace normscale
