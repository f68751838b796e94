#include "gateway/proxy_request.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

Result<ProxyRequestInfo> Parse(std::string body, ProxyEndpoint e = ProxyEndpoint::kChatCompletions) {
  return ParseProxyRequest(e, body);
}

TEST(ProxyRequestTest, ExtractsModelStreamUsageAndUser) {
  auto r = Parse(R"({"model": "gpt-4o", "messages": [{"role":"user","content":"hi"}],
                    "stream": true, "stream_options": {"include_usage": true}, "user": "u1"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "gpt-4o");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->user, "u1");
}

TEST(ProxyRequestTest, RejectsWhatIsNotARequest) {
  struct Case {
    std::string body;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[1,2]", "must be a JSON object"},
      {"\"hello\"", "must be a JSON object"},
      {R"({"messages":[{"role":"user"}]})", "missing required field 'model'"},
      {R"({"model":"m"})", "missing required field 'messages'"},
      {R"({"model":5,"messages":[{}]})", "'model' must be a string"},
      {R"({"model":"","messages":[{}]})", "'model' must not be empty"},
      {R"({"model":"m","messages":"hi"})", "'messages' must be an array"},
      {R"({"model":"m","messages":[]})", "'messages' must not be empty"},
      {R"({"model":"m","messages":[1]})", "must be an object"},
      {R"({"model":"m","messages":[{}],"stream":"yes"})", "'stream' must be a boolean"},
      {R"({"model":"m","messages":[{}],"stream_options":{"include_usage":1}})", "include_usage"},
      {R"({"model":"m","messages":[{}],"user":7})", "'user' must be a string"},
      {R"({"model":"m","messages":[{}]} trailing)", "not valid JSON"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.body << " -> " << r.status().message();
  }
}

TEST(ProxyRequestTest, EndpointsRequireTheirInput) {
  EXPECT_TRUE(Parse(R"({"model":"e","input":"text"})", ProxyEndpoint::kEmbeddings).ok());
  EXPECT_TRUE(Parse(R"({"model":"e","input":["a","b"]})", ProxyEndpoint::kEmbeddings).ok());
  EXPECT_FALSE(Parse(R"({"model":"e","input":5})", ProxyEndpoint::kEmbeddings).ok());
  EXPECT_FALSE(Parse(R"({"model":"e"})", ProxyEndpoint::kEmbeddings).ok());
  EXPECT_TRUE(Parse(R"({"model":"c","prompt":"p"})", ProxyEndpoint::kCompletions).ok());
  EXPECT_FALSE(Parse(R"({"model":"c","messages":[{}]})", ProxyEndpoint::kCompletions).ok());
}

TEST(ProxyRequestTest, RewriteModelChangesOnlyTheModel) {
  std::string body = R"({"messages":[{"role":"user","content":"x"}], "model" : "gpt-4o" ,"n":1})";
  auto r = ParseProxyRequest(ProxyEndpoint::kChatCompletions, body);
  ASSERT_TRUE(r.ok());
  ProxyRequestInfo info = *r;
  RewriteModel(body, info, "gpt-4o-mini\"x");
  EXPECT_EQ(body,
            R"({"messages":[{"role":"user","content":"x"}], "model" : "gpt-4o-mini\"x" ,"n":1})");
  auto again = ParseProxyRequest(ProxyEndpoint::kChatCompletions, body);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->model, "gpt-4o-mini\"x");
}

}  // namespace
}  // namespace agentgate
