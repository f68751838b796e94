// The agentgate-mock executable over loopback: OpenAI routes, faults, stats,
// and its process behaviour (port 0, SIGTERM).
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "integration/support/child_process.h"
#include "integration/support/http_client.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kReadyPrefix = "agentgate-mock listening on ";

struct StartedMock {
  std::unique_ptr<ChildProcess> process;
  uint16_t port = 0;
};

StartedMock StartMock(std::vector<std::string> extra_args = {}) {
  StartedMock m;
  std::vector<std::string> args = {"--port", "0", "--seed", "7", "--threads", "2"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::string error;
  m.process = ChildProcess::Spawn(AGENTGATE_MOCK_BINARY, args, {}, &error);
  EXPECT_TRUE(m.process) << error;
  if (!m.process) return m;
  std::optional<std::string> line = m.process->wait_for_line(kReadyPrefix, 20s);
  EXPECT_TRUE(line) << "no ready line; output: " << m.process->output();
  if (line) m.port = PortFromLine(*line);
  EXPECT_NE(m.port, 0);
  return m;
}

std::string ChatBody(std::string_view text, bool stream = false, bool usage = false) {
  Json j = {{"model", "gpt-4o-mini"},
            {"messages", Json::array({{{"role", "system"}, {"content", "You are terse."}},
                                      {{"role", "user"}, {"content", text}}})}};
  if (stream) j["stream"] = true;
  if (usage) j["stream_options"] = {{"include_usage", true}};
  return j.dump();
}

class MockUpstreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { mock_ = new StartedMock(StartMock()); }
  static void TearDownTestSuite() {
    delete mock_;
    mock_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(mock_->process && mock_->port != 0);
    port_ = mock_->port;
    ASSERT_EQ(Request(port_, "POST", "/_mock/faults", "{}").status, 200);
    ASSERT_EQ(Request(port_, "POST", "/_mock/reset").status, 200);
  }

  void SetFaults(std::string_view json) {
    HttpResult r = Request(port_, "POST", "/_mock/faults", json);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  Json Stats() { return Request(port_, "GET", "/_mock/stats").json(); }

  static StartedMock* mock_;
  uint16_t port_ = 0;
};

StartedMock* MockUpstreamTest::mock_ = nullptr;

TEST_F(MockUpstreamTest, ChatCompletion) {
  HttpResult r = Request(port_, "POST", "/v1/chat/completions", ChatBody("Hello   mock world"));
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  Json j = r.json();
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "gpt-4o-mini");
  EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_TRUE(j["created"].is_number_integer());
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Echo: Hello mock world");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  const Json& u = j["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(u["completion_tokens"].get<int>(), 6);  // ceil(22 / 4)
  EXPECT_EQ(u["total_tokens"].get<int>(),
            u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
}

TEST_F(MockUpstreamTest, ChatMaxTokensCutsTheReply) {
  Json body = Json::parse(ChatBody("one two three four five six seven eight"));
  body["max_tokens"] = 2;
  HttpResult r = Request(port_, "POST", "/v1/chat/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Echo: on");
  EXPECT_EQ(j["usage"]["completion_tokens"], 2);
}

TEST_F(MockUpstreamTest, ChatValidation) {
  HttpResult missing = Request(port_, "POST", "/v1/chat/completions", R"({"model":"gpt-4o"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json()["error"]["type"], "invalid_request_error");
  EXPECT_NE(missing.json()["error"]["message"].get<std::string>().find("messages"),
            std::string::npos);
  HttpResult no_model = Request(port_, "POST", "/v1/chat/completions", R"({"messages":[]})");
  EXPECT_EQ(no_model.status, 400);
  HttpResult not_json = Request(port_, "POST", "/v1/chat/completions", "{nope");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_TRUE(not_json.json()["error"].is_object());
}

TEST_F(MockUpstreamTest, StreamedChatArrivesInChunksWithUsage) {
  SseResult s = RequestSse(port_, "POST", "/v1/chat/completions",
                           ChatBody("stream these five words please", true, true));
  ASSERT_EQ(s.status, 200) << s.error;
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.header("Content-Type"), "text/event-stream");
  EXPECT_TRUE(s.done());
  // role + 6 content pieces + finish + usage, each written as its own chunk.
  EXPECT_GE(s.events.size(), 8u);
  EXPECT_GE(s.http_chunks, s.events.size());
  std::vector<Json> chunks = s.json_events();
  ASSERT_GE(chunks.size(), 3u);
  EXPECT_EQ(chunks.front()["choices"][0]["delta"]["role"], "assistant");
  std::string content;
  std::string finish;
  for (const Json& c : chunks) {
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["id"], chunks.front()["id"]);
    if (c["choices"].empty()) continue;
    const Json& delta = c["choices"][0]["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (c["choices"][0]["finish_reason"].is_string()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(content, "Echo: stream these five words please");
  EXPECT_EQ(finish, "stop");
  const Json& last = chunks.back();
  EXPECT_TRUE(last["choices"].empty());
  ASSERT_TRUE(last["usage"].is_object());
  EXPECT_EQ(last["usage"]["completion_tokens"], 9);  // ceil(36 / 4)
}

TEST_F(MockUpstreamTest, StreamWithoutUsageHasNoUsageChunk) {
  SseResult s = RequestSse(port_, "POST", "/v1/chat/completions", ChatBody("hi there", true));
  ASSERT_EQ(s.status, 200) << s.error;
  EXPECT_TRUE(s.done());
  for (const Json& c : s.json_events()) {
    EXPECT_FALSE(c.contains("usage")) << c.dump();
    EXPECT_FALSE(c["choices"].empty());
  }
}

TEST_F(MockUpstreamTest, LegacyCompletions) {
  HttpResult r = Request(port_, "POST", "/v1/completions",
                         R"({"model":"gpt-4o","prompt":["first prompt","second"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["object"], "text_completion");
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["text"], "Echo: first prompt");
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][1]["text"], "Echo: second");

  SseResult s = RequestSse(port_, "POST", "/v1/completions",
                           R"({"model":"gpt-4o","prompt":"a b c","stream":true})");
  ASSERT_EQ(s.status, 200) << s.error;
  EXPECT_TRUE(s.done());
  std::string text;
  for (const Json& c : s.json_events()) text += c["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, "Echo: a b c");
}

TEST_F(MockUpstreamTest, Embeddings) {
  Json body = {{"model", "text-embedding-3-small"},
               {"input", Json::array({"How do I reset my password?",
                                      "How can I reset my password?",
                                      "Best pizza toppings for a party"})},
               {"dimensions", 128}};
  HttpResult r = Request(port_, "POST", "/v1/embeddings", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], "text-embedding-3-small");
  ASSERT_EQ(j["data"].size(), 3u);
  std::vector<std::vector<double>> v;
  for (const Json& d : j["data"]) {
    EXPECT_EQ(d["object"], "embedding");
    v.push_back(d["embedding"].get<std::vector<double>>());
    EXPECT_EQ(v.back().size(), 128u);
  }
  auto dot = [](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
  };
  EXPECT_NEAR(dot(v[0], v[0]), 1.0, 1e-4);
  EXPECT_GT(dot(v[0], v[1]), 0.8);
  EXPECT_LT(dot(v[0], v[2]), 0.3);
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 0);

  // The same text gives the same vector; base64 carries 4 bytes per float.
  HttpResult again = Request(port_, "POST", "/v1/embeddings",
                             R"({"model":"m","input":"How do I reset my password?","dimensions":128})");
  EXPECT_EQ(again.json()["data"][0]["embedding"].get<std::vector<double>>(), v[0]);
  HttpResult b64 = Request(port_, "POST", "/v1/embeddings",
                           R"({"model":"m","input":"x","encoding_format":"base64"})");
  ASSERT_EQ(b64.status, 200);
  EXPECT_EQ(b64.json()["data"][0]["embedding"].get<std::string>().size(), (256u * 4 + 2) / 3 * 4);
  EXPECT_EQ(Request(port_, "POST", "/v1/embeddings", R"({"model":"m"})").status, 400);
}

