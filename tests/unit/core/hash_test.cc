// The secret-handling helpers of core/hash.h: ConstantTimeEqual's contract
// (the admin key and client keys are checked with it, over SHA-256 digests)
// and RandomToken's shape.
#include "agentgate/core/hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace agentgate {
namespace {

TEST(ConstantTimeEqualTest, EqualOnlyForTheSameBytes) {
  const std::string a = Sha256Hex("admin key");
  EXPECT_TRUE(ConstantTimeEqual(a, a));
  EXPECT_TRUE(ConstantTimeEqual(a, std::string(a)));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  // A difference anywhere (first byte, middle, last byte) is a difference.
  for (size_t at : {size_t{0}, a.size() / 2, a.size() - 1}) {
    std::string b = a;
    b[at] = b[at] == '0' ? '1' : '0';
    EXPECT_FALSE(ConstantTimeEqual(a, b)) << at;
  }
  // Embedded NULs are compared, not treated as terminators.
  EXPECT_FALSE(ConstantTimeEqual(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(ConstantTimeEqualTest, DifferentLengthsAreNotEqual) {
  const std::string a = Sha256Hex("admin key");
  EXPECT_FALSE(ConstantTimeEqual(a, a.substr(0, a.size() - 1)));
  EXPECT_FALSE(ConstantTimeEqual(a, a + "0"));
  EXPECT_FALSE(ConstantTimeEqual(a, ""));
  EXPECT_FALSE(ConstantTimeEqual("", a));
}

TEST(RandomTokenTest, HexOfTheRequestedLengthAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = RandomToken(24);
    ASSERT_EQ(t.size(), 48u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(seen.insert(t).second);
  }
}

}  // namespace
}  // namespace agentgate
