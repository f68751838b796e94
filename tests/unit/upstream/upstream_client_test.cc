#include "upstream/upstream_client.h"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "agentgate/perf/profiler.h"
#include "server/http_server.h"
#include "server/router.h"
#include "unit/upstream/upstream_test_util.h"
#include "upstream/sse_parser.h"
#include "support/wait_for.h"

namespace agentgate {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::ClientLoop;
using testing::FreePort;
using testing::RawUpstream;
using testing::WaitFor;

net::awaitable<void> SleepMs(int ms) {
  net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(net::use_awaitable);
}

class UpstreamClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add(HttpMethod::kPost, "/base/v1/chat/completions",
                [this](HttpRequest& req, HttpResponse& res) -> net::awaitable<void> {
                  std::lock_guard lock(mu_);
                  seen_auth_ = std::string(req.header("authorization"));
                  seen_host_ = std::string(req.header("host"));
                  seen_type_ = std::string(req.header("content-type"));
                  seen_accept_ = std::string(req.header("accept"));
                  seen_custom_ = std::string(req.header("x-custom"));
                  seen_connection_ = std::string(req.header("connection"));
                  seen_body_ = req.body;
                  res.status = 201;
                  res.set_header("X-Upstream", "yes");
                  res.body = R"({"ok":true})";
                  co_return;
                });
    router_.add(HttpMethod::kPost, "/base/fail",
                [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  res.status = 503;
                  res.body = R"({"error":{"message":"overloaded"}})";
                  co_return;
                });
    router_.add(HttpMethod::kGet, "/base/ping",
                [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  res.body = "pong";
                  co_return;
                });
    router_.add(HttpMethod::kPost, "/base/hang",
                [this](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  for (int i = 0; i < 5000 && !release_; ++i) co_await SleepMs(1);
                  res.body = "late";
                });
    router_.add(HttpMethod::kPost, "/base/stream",
                [this](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  std::vector<std::pair<std::string, std::string>> headers;
                  co_await res.stream().begin(200, "text/event-stream", headers);
                  co_await res.stream().write("data: 1\n\n");
                  int waited = 0;
                  while (!chunk1_seen_ && waited < 5000) {
                    co_await SleepMs(1);
                    ++waited;
                  }
                  if (!chunk1_seen_) handler_gave_up_ = true;
                  // The last chunk and the end in one write.
                  const std::string_view last[] = {"data: 2\n\n"};
                  co_await res.stream().finish_with(last);
                });
    router_.add(HttpMethod::kPost, "/base/firehose",
                [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  std::vector<std::pair<std::string, std::string>> headers;
                  co_await res.stream().begin(200, "text/event-stream", headers);
                  for (int i = 0; i < 3; ++i) {
                    if (!co_await res.stream().write("data: x\n\n")) co_return;
                    co_await SleepMs(5);
                  }
                  co_await res.stream().finish();
                });
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    o.access_log = AccessLogFormat::kOff;
    o.clock = &server_clock_;
    o.idle_timeout = 10s;
    o.shutdown_grace = 1s;
    server_ = std::make_unique<HttpServer>(
        o, [this](HttpRequest& q, HttpResponse& r) { return router_.dispatch(q, r); },
        &server_metrics_);
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override {
    release_ = true;
    server_->shutdown();
  }

