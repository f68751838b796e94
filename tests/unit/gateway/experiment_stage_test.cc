#include "gateway/stages/experiment_stage.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

TEST(SetSystemPrompt, ReplacesALeadingSystemMessage) {
  std::string body =
      R"({"model":"m","messages":[{"role":"system","content":"old"},{"role":"user","content":"hi"}]})";
  ASSERT_TRUE(SetSystemPrompt(body, "Be \"terse\".").ok());
  Json j = Json::parse(body);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["content"], "Be \"terse\".");
  EXPECT_EQ(j["messages"][1]["content"], "hi");
  EXPECT_EQ(j["model"], "m");
}

TEST(SetSystemPrompt, InsertsOneWhenAbsent) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2})";
  ASSERT_TRUE(SetSystemPrompt(body, "P").ok());
  Json j = Json::parse(body);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["role"], "system");
  EXPECT_EQ(j["messages"][0]["content"], "P");
  EXPECT_EQ(j["temperature"], 0.2);
}

TEST(SetSystemPrompt, RejectsBodiesWithoutMessages) {
  std::string body = R"({"model":"m","prompt":"x"})";
  const std::string before = body;
  EXPECT_EQ(SetSystemPrompt(body, "P").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(body, before);
  std::string bad = "not json";
  EXPECT_FALSE(SetSystemPrompt(bad, "P").ok());
}

}  // namespace
}  // namespace agentgate
