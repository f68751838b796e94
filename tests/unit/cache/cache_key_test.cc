#include "agentgate/cache/cache_key.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

constexpr std::string_view kChat = "/v1/chat/completions";

std::string Key(std::string_view body, std::string_view tenant = "t1",
                std::string_view endpoint = kChat) {
  Result<std::string> k = ResponseCacheKey(tenant, endpoint, body);
  EXPECT_TRUE(k.ok()) << k.status().message();
  return k.ok() ? *k : std::string();
}

constexpr std::string_view kBase =
    R"({"model":"gpt-4o","temperature":0.7,"messages":[{"role":"user","content":"hi"}]})";

TEST(CacheKeyTest, IsSha256Hex) {
  std::string k = Key(kBase);
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(CacheKeyTest, ByteIdenticalRequestsGetTheSameKey) { EXPECT_EQ(Key(kBase), Key(kBase)); }

TEST(CacheKeyTest, KeyOrderAndWhitespaceDoNotMatter) {
  std::string reordered =
      "{ \"messages\" : [ {\"content\":\"hi\", \"role\":\"user\"} ],\n\t\"temperature\": 0.70,"
      " \"model\":\"gpt-4o\" }";
  EXPECT_EQ(Key(kBase), Key(reordered));
}

TEST(CacheKeyTest, IntegralFloatsEqualIntegers) {
  EXPECT_EQ(Key(R"({"model":"m","temperature":1,"messages":[]})"),
            Key(R"({"model":"m","temperature":1.0,"messages":[]})"));
  EXPECT_NE(Key(R"({"model":"m","temperature":1,"messages":[]})"),
            Key(R"({"model":"m","temperature":1.5,"messages":[]})"));
}

TEST(CacheKeyTest, UserFieldIsExcluded) {
  EXPECT_EQ(Key(kBase),
            Key(R"({"user":"alice","model":"gpt-4o","temperature":0.7,"messages":[{"role":"user","content":"hi"}]})"));
}

TEST(CacheKeyTest, AnyChangeOfModelParameterOrContentGivesAnotherKey) {
  const std::string base = Key(kBase);
  for (std::string_view other : {
           R"({"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"user","content":"hi"}]})",
           R"({"model":"gpt-4o","temperature":0.8,"messages":[{"role":"user","content":"hi"}]})",
           R"({"model":"gpt-4o","temperature":0.7,"messages":[{"role":"user","content":"hi!"}]})",
           R"({"model":"gpt-4o","temperature":0.7,"messages":[{"role":"system","content":"hi"}]})",
           R"({"model":"gpt-4o","temperature":0.7,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})",
           R"({"model":"gpt-4o","temperature":0.7,"stream":true,"messages":[{"role":"user","content":"hi"}]})",
           R"({"model":"gpt-4o","temperature":0.7,"seed":1,"messages":[{"role":"user","content":"hi"}]})",
       }) {
    EXPECT_NE(base, Key(other)) << other;
  }
}

TEST(CacheKeyTest, MessageOrderMatters) {
  EXPECT_NE(Key(R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})"),
            Key(R"({"model":"m","messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]})"));
}

TEST(CacheKeyTest, TenantAndEndpointArePartOfTheKey) {
  EXPECT_NE(Key(kBase, "t1"), Key(kBase, "t2"));
  EXPECT_NE(Key(kBase, ""), Key(kBase, "t1"));
  EXPECT_NE(Key(kBase, "t1", kChat), Key(kBase, "t1", "/v1/completions"));
}

TEST(CacheKeyTest, TenantCannotBeForgedThroughTheBody) {
  // The tenant lives outside the body in the canonical form.
  Result<std::string> c = CanonicalRequest("t1", kChat, R"({"tenant":"t2","model":"m"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, R"({"body":{"model":"m","tenant":"t2"},"endpoint":"/v1/chat/completions","tenant":"t1"})");
}

TEST(CacheKeyTest, MemoGivesTheSameKeysAsTheFunction) {
  ManualClock clock;
  CacheKeyMemo memo(100, clock);
  const std::string reordered =
      R"({"messages":[{"content":"hi","role":"user"}],"temperature":0.7,"model":"gpt-4o"})";
  for (int round = 0; round < 2; ++round) {  // computed, then remembered
    EXPECT_EQ(*memo.key("t1", kChat, kBase), Key(kBase));
    EXPECT_EQ(*memo.key("t1", kChat, reordered), Key(kBase));
    EXPECT_EQ(*memo.key("t2", kChat, kBase), Key(kBase, "t2"));
    EXPECT_EQ(*memo.key("t1", "/v1/completions", kBase), Key(kBase, "t1", "/v1/completions"));
    // The raw form is length-prefixed: moving bytes between fields changes it.
    EXPECT_EQ(*memo.key("t", "1/v1", kBase), Key(kBase, "t", "1/v1"));
    EXPECT_FALSE(memo.key("t1", kChat, "not json").ok());
  }
}

TEST(CacheKeyTest, NonObjectBodiesAreInvalidArgument) {
  for (std::string_view bad : {"", "not json", "[1,2]", "\"x\""}) {
    Result<std::string> k = ResponseCacheKey("t", kChat, bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace agentgate