TEST_F(MockUpstreamTest, Models) {
  HttpResult r = Request(port_, "GET", "/v1/models");
  ASSERT_EQ(r.status, 200);
  Json j = r.json();
  std::vector<std::string> ids;
  for (const Json& m : j["data"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"gpt-4o", "gpt-4o-mini", "text-embedding-3-small"}));
  EXPECT_EQ(Request(port_, "GET", "/v1/models/gpt-4o").status, 200);
  EXPECT_EQ(Request(port_, "GET", "/v1/models/nope").status, 404);
}

TEST_F(MockUpstreamTest, ErrorFault429CarriesRetryAfter) {
  SetFaults(R"({"error_rate": 1, "status": 429, "retry_after_s": 2})");
  HttpResult r = Request(port_, "POST", "/v1/chat/completions", ChatBody("hi"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("Retry-After"), "2");
  Json j = r.json();
  EXPECT_EQ(j["error"]["type"], "rate_limit_error");
  EXPECT_EQ(j["error"]["code"], "rate_limit_exceeded");
  EXPECT_EQ(Stats()["faults_injected"]["error"], 1);
  // Control routes are never faulted.
  EXPECT_EQ(Request(port_, "GET", "/_mock/stats").status, 200);
}

TEST_F(MockUpstreamTest, ErrorFaultDefaultsTo500) {
  SetFaults(R"({"error_rate": 1})");
  HttpResult r = Request(port_, "GET", "/v1/models");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.json()["error"]["type"], "server_error");
  EXPECT_EQ(r.header("Retry-After"), "");
  SetFaults(R"({"error_rate": 1, "status": 401})");
  EXPECT_EQ(Request(port_, "GET", "/v1/models").json()["error"]["type"], "authentication_error");
}

