#include "gateway/response_usage.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

Usage FromChunk(std::string_view data) {
  Usage u;
  ReadChunkUsage(data, &u);
  return u;
}

TEST(ResponseUsageTest, ReadsTheUsageOfAWholeBody) {
  std::string body =
      R"({"id":"x","choices":[{"message":{"content":"the usage of words"}}],)"
      R"("usage":{"prompt_tokens":39,"completion_tokens":25,"total_tokens":64}})";
  Usage u;
  ASSERT_TRUE(ValidateAndReadUsage(body, &u));
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 39);
  EXPECT_EQ(u.completion_tokens, 25);
  EXPECT_EQ(u.total_tokens, 64);
}

TEST(ResponseUsageTest, AWholeBodyWithoutUsageIsValidButUnknown) {
  std::string body = R"({"object":"list","data":[]})";
  Usage u;
  EXPECT_TRUE(ValidateAndReadUsage(body, &u));
  EXPECT_FALSE(u.known);
}

TEST(ResponseUsageTest, InvalidJsonIsRefusedAndTheBodyKept) {
  for (std::string body : {std::string(R"({"choices": [{"message": {"role": "assist)"),
                           std::string(R"({"a": tru})"), std::string("not json"), std::string()}) {
    const std::string before = body;
    Usage u;
    EXPECT_FALSE(ValidateAndReadUsage(body, &u)) << body;
    EXPECT_EQ(body, before);
    EXPECT_FALSE(u.known);
  }
}

TEST(ResponseUsageTest, ReadsTheChunkThatCarriesUsage) {
  Usage u = FromChunk(
      R"({"choices":[],"usage": {"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})");
  EXPECT_TRUE(u.known);
  EXPECT_EQ(u.prompt_tokens, 3);
  EXPECT_EQ(u.completion_tokens, 4);
  EXPECT_EQ(u.total_tokens, 7);
  // Without total_tokens, the sum.
  u = FromChunk(R"({"usage":{"prompt_tokens":3,"completion_tokens":4}})");
  EXPECT_EQ(u.total_tokens, 7);
}

TEST(ResponseUsageTest, ChunksWithoutUsageLeaveItUnknown) {
  for (std::string_view chunk : {
           std::string_view(R"({"choices":[{"delta":{"content":"usage"}}],"usage":null})"),
           std::string_view(R"({"choices":[{"delta":{"content":"a \"usage\": {\"x\":1}"}}]})"),
           std::string_view(R"({"choices":[{"delta":{"content":"usage\" usage"}}]})"),
           std::string_view(R"(usage")"), std::string_view(R"("usage")"),
           std::string_view(R"({"usage":{"prompt_tokens":3)"), std::string_view(""),
       }) {
    EXPECT_FALSE(FromChunk(chunk).known) << chunk;
  }
}

}  // namespace
}  // namespace agentgate
