#include "server/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <thread>

#include "server/router.h"
#include "unit/server/raw_client.h"

namespace agentgate {
namespace {

using testing::RawClient;
using namespace std::chrono_literals;
namespace net = boost::asio;

std::string Get(std::string_view path, std::string_view extra = "") {
  return std::string("GET ") + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" +
         std::string(extra) + "\r\n";
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.access_log = AccessLogFormat::kOff;
    o.clock = &clock_;
    router_.add(HttpMethod::kGet, "/hello", [](HttpRequest& req, HttpResponse& res) -> net::awaitable<void> {
      res.content_type = "text/plain";
      res.body = "hello " + std::string(req.header("x-name"));
      co_return;
    });
    router_.add(HttpMethod::kPost, "/echo", [](HttpRequest& req, HttpResponse& res) -> net::awaitable<void> {
      res.body = req.body;
      co_return;
    });
    router_.add(HttpMethod::kGet, "/items/{id}", [](HttpRequest& req, HttpResponse& res) -> net::awaitable<void> {
      res.body = std::string(req.path_param("id"));
      co_return;
    });
    router_.add(HttpMethod::kGet, "/throw", [](HttpRequest&, HttpResponse&) -> net::awaitable<void> {
      throw std::runtime_error("boom");
      co_return;
    });
    router_.add(HttpMethod::kGet, "/stream", [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
      std::vector<std::pair<std::string, std::string>> headers;
      co_await res.stream().begin(200, "text/event-stream", headers);
      co_await res.stream().write("data: 1\n\n");
      co_await res.stream().write("data: 2\n\n");
      co_await res.stream().finish();
    });
    // Pieces written together: one chunk per write, 16 pieces at most; the
    // stream's end with the last of them.
    router_.add(HttpMethod::kGet, "/stream-pieces",
                [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  std::vector<std::pair<std::string, std::string>> headers;
                  co_await res.stream().begin(200, "text/event-stream", headers);
                  const std::vector<std::string_view> two = {"data: 3\n\n", "", "data: 4\n\n"};
                  co_await res.stream().write_pieces(two);
                  const std::vector<std::string_view> twenty(20, "x");
                  co_await res.stream().finish_with(twenty);  // the end with the last piece
                  co_await res.stream().write("too late");      // after the end: not sent
                });
    // The head held back, the first chunk 20 ms later (as an upstream's).
    router_.add(HttpMethod::kGet, "/stream-held",
                [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  std::vector<std::pair<std::string, std::string>> headers;
                  co_await res.stream().begin(200, "text/event-stream", headers, /*hold=*/true);
                  net::steady_timer t(co_await net::this_coro::executor, 20ms);
                  co_await t.async_wait(net::use_awaitable);
                  co_await res.stream().write("data: 1\n\n");
                  co_await res.stream().finish();
                });
    // Held, then nothing written: the server's own finish() sends the head.
    router_.add(HttpMethod::kGet, "/stream-held-empty",
                [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                  std::vector<std::pair<std::string, std::string>> headers;
                  co_await res.stream().begin(200, "text/event-stream", headers, /*hold=*/true);
                });
    router_.add(HttpMethod::kGet, "/slow", [this](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
      slow_entered_ = true;
      net::steady_timer t(co_await net::this_coro::executor);
      while (!slow_release_) {
        t.expires_after(1ms);
        co_await t.async_wait(net::use_awaitable);
      }
      res.body = "done";
    });
    server_ = std::make_unique<HttpServer>(
        o, [this](HttpRequest& q, HttpResponse& r) { return router_.dispatch(q, r); }, &metrics_);
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override {
    if (server_) server_->shutdown();
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> slow_entered_{false};
  std::atomic<bool> slow_release_{false};
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(Get("/hello", "X-Name: bob\r\n")));
    std::string r = c.read_response();
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find("\r\n\r\nhello bob"), std::string::npos) << r;
  }
  EXPECT_EQ(metrics_.value("agentgate_http_requests_total",
                           {{"server", "agentgate"}, {"route", "/hello"}, {"code", "200"}}),
            3);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/items/1") + Get("/items/2")));
  EXPECT_NE(c.read_response().find("\r\n\r\n1"), std::string::npos);
  EXPECT_NE(c.read_response().find("\r\n\r\n2"), std::string::npos);
}

// Bodies up to 4 KiB are copied behind the head and written as one buffer,
// larger ones as a gather write: both arrive whole, in order, on one
// connection.
TEST_F(HttpServerTest, BodiesOnBothSidesOfTheOneBufferLimitArriveWhole) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  for (size_t size : {size_t{0}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{300000}}) {
    std::string body(size, 'b');
    for (size_t i = 0; i < size; i += 97) body[i] = static_cast<char>('a' + i % 26);
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(size) +
                       "\r\n\r\n" + body));
    std::string r = c.read_response();
    ASSERT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << size;
    EXPECT_NE(r.find("Content-Length: " + std::to_string(size) + "\r\n"), std::string::npos) << size;
    EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), body) << size;
  }
}