TEST_F(MockUpstreamTest, ResetFaultClosesWithoutAnswer) {
  SetFaults(R"({"reset_rate": 1})");
  HttpResult r = Request(port_, "POST", "/v1/chat/completions", ChatBody("hi"));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  SetFaults("{}");
  EXPECT_EQ(Request(port_, "POST", "/v1/chat/completions", ChatBody("hi")).status, 200);
}

TEST_F(MockUpstreamTest, TruncatedStreamHasNoDone) {
  SetFaults(R"({"truncate_stream": true})");
  SseResult s = RequestSse(port_, "POST", "/v1/chat/completions",
                           ChatBody("a reply long enough to be cut in half", true, true));
  EXPECT_EQ(s.status, 200);
  EXPECT_FALSE(s.error.empty());
  EXPECT_FALSE(s.done());
  EXPECT_GE(s.events.size(), 2u);
  for (const std::string& e : s.events) EXPECT_NE(e, "[DONE]");
  EXPECT_EQ(Stats()["faults_injected"]["truncate"], 1);
}

TEST_F(MockUpstreamTest, LatencyIsNotFasterThanAsked) {
  SetFaults(R"({"latency_ms": 200})");
  auto start = Clock::now();
  HttpResult r = Request(port_, "GET", "/v1/models");
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(elapsed, 200ms);

  SetFaults(R"({"latency_ms": {"min": 50, "max": 80}})");
  start = Clock::now();
  EXPECT_EQ(Request(port_, "GET", "/v1/models").status, 200);
  EXPECT_GE(Clock::now() - start, 50ms);
}

TEST_F(MockUpstreamTest, StreamChunkDelay) {
  SetFaults(R"({"stream_chunk_delay_ms": 30})");
  auto start = Clock::now();
  SseResult s = RequestSse(port_, "POST", "/v1/chat/completions", ChatBody("one two three", true));
  auto elapsed = Clock::now() - start;
  ASSERT_EQ(s.status, 200);
  EXPECT_TRUE(s.done());
  EXPECT_GE(elapsed, 30ms * static_cast<int>(s.events.size() - 1));
}

TEST_F(MockUpstreamTest, HangNeverAnswers) {
  SetFaults(R"({"hang_rate": 1})");
  HttpResult r = Request(port_, "GET", "/v1/models", {}, {}, 300ms);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(Stats()["faults_injected"]["hang"], 1);
  SetFaults("{}");
  EXPECT_EQ(Request(port_, "GET", "/v1/models").status, 200);
}

