// Lists in messages name the first few items and count the rest.
#include "normscale/core/listing.hpp"

#include <gtest/gtest.h>

namespace normscale {
namespace {

TEST(Listing, NamesTheFirstItemsAndCountsTheRest) {
  const std::vector<std::string> items{"a", "b", "c"};
  EXPECT_EQ(first_and_more(items, 4), "a, b, c");
  EXPECT_EQ(first_and_more(items, 2), "a, b and 1 more");
  EXPECT_EQ(first_and_more(items, 3, 10, "; "), "a; b; c and 7 more") << "a caller kept the first 3 of 10";
  EXPECT_EQ(first_and_more({}, 3), "");
}

}  // namespace
}  // namespace normscale