TEST_F(HttpServerTest, RequestIdIsEchoedOrGenerated) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/hello", "X-Request-Id: abc-123\r\n")));
  EXPECT_NE(c.read_response().find("X-Request-Id: abc-123\r\n"), std::string::npos);
  ASSERT_TRUE(c.send(Get("/hello", "X-Request-Id: bad id with spaces\r\n")));
  std::string r = c.read_response();
  EXPECT_EQ(r.find("bad id"), std::string::npos);
  EXPECT_NE(r.find("X-Request-Id: "), std::string::npos);
}

TEST_F(HttpServerTest, UnknownRouteAndMethodGetErrorShape) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/nope")));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_NE(r.find(R"("type":"not_found_error")"), std::string::npos);
  ASSERT_TRUE(c.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u);
  EXPECT_NE(r.find("Allow: GET\r\n"), std::string::npos);
  EXPECT_NE(r.find(R"("error":{)"), std::string::npos);
  // The connection still serves.
  ASSERT_TRUE(c.send(Get("/hello")));
  EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HttpServerTest, OversizedBodyGets413AndServerKeepsServing) {
  HttpServerOptions o;
  o.max_body_bytes = 1000;
  Start(o);
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
    std::string r = c.read_response();
    EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
    EXPECT_NE(r.find(R"("code":"request_too_large")"), std::string::npos);
  }
  RawClient c2(server_->port());
  ASSERT_TRUE(c2.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  std::string r = c2.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(r.find("\r\n\r\nabc"), std::string::npos);
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Content-Length: 3\r\n\r\n"));
  EXPECT_EQ(c.read_response(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.send("abc"));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("\r\n\r\nabc"), std::string::npos) << r;
}

TEST_F(HttpServerTest, ExpectContinueWithTheBodyAlreadySentGetsNo100) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     "Content-Length: 3\r\n\r\nabc"));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
}

TEST_F(HttpServerTest, PipelinedRequestsWithBodiesAreAnsweredInOrder) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst" +
                     Get("/hello", "X-Name: second\r\n") +
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthird"));
  std::string r1 = c.read_response();
  std::string r2 = c.read_response();
  std::string r3 = c.read_response();
  EXPECT_NE(r1.find("\r\n\r\nfirst"), std::string::npos) << r1;
  EXPECT_NE(r2.find("\r\n\r\nhello second"), std::string::npos) << r2;
  EXPECT_NE(r3.find("\r\n\r\nthird"), std::string::npos) << r3;
}

TEST_F(HttpServerTest, ARequestSentInPiecesIsReassembled) {
  Start();
  RawClient c(server_->port());
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: piecewise-1\r\n"
      "Content-Length: 10\r\n\r\n0123456789";
  for (size_t at = 0; at < request.size(); at += 7) {
    ASSERT_TRUE(c.send(std::string_view(request).substr(at, 7)));
    std::this_thread::sleep_for(1ms);
  }
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("X-Request-Id: piecewise-1\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n0123456789"), std::string::npos) << r;
}

TEST_F(HttpServerTest, AKeepAliveConnectionSeesOnlyEachRequestsOwnHeadersAndBody) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nlong body 1"));
  EXPECT_NE(c.read_response().find("\r\n\r\nlong body 1"), std::string::npos);
  ASSERT_TRUE(c.send(Get("/hello", "x-NAME: again\r\n")));
  std::string r = c.read_response();
  EXPECT_NE(r.find("\r\n\r\nhello again"), std::string::npos) << r;
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"));
  r = c.read_response();
  EXPECT_NE(r.find("Content-Length: 2\r\n"), std::string::npos) << r;
  ASSERT_TRUE(c.send(Get("/hello")));
  r = c.read_response();
  EXPECT_NE(r.find("\r\n\r\nhello "), std::string::npos) << r;
  EXPECT_EQ(r.find("again"), std::string::npos) << r;
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitGets413) {
  HttpServerOptions o;
  o.max_body_bytes = 10;
  Start(o);
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "10\r\n0123456789abcdef\r\n0\r\n\r\n"));
  EXPECT_EQ(c.read_response().rfind("HTTP/1.1 413", 0), 0u);
}

TEST_F(HttpServerTest, OversizedHeadersGet431) {
  HttpServerOptions o;
  o.max_header_bytes = 1024;
  Start(o);
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/hello", "X-Big: " + std::string(4000, 'a') + "\r\n")));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0u) << r;
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_NE(r.find(R"("type":"invalid_request_error")"), std::string::npos);
  EXPECT_EQ(metrics_.value("agentgate_http_malformed_requests_total", {{"server", "agentgate"}}), 1);
}

TEST_F(HttpServerTest, HandlerExceptionBecomes500) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/throw")));
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 500", 0), 0u);
  EXPECT_NE(r.find(R"("type":"server_error")"), std::string::npos);
}