TEST_F(MockUpstreamTest, InvalidJsonFault) {
  SetFaults(R"({"invalid_json_rate": 1})");
  HttpResult r = Request(port_, "POST", "/v1/chat/completions", ChatBody("hi"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.json().is_discarded()) << r.body;
}

TEST_F(MockUpstreamTest, BadFaultJsonIs400AndKeepsPreviousFaults) {
  SetFaults(R"({"latency_ms": 5})");
  HttpResult bad = Request(port_, "POST", "/_mock/faults", R"({"error_rate": "often"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.json()["error"]["message"].get<std::string>().find("error_rate"), std::string::npos)
      << bad.body;
  HttpResult unknown = Request(port_, "POST", "/_mock/faults", R"({"eror_rate": 1})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("eror_rate"), std::string::npos);
  EXPECT_EQ(Request(port_, "POST", "/_mock/faults", "not json").status, 400);
  EXPECT_EQ(Request(port_, "POST", "/_mock/faults", R"({"status": 200, "error_rate": 1})").status,
            400);
  Json now = Request(port_, "GET", "/_mock/faults").json()["faults"];
  EXPECT_EQ(now["latency_ms"], 5.0);
  EXPECT_EQ(now["error_rate"], 0.0);
}

TEST_F(MockUpstreamTest, StatsCountEveryV1Request) {
  TestHeaders auth = {{"Authorization", "Bearer sk-client"}};
  EXPECT_EQ(Request(port_, "POST", "/v1/chat/completions", ChatBody("one"), auth).status, 200);
  EXPECT_EQ(Request(port_, "POST", "/v1/chat/completions", ChatBody("two"), auth).status, 200);
  EXPECT_EQ(Request(port_, "POST", "/v1/embeddings", R"({"model":"m","input":"x"})").status, 200);
  SetFaults(R"({"error_rate": 1, "status": 503})");
  TestHeaders other = {{"Authorization", "Bearer sk-last"}};
  EXPECT_EQ(Request(port_, "POST", "/v1/chat/completions", ChatBody("three"), other).status, 503);
  Json s = Stats();
  EXPECT_EQ(s["total"], 4);
  EXPECT_EQ(s["calls"]["/v1/chat/completions"], 3);
  EXPECT_EQ(s["calls"]["/v1/embeddings"], 1);
  EXPECT_EQ(s["last_authorization"], "Bearer sk-last");
  EXPECT_EQ(s["last_request"]["messages"][1]["content"], "three");

  EXPECT_EQ(Request(port_, "DELETE", "/_mock/stats").status, 200);
  s = Stats();
  EXPECT_EQ(s["total"], 0);
  EXPECT_TRUE(s["calls"].empty());
}

TEST_F(MockUpstreamTest, ConcurrentRequestsAreAllCounted) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        if (Request(port_, "POST", "/v1/chat/completions", ChatBody("concurrent")).status == 200) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_EQ(Stats()["total"], 80);
}

TEST(MockUpstreamProcessTest, RequiredApiKey) {
  StartedMock m = StartMock({"--api-key", "sk-upstream", "--models", "a,b"});
  ASSERT_NE(m.port, 0);
  HttpResult none = Request(m.port, "GET", "/v1/models");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json()["error"]["type"], "authentication_error");
  TestHeaders wrong = {{"Authorization", "Bearer sk-client"}};
  EXPECT_EQ(Request(m.port, "GET", "/v1/models", {}, wrong).status, 401);
  TestHeaders right = {{"Authorization", "Bearer sk-upstream"}};
  HttpResult ok = Request(m.port, "GET", "/v1/models", {}, right);
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(ok.json()["data"].size(), 2u);
  // Control routes need no key.
  EXPECT_EQ(Request(m.port, "GET", "/_mock/stats").json()["total"], 3);
}

TEST(MockUpstreamProcessTest, SigtermExitsZeroEvenWithAHungRequest) {
  StartedMock m = StartMock({"--faults", R"({"hang_rate": 1})"});
  ASSERT_NE(m.port, 0);
  std::thread hung([&] { (void)Request(m.port, "GET", "/v1/models", {}, {}, 30s); });
  // Wait until the hung request has reached the mock.
  WaitFor([&] { return Request(m.port, "GET", "/_mock/stats").json()["total"] == 1; }, 2s);
  ASSERT_TRUE(m.process->signal(SIGTERM));
  std::optional<int> status = m.process->wait(20s);
  ASSERT_TRUE(status.has_value()) << "agentgate-mock did not exit after SIGTERM";
  EXPECT_EQ(*status, 0);
  hung.join();
}

TEST(MockUpstreamProcessTest, BadFaultsFlagFailsToStart) {
  std::string error;
  auto p = ChildProcess::Spawn(AGENTGATE_MOCK_BINARY, {"--faults", R"({"error_rate": 5})"}, {},
                               &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->wait(20s), 2);
}

TEST(ChildProcessTest, ReadsLinesAndReportsExitCodes) {
  auto p = ChildProcess::Spawn("/bin/sh", {"-c", "echo hello; echo port is 127.0.0.1:4242; exit 3"});
  ASSERT_TRUE(p);
  std::optional<std::string> line = p->wait_for_line("port is", 10s);
  ASSERT_TRUE(line);
  EXPECT_EQ(PortFromLine(*line), 4242);
  EXPECT_EQ(p->wait(10s), 3);
  EXPECT_FALSE(p->wait_for_line("never", 100ms));
  EXPECT_NE(p->output().find("hello"), std::string::npos);

  std::string error;
  EXPECT_FALSE(ChildProcess::Spawn("/nonexistent/program", {}, {}, &error));
  EXPECT_FALSE(error.empty());

  ChildProcess::Options env_opts;
  env_opts.env = {"AGENTGATE_TEST_VAR=42"};
  auto e = ChildProcess::Spawn("/bin/sh", {"-c", "echo var=$AGENTGATE_TEST_VAR"}, env_opts);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->wait_for_line("var=", 10s), "var=42");
}

TEST(ChildProcessTest, SignalAndKillOnDestruction) {
  auto p = ChildProcess::Spawn("/bin/sleep", {"30"});
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->running());
  EXPECT_FALSE(p->wait(50ms).has_value());
  EXPECT_TRUE(p->signal(SIGTERM));
  EXPECT_EQ(p->wait(10s), 128 + SIGTERM);
  EXPECT_FALSE(p->signal(SIGTERM));
  auto q = ChildProcess::Spawn("/bin/sleep", {"30"});
  ASSERT_TRUE(q);
  pid_t pid = q->pid();
  q.reset();
  EXPECT_NE(::kill(pid, 0), 0);  // killed and reaped
}

}  // namespace
}  // namespace agentgate::test