  std::unique_ptr<UpstreamClient> MakeClient(UpstreamEndpoint e = {}) {
    if (e.name.empty()) e.name = "test";
    if (e.base_url.empty()) {
      e.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/base/";
    }
    if (e.api_key.empty()) e.api_key = "upstream-key";
    auto r = UpstreamClient::Create(e, &metrics_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  double Metric(std::string_view name, std::string upstream = "test") {
    return metrics_.value(name, {{"upstream", upstream}});
  }
  double Errors(std::string kind, std::string upstream = "test") {
    return metrics_.value("agentgate_upstream_errors_total", {{"upstream", upstream}, {"kind", kind}});
  }

  MetricsRegistry metrics_;
  MetricsRegistry server_metrics_;
  ManualClock server_clock_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  ClientLoop loop_;
  std::atomic<bool> release_{false};
  std::atomic<bool> chunk1_seen_{false};
  std::atomic<bool> handler_gave_up_{false};
  std::mutex mu_;
  std::string seen_auth_, seen_host_, seen_type_, seen_accept_, seen_custom_, seen_connection_,
      seen_body_;
};

UpstreamRequest Post(std::string_view path, std::string_view body = R"({"model":"m"})") {
  UpstreamRequest r;
  r.method = HttpMethod::kPost;
  r.path = path;
  r.body = body;
  return r;
}

TEST(UpstreamEndpointTest, ParsesAndRejectsUrls) {
  auto ok = UpstreamEndpoint::Create({.name = "a", .base_url = "https://api.example.com/v0/"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->tls);
  EXPECT_EQ(ok->host, "api.example.com");
  EXPECT_EQ(ok->port, 443);
  EXPECT_EQ(ok->path_prefix, "/v0");
  auto v6 = UpstreamEndpoint::Create({.name = "b", .base_url = "http://[::1]:8080"});
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(v6->path_prefix, "");
  for (std::string bad : {"", "api.example.com", "ftp://x", "http://", "http://:80",
                          "http://host:0", "http://host:65536", "http://host:12a",
                          "http://user:pw@host", "http://host/p?q=1", "http://host/#f",
                          "http://ho st", "http://[::1", "http://host:"}) {
    auto r = UpstreamEndpoint::Create({.name = "x", .base_url = bad});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto no_name = UpstreamEndpoint::Create({.base_url = "http://h"});
  EXPECT_EQ(no_name.status().code(), StatusCode::kInvalidArgument);
  auto bad_timeout =
      UpstreamEndpoint::Create({.name = "x", .base_url = "http://h", .connect_timeout = 0s});
  EXPECT_EQ(bad_timeout.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(UpstreamClientTest, PostRoundTripForwardsHeadersAndBody) {
  auto client = MakeClient();
  UpstreamRequest req = Post("/v1/chat/completions", R"({"model":"gpt","messages":[]})");
  req.headers.emplace_back("Authorization", "Bearer caller-key");
  req.headers.emplace_back("X-Custom", "42");
  req.headers.emplace_back("Connection", "close");
  auto r = loop_.run(client->send(req));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->content_type, "application/json");
  bool upstream_header = false;
  for (const auto& [k, v] : r->headers) {
    EXPECT_NE(k, "Content-Length");
    EXPECT_NE(k, "Content-Type");
    if (k == "X-Upstream" && v == "yes") upstream_header = true;
  }
  EXPECT_TRUE(upstream_header);
  std::lock_guard lock(mu_);
  EXPECT_EQ(seen_auth_, "Bearer upstream-key");
  EXPECT_EQ(seen_host_, "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(seen_type_, "application/json");
  EXPECT_EQ(seen_accept_, "application/json");
  EXPECT_EQ(seen_custom_, "42");
  EXPECT_EQ(seen_connection_, "");
  EXPECT_EQ(seen_body_, R"({"model":"gpt","messages":[]})");
  EXPECT_EQ(Metric("agentgate_upstream_requests_total"), 1);
}

// Bodies up to 4 KiB go out in one buffer with the head, larger ones as a
// gather write: the upstream sees each whole, on one pooled connection.
TEST_F(UpstreamClientTest, BodiesOnBothSidesOfTheOneBufferLimitArriveWhole) {
  auto client = MakeClient();
  for (size_t size : {size_t{4095}, size_t{4096}, size_t{4097}, size_t{300000}}) {
    const std::string prefix = R"({"model":"m","input":")";
    std::string body = prefix + std::string(size - prefix.size() - 2, 'x') + R"("})";
    ASSERT_EQ(body.size(), size);
    auto r = loop_.run(client->send(Post("/v1/chat/completions", body)));
    ASSERT_TRUE(r.ok()) << size << ": " << r.status().ToString();
    std::lock_guard lock(mu_);
    EXPECT_EQ(seen_body_, body) << size;
  }
  EXPECT_EQ(Metric("agentgate_upstream_connections_created_total"), 1);
}

TEST_F(UpstreamClientTest, NoKeyMeansNoAuthorization) {
  UpstreamEndpoint e;
  e.name = "nokey";
  e.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/base";
  auto r0 = UpstreamClient::Create(e, &metrics_);
  ASSERT_TRUE(r0.ok());
  UpstreamRequest req = Post("/v1/chat/completions");
  req.headers.emplace_back("authorization", "Bearer caller-key");
  auto r = loop_.run((*r0)->send(req));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::lock_guard lock(mu_);
  EXPECT_EQ(seen_auth_, "");
}

TEST_F(UpstreamClientTest, KeepAliveReusesOneConnectionPerThread) {
  auto client = MakeClient();
  UpstreamRequest req{HttpMethod::kGet, "/ping", "", {}};
  for (int i = 0; i < 20; ++i) {
    auto r = loop_.run(client->send(req));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->body, "pong");
  }
  EXPECT_EQ(Metric("agentgate_upstream_connections_created_total"), 1);
  EXPECT_EQ(Metric("agentgate_upstream_open_connections"), 1);
  EXPECT_EQ(Metric("agentgate_upstream_idle_connections"), 1);
  {
    ClientLoop other;  // a second thread with its own io_context gets its own connection
    for (int i = 0; i < 20; ++i) {
      auto r = other.run(client->send(req));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    EXPECT_EQ(Metric("agentgate_upstream_connections_created_total"), 2);
    EXPECT_EQ(Metric("agentgate_upstream_open_connections"), 2);
  }
  // The other io_context is gone, and its connection with it.
  EXPECT_EQ(Metric("agentgate_upstream_open_connections"), 1);
  EXPECT_EQ(Metric("agentgate_upstream_requests_total"), 40);
}

TEST_F(UpstreamClientTest, IdleConnectionClosedByServerIsRetriedTransparently) {
  auto client = MakeClient();
  UpstreamRequest req{HttpMethod::kGet, "/ping", "", {}};
  ASSERT_TRUE(loop_.run(client->send(req)).ok());
  ASSERT_EQ(server_->active_connections(), 1u);
  // Past the server's idle timeout, its sweep closes the connection. The server
  // re-arms the idle deadline just after its write, so keep moving time on
  // until the sweep has seen a deadline in the past.
  ASSERT_TRUE(WaitFor(
      [&] {
        server_clock_.advance(30s);
        return server_->active_connections() == 0;
      },
      10000ms));
  auto r = loop_.run(client->send(req));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "pong");
  EXPECT_EQ(Metric("agentgate_upstream_retries_total"), 1);
  EXPECT_EQ(Metric("agentgate_upstream_connections_created_total"), 2);
}

TEST_F(UpstreamClientTest, SilentUpstreamHitsFirstByteTimeout) {
  UpstreamEndpoint e;
  e.first_byte_timeout = 200ms;
  auto client = MakeClient(e);
  auto start = std::chrono::steady_clock::now();
  auto r = loop_.run(client->send(Post("/hang")));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("first-byte"), std::string::npos);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(Errors("deadline_exceeded"), 1);
  EXPECT_EQ(Metric("agentgate_upstream_open_connections"), 0);  // closed, not pooled
}

TEST_F(UpstreamClientTest, RequestTimeoutBoundsTheWholeExchange) {
  UpstreamEndpoint e;
  e.request_timeout = 150ms;
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/hang")));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("request timeout"), std::string::npos);
}

TEST_F(UpstreamClientTest, ConnectionRefusedIsUnavailable) {
  UpstreamEndpoint e;
  e.name = "down";
  e.base_url = "http://127.0.0.1:" + std::to_string(FreePort());
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/v1/chat/completions")));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("'down'"), std::string::npos);
  EXPECT_EQ(Errors("unavailable", "down"), 1);
  EXPECT_EQ(Metric("agentgate_upstream_open_connections", "down"), 0);
}

// profile_into: each exchange is a call of the site; an answer of 500 or
// more and a failed exchange are errors; null stops it.
TEST_F(UpstreamClientTest, ProfileIntoRecordsEachExchangeAndItsErrors) {
  Profiler profiler;
  ProfileSite& site = profiler.site("upstream.test");
  auto client = MakeClient();
  client->profile_into(&site);
  ASSERT_TRUE(loop_.run(client->send(Post("/v1/chat/completions"))).ok());
  auto overloaded = loop_.run(client->send(Post("/fail")));
  ASSERT_TRUE(overloaded.ok()) << overloaded.status().ToString();
  EXPECT_EQ(overloaded->status, 503);
  FunctionMetrics m = site.metrics();
  EXPECT_EQ(m.calls, 2u);
  EXPECT_EQ(m.errors, 1u);
  EXPECT_GT(m.total_time, Nanos(0));

  UpstreamEndpoint e;
  e.name = "down";
  e.base_url = "http://127.0.0.1:" + std::to_string(FreePort());
  auto down = MakeClient(e);
  down->profile_into(&site);
  EXPECT_FALSE(loop_.run(down->send(Post("/v1/chat/completions"))).ok());
  EXPECT_EQ(site.metrics().calls, 3u);
  EXPECT_EQ(site.metrics().errors, 2u);

  client->profile_into(nullptr);
  ASSERT_TRUE(loop_.run(client->send(Post("/v1/chat/completions"))).ok());
  EXPECT_EQ(site.metrics().calls, 3u);
}

TEST_F(UpstreamClientTest, UnresolvableHostIsUnavailable) {
  UpstreamEndpoint e;
  e.base_url = "http://no-such-host.invalid:80";
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/x")));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST_F(UpstreamClientTest, GarbageAnswerIsBadGateway) {
  RawUpstream raw("SPAM SPAM SPAM\r\n\r\n");
  UpstreamEndpoint e;
  e.base_url = "http://127.0.0.1:" + std::to_string(raw.port());
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/x")));
  EXPECT_EQ(r.status().code(), StatusCode::kBadGateway) << r.status().ToString();
  EXPECT_NE(r.status().message().find("malformed"), std::string::npos);
  EXPECT_EQ(Errors("bad_gateway"), 1);
}

TEST_F(UpstreamClientTest, TruncatedBodyIsBadGateway) {
  RawUpstream raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  UpstreamEndpoint e;
  e.base_url = "http://127.0.0.1:" + std::to_string(raw.port());
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/x")));
  EXPECT_EQ(r.status().code(), StatusCode::kBadGateway) << r.status().ToString();
  // A fresh connection that closes early is not retried.
  EXPECT_EQ(raw.accepted(), 1);
}

TEST_F(UpstreamClientTest, BodyEndedByTheConnectionsCloseArrivesWhole) {
  // No Content-Length: the body ends where the server closes. The FIN often
  // arrives with the bytes, before the client's first read sees either.
  RawUpstream raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}");
  UpstreamEndpoint e;
  e.base_url = "http://127.0.0.1:" + std::to_string(raw.port());
  auto client = MakeClient(e);
  for (int i = 0; i < 20; ++i) {
    auto r = loop_.run(client->send(Post("/x")));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"ok\":true}");
  }
}

