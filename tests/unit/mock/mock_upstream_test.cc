// MockUpstream in process, through a Router and a recording ResponseStream
// (the way `agentgate serve --demo` embeds it), without sockets.
#include "mock/mock_upstream.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace agentgate {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

class RecordingStream final : public ResponseStream {
 public:
  net::awaitable<bool> begin(int s, std::string_view type,
                             const std::vector<std::pair<std::string, std::string>>&,
                             bool) override {
    started_ = true;
    status = s;
    content_type = std::string(type);
    co_return true;
  }
  net::awaitable<bool> write(std::string_view data) override {
    chunks.emplace_back(data);
    co_return true;
  }
  net::awaitable<bool> finish() override {
    finished = true;
    co_return true;
  }
  bool started() const override { return started_; }

  int status = 0;
  std::string content_type;
  std::vector<std::string> chunks;
  bool finished = false;

 private:
  bool started_ = false;
};

struct Exchange {
  HttpRequest req;
  HttpResponse res;
  RecordingStream stream;
};

// Send: dispatches one request through `router` on a private io_context.
std::unique_ptr<Exchange> Send(const Router& router, HttpMethod method, std::string_view path,
                               std::string body = {}) {
  auto x = std::make_unique<Exchange>();
  x->req.method = method;
  x->req.target = path;
  x->req.path = path;
  x->req.body = std::move(body);
  x->res.set_stream(&x->stream);
  net::io_context ioc;
  net::co_spawn(ioc, router.dispatch(x->req, x->res), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  ioc.run();
  return x;
}

class MockUpstreamUnitTest : public ::testing::Test {
 protected:
  MockUpstreamUnitTest() : mock_(MockUpstreamOptions{}) { mock_.register_routes(router_); }

  void SetFaults(std::string_view json) {
    auto x = Send(router_, HttpMethod::kPost, "/_mock/faults", std::string(json));
    ASSERT_EQ(x->res.status, 200) << x->res.body;
  }

  MockUpstream mock_;
  Router router_;
};

TEST_F(MockUpstreamUnitTest, ChatCompletionEchoesTheLastUserMessage) {
  auto x = Send(router_, HttpMethod::kPost, "/v1/chat/completions",
                R"({"model":"m","messages":[{"role":"user","content":"first"},
                   {"role":"assistant","content":"ok"},
                   {"role":"user","content":[{"type":"text","text":"second"}]}]})");
  ASSERT_EQ(x->res.status, 200) << x->res.body;
  Json j = Json::parse(x->res.body);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Echo: second");
  EXPECT_EQ(j["model"], "m");
  EXPECT_EQ(mock_.total_calls(), 1u);
}

TEST_F(MockUpstreamUnitTest, StreamWritesOneEventPerChunk) {
  auto x = Send(router_, HttpMethod::kPost, "/v1/chat/completions",
                R"({"model":"m","stream":true,"messages":[{"role":"user","content":"a b"}]})");
  EXPECT_EQ(x->stream.status, 200);
  EXPECT_EQ(x->stream.content_type, "text/event-stream");
  EXPECT_TRUE(x->stream.finished);
  ASSERT_EQ(x->stream.chunks.size(), 6u);  // role, "Echo: ", "a ", "b", finish, [DONE]
  for (const std::string& c : x->stream.chunks) {
    EXPECT_EQ(c.rfind("data: ", 0), 0u);
    EXPECT_EQ(c.substr(c.size() - 2), "\n\n");
  }
  EXPECT_EQ(x->stream.chunks.back(), "data: [DONE]\n\n");
}

TEST_F(MockUpstreamUnitTest, TruncatedStreamAbortsBeforeDone) {
  SetFaults(R"({"truncate_stream": true})");
  auto x = Send(router_, HttpMethod::kPost, "/v1/chat/completions",
                R"({"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d"}]})");
  EXPECT_TRUE(x->res.abort);
  EXPECT_FALSE(x->stream.finished);
  EXPECT_GE(x->stream.chunks.size(), 2u);
  for (const std::string& c : x->stream.chunks) {
    EXPECT_EQ(c.find("[DONE]"), std::string::npos);
    EXPECT_EQ(c.find(R"("finish_reason":"stop")"), std::string::npos);
  }
}

TEST_F(MockUpstreamUnitTest, FaultsApplyToV1Only) {
  SetFaults(R"({"reset_rate": 1})");
  auto reset = Send(router_, HttpMethod::kGet, "/v1/models");
  EXPECT_TRUE(reset->res.abort);
  auto stats = Send(router_, HttpMethod::kGet, "/_mock/stats");
  EXPECT_FALSE(stats->res.abort);
  Json s = Json::parse(stats->res.body);
  EXPECT_EQ(s["total"], 1);
  EXPECT_EQ(s["faults_injected"]["reset"], 1);
  EXPECT_EQ(s["faults"]["reset_rate"], 1.0);
}

TEST_F(MockUpstreamUnitTest, StopReleasesHungRequests) {
  SetFaults(R"({"hang_rate": 1})");
  mock_.stop();
  auto x = Send(router_, HttpMethod::kGet, "/v1/models");  // returns at once
  EXPECT_TRUE(x->res.abort);
}

TEST_F(MockUpstreamUnitTest, RequiredApiKey) {
  MockUpstreamOptions o;
  o.required_api_key = "sk-up";
  MockUpstream mock(o);
  Router router;
  mock.register_routes(router);
  auto denied = Send(router, HttpMethod::kGet, "/v1/models");
  EXPECT_EQ(denied->res.status, 401);
  EXPECT_EQ(Json::parse(denied->res.body)["error"]["type"], "authentication_error");
}

}  // namespace
}  // namespace agentgate