TEST_F(HttpServerTest, StreamsChunkedResponses) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/stream")));
  std::string r = c.read_response();
  EXPECT_NE(r.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(r.find("9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"), std::string::npos) << r;
  ASSERT_TRUE(c.send(Get("/hello")));  // still usable afterwards
  EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HttpServerTest, PiecesWrittenTogetherGoOutAsOneChunk) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/stream-pieces")));
  std::string r = c.read_response();
  const std::string sixteen(16, 'x');
  EXPECT_NE(r.find("\r\n\r\n12\r\ndata: 3\n\ndata: 4\n\n\r\n10\r\n" + sixteen +
                   "\r\n4\r\nxxxx\r\n0\r\n\r\n"),
            std::string::npos)
      << r;
  EXPECT_EQ(r.find("too late"), std::string::npos);
  ASSERT_TRUE(c.send(Get("/hello")));  // the connection is still usable
  EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200", 0), 0u);
}

// A held head goes out with the first chunk: the first read holds both,
// although the chunk was written 20 ms after begin().
TEST_F(HttpServerTest, AHeldHeadIsSentWithTheFirstChunk) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/stream-held")));
  std::string first = c.read_some();
  EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("\r\n\r\n9\r\ndata: 1\n\n\r\n"), std::string::npos) << first;
  for (std::string more = first; more.find("\r\n0\r\n\r\n") == std::string::npos;) {
    std::string got = c.read_some();  // the rest of the stream: its last chunk
    ASSERT_FALSE(got.empty());
    more += got;
  }
  ASSERT_TRUE(c.send(Get("/stream-held-empty")));  // same connection: the stream ended cleanly
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n0\r\n\r\n"), std::string::npos) << r;
  ASSERT_TRUE(c.send(Get("/hello")));
  EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HttpServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  HttpServerOptions o;
  o.idle_timeout = 30s;
  Start(o);
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/hello")));
  c.read_response();
  // The server re-arms the idle deadline right after its write; advance until
  // the sweep (every 250 ms of real time) has seen a deadline in the past.
  bool closed = false;
  for (int i = 0; i < 10 && !closed; ++i) {
    clock_.advance(31s);
    closed = c.closed_within(1000);
  }
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, AClientThatHalfClosesAfterItsRequestGetsItsAnswerThenTheEnd) {
  // The second request and the FIN usually arrive together, while the
  // server waits for epoll; its read cannot see the FIN behind the bytes,
  // and no event follows: the sweep must find it (within 500 ms). (The idle
  // timeout never passes here: the test's clock stands still.)
  Start();
  for (int i = 0; i < 3; ++i) {
    RawClient c(server_->port());
    ASSERT_TRUE(c.send(Get("/hello")));
    EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    ASSERT_TRUE(c.send(Get("/hello")));
    c.finish_sending();
    EXPECT_EQ(c.read_response().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
    EXPECT_TRUE(c.closed_within(5000));
  }
}

TEST_F(HttpServerTest, SlowHeadersAreCutOffWhileOthersAreServed) {
  HttpServerOptions o;
  o.header_timeout = 5s;
  o.idle_timeout = 60s;
  Start(o);
  RawClient slow(server_->port());
  ASSERT_TRUE(slow.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: "));  // never finishes
  // Let the server see the first bytes before time moves.
  RawClient probe(server_->port());
  ASSERT_TRUE(probe.send(Get("/hello")));
  EXPECT_EQ(probe.read_response().rfind("HTTP/1.1 200", 0), 0u);
  bool closed = false;
  for (int i = 0; i < 10 && !closed; ++i) {
    clock_.advance(6s);
    closed = slow.closed_within(1000);
  }
  EXPECT_TRUE(closed);
  RawClient other(server_->port());
  ASSERT_TRUE(other.send(Get("/hello")));
  EXPECT_EQ(other.read_response().rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_GE(metrics_.value("agentgate_http_timeouts_total", {{"server", "agentgate"}}), 1);
}

TEST_F(HttpServerTest, ConnectionsOverTheCapGet503) {
  HttpServerOptions o;
  o.max_connections = 2;
  Start(o);
  RawClient a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.send(Get("/hello")));
  ASSERT_TRUE(b.send(Get("/hello")));
  a.read_response();
  b.read_response();
  RawClient third(server_->port());
  std::string r = third.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  EXPECT_NE(r.find("too_many_connections"), std::string::npos);
}

TEST_F(HttpServerTest, ShutdownFinishesInFlightRequestThenStops) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.send(Get("/slow")));
  while (!slow_entered_) std::this_thread::yield();
  RawClient idle(server_->port());
  std::thread stopper([this] { server_->shutdown(); });
  EXPECT_TRUE(idle.closed_by_peer());  // idle connections are closed at once
  slow_release_ = true;
  std::string r = c.read_response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
  EXPECT_NE(r.find("\r\n\r\ndone"), std::string::npos);
  stopper.join();
  RawClient after(server_->port());
  EXPECT_FALSE(after.connected());
}

}  // namespace
}  // namespace agentgate