TEST_F(UpstreamClientTest, ClosedWithoutAnswerIsBadGateway) {
  RawUpstream raw("");
  UpstreamEndpoint e;
  e.base_url = "http://127.0.0.1:" + std::to_string(raw.port());
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/x")));
  EXPECT_EQ(r.status().code(), StatusCode::kBadGateway) << r.status().ToString();
}

TEST_F(UpstreamClientTest, HopByHopHeadersAreStrippedAndChunkedIsDecoded) {
  RawUpstream raw(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json\r\n"
      "Connection: keep-alive, X-Conn-Named\r\n"
      "Keep-Alive: timeout=5\r\n"
      "X-Conn-Named: secret\r\n"
      "Proxy-Authenticate: Basic\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "TE: trailers\r\n"
      "Trailer: X-T\r\n"
      "Upgrade: h2c\r\n"
      "Transfer-Encoding: chunked\r\n"
      "X-Kept: yes\r\n"
      "\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  UpstreamEndpoint e;
  e.base_url = "http://127.0.0.1:" + std::to_string(raw.port());
  auto client = MakeClient(e);
  auto r = loop_.run(client->send(Post("/x")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->content_type, "application/json");
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].first, "X-Kept");
  EXPECT_EQ(r->headers[0].second, "yes");
}

