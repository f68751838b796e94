#include "agentgate/experiments/growthbook_hash.h"

#include <gtest/gtest.h>

#include <string>

namespace agentgate {
namespace {

// Reference values computed once with an independent Python implementation
// of GrowthBook's published algorithm (str.encode("utf-16-le") code units,
// FNV-1a 32-bit), not with this code.
TEST(GrowthBookHash, Fnv1aOverUtf16CodeUnits) {
  EXPECT_EQ(Fnv1a32Utf16(""), 2166136261u);
  EXPECT_EQ(Fnv1a32Utf16("a"), 3826002220u);
  EXPECT_EQ(Fnv1a32Utf16("b"), 3876335077u);
  EXPECT_EQ(Fnv1a32Utf16("hello"), 1335831723u);
  EXPECT_EQ(Fnv1a32Utf16("user-42"), 39875499u);
  EXPECT_EQ(Fnv1a32Utf16("\xC3\xA9"), 1812687940u);                  // é: one unit 0x00E9
  EXPECT_EQ(Fnv1a32Utf16("\xE6\x97\xA5\xE6\x9C\xAC"), 1610399396u);  // 日本
  EXPECT_EQ(Fnv1a32Utf16("\xF0\x9F\x98\x80"), 3409036472u);          // 😀: a surrogate pair
}

TEST(GrowthBookHash, HashV2) {
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("", "a"), 0.0216);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("", "b"), 0.9054);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("b", "a"), 0.665);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("exp1", "user-1"), 0.3993);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("exp1", "user-2"), 0.4262);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("exp1", ""), 0.6075);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("checkout", "Zo\xC3\xAB"), 0.4951);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("checkout",
                                    "\xE7\x94\xA8\xE6\x88\xB7"
                                    "123"),
                   0.7837);
  EXPECT_DOUBLE_EQ(GrowthBookHashV2("checkout",
                                    "\xF0\x9F\x98\x80"
                                    "emoji"),
                   0.6152);
}

TEST(GrowthBookHash, InvalidUtf8CountsAsReplacementCharacter) {
  EXPECT_EQ(Fnv1a32Utf16("\xFF"), Fnv1a32Utf16("\xEF\xBF\xBD"));
  EXPECT_EQ(Fnv1a32Utf16("a\xC3"), Fnv1a32Utf16("a\xEF\xBF\xBD"));
}

TEST(GrowthBookHash, BucketRanges) {
  const double w[] = {0.5, 0.5};
  auto r = GrowthBookBucketRanges(w, 1.0);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_DOUBLE_EQ(r[0].start, 0);
  EXPECT_DOUBLE_EQ(r[0].end, 0.5);
  EXPECT_DOUBLE_EQ(r[1].start, 0.5);
  EXPECT_DOUBLE_EQ(r[1].end, 1.0);
  auto half = GrowthBookBucketRanges(w, 0.5);
  EXPECT_DOUBLE_EQ(half[0].end, 0.25);
  EXPECT_DOUBLE_EQ(half[1].start, 0.5);
  EXPECT_DOUBLE_EQ(half[1].end, 0.75);
  EXPECT_EQ(GrowthBookChooseVariation(0.3, half), -1);
  EXPECT_EQ(GrowthBookChooseVariation(0.6, half), 1);
  EXPECT_EQ(GrowthBookChooseVariation(0.0, half), 0);
  EXPECT_EQ(GrowthBookChooseVariation(0.25, half), -1);  // end is exclusive
  const double w3[] = {0.2, 0.3, 0.5};
  auto r3 = GrowthBookBucketRanges(w3, 2.0);  // coverage clamped to 1
  EXPECT_EQ(GrowthBookChooseVariation(0.1999, r3), 0);
  EXPECT_EQ(GrowthBookChooseVariation(0.2, r3), 1);
  EXPECT_EQ(GrowthBookChooseVariation(0.9999, r3), 2);
}

// 100k synthetic users land within 1 % (absolute) of the configured split.
TEST(GrowthBookHash, SplitOverManyUsersMatchesWeights) {
  const double w[] = {0.2, 0.3, 0.5};
  auto ranges = GrowthBookBucketRanges(w, 1.0);
  int counts[3] = {0, 0, 0};
  constexpr int kUsers = 100000;
  for (int i = 0; i < kUsers; ++i) {
    int v = GrowthBookChooseVariation(GrowthBookHashV2("split-test", "user-" + std::to_string(i)),
                                      ranges);
    ASSERT_GE(v, 0);
    ++counts[v];
  }
  for (int v = 0; v < 3; ++v) {
    EXPECT_NEAR(static_cast<double>(counts[v]) / kUsers, w[v], 0.01) << "variant " << v;
  }
}

}  // namespace
}  // namespace agentgate