TEST_F(UpstreamClientTest, InvalidRequestIsRejectedBeforeSending) {
  auto client = MakeClient();
  UpstreamRequest req = Post("/v1/x");
  req.headers.emplace_back("X-Evil", "a\r\nInjected: 1");
  EXPECT_EQ(loop_.run(client->send(req)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(loop_.run(client->send(Post("no-slash"))).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Metric("agentgate_upstream_connections_created_total"), 0);
}

TEST_F(UpstreamClientTest, ConnectionCapFailsFastWithUnavailable) {
  UpstreamEndpoint e;
  e.max_connections = 1;
  auto client = MakeClient(e);
  UpstreamRequest hang = Post("/hang");
  std::atomic<bool> first_done{false};
  net::co_spawn(
      loop_.ioc(),
      [&]() -> net::awaitable<void> {
        auto r = co_await client->send(hang);
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        first_done = true;
      },
      net::detached);
  ASSERT_TRUE(WaitFor([&] { return Metric("agentgate_upstream_open_connections") == 1; }));
  auto r = loop_.run(client->send(Post("/v1/chat/completions")));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("connection limit"), std::string::npos);
  release_ = true;
  ASSERT_TRUE(WaitFor([&] { return first_done.load(); }));
  // The slot is free again.
  EXPECT_TRUE(loop_.run(client->send(Post("/v1/chat/completions"))).ok());
}

// RecordingSink: records the head and each on_data call (its pieces joined).
class RecordingSink : public StreamSink {
 public:
  net::awaitable<bool> on_head(const UpstreamResponse& head, bool) override {
    status = head.status;
    content_type = head.content_type;
    ++heads;
    co_return true;
  }
  net::awaitable<bool> on_data(std::span<const std::string_view> pieces, bool last) override {
    lasts += last ? 1 : 0;
    std::string& chunk = chunks.emplace_back();
    for (std::string_view p : pieces) chunk += p;
    if (on_chunk) on_chunk();
    co_return !stop_after_first;
  }
  int status = 0;
  int heads = 0;
  std::string content_type;
  std::vector<std::string> chunks;
  int lasts = 0;  // on_data calls that said the body ended
  std::function<void()> on_chunk;
  bool stop_after_first = false;
};

TEST_F(UpstreamClientTest, StreamingHandsChunksOverAsTheyArrive) {
  auto client = MakeClient();
  RecordingSink sink;
  // The upstream sends chunk 2 only once the sink has received chunk 1: a
  // client that buffered the body would stall until the handler gave up.
  sink.on_chunk = [&] { chunk1_seen_ = true; };
  auto r = loop_.run(client->send_streaming(Post("/stream"), sink));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 200);
  EXPECT_FALSE(handler_gave_up_);
  EXPECT_EQ(sink.heads, 1);
  EXPECT_EQ(sink.content_type, "text/event-stream");
  ASSERT_GE(sink.chunks.size(), 2u);
  EXPECT_EQ(sink.chunks[0], "data: 1\n\n");
  std::string all;
  for (auto& c : sink.chunks) all += c;
  EXPECT_EQ(all, "data: 1\n\ndata: 2\n\n");
  // The end came in the same read as the last chunk, and said so.
  EXPECT_EQ(sink.lasts, 1);
  EXPECT_EQ(sink.chunks.back(), "data: 2\n\n");
  // The chunks are SSE: the parser sees two events.
  SseParser parser;
  int events = 0;
  ASSERT_TRUE(parser.feed(all, [&](const SseEvent&) { ++events; }).ok());
  EXPECT_EQ(events, 2);
  // The chunked response ended cleanly: the connection is pooled.
  EXPECT_EQ(Metric("agentgate_upstream_idle_connections"), 1);
}

TEST_F(UpstreamClientTest, SinkReturningFalseCancelsAndDropsTheConnection) {
  auto client = MakeClient();
  RecordingSink sink;
  sink.stop_after_first = true;
  auto r = loop_.run(client->send_streaming(Post("/firehose"), sink));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(sink.chunks.size(), 1u);
  EXPECT_EQ(Metric("agentgate_upstream_open_connections"), 0);
  EXPECT_EQ(Metric("agentgate_upstream_idle_connections"), 0);
  EXPECT_EQ(Metric("agentgate_upstream_streams_cancelled_total"), 1);
  RecordingSink sink2;
  auto r2 = loop_.run(client->send_streaming(Post("/firehose"), sink2));
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  std::string all;
  for (auto& c : sink2.chunks) all += c;
  EXPECT_EQ(all, "data: x\n\ndata: x\n\ndata: x\n\n");
  EXPECT_EQ(Metric("agentgate_upstream_connections_created_total"), 2);
}

}  // namespace
}  // namespace agentgate
