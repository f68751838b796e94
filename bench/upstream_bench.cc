// Upstream client round trip to an in-process HttpServer on loopback, one
// connection, one request at a time.
//
//   BM_UpstreamClientRoundTrip: UpstreamClient::send() on a keep-alive
//     connection; the benchmark loop runs inside a coroutine on the client's
//     own io_context (on the benchmark thread), so no harness hand-off is
//     measured.
//   BM_RawSocketRoundTrip: the same request bytes over a blocking socket:
//     the floor (server + kernel). The difference is the client's cost.
//
// Counters: proc_cpu_us = CPU of the whole process (client + server
// threads) per request; the CPU column is the client thread alone.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "server/http_server.h"
#include "server/router.h"
#include "upstream/upstream_client.h"

namespace agentgate {
namespace {

namespace net = boost::asio;

const std::string kRequestBody =
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},)"
    R"({"role":"user","content":"Say hello in five words, please."}],"max_tokens":32})";
const std::string kResponseBody =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, nice to meet."},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":7,"total_tokens":31}})";

struct Upstream {
  Upstream() {
    router.add(HttpMethod::kPost, "/v1/chat/completions",
               [](HttpRequest&, HttpResponse& res) -> net::awaitable<void> {
                 res.body = kResponseBody;
                 co_return;
               });
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    o.access_log = AccessLogFormat::kOff;
    server = std::make_unique<HttpServer>(
        o, [this](HttpRequest& q, HttpResponse& r) { return router.dispatch(q, r); }, nullptr);
    if (!server->start().ok()) std::abort();
  }
  Router router;
  std::unique_ptr<HttpServer> server;
};

Upstream& SharedUpstream() {
  static Upstream* u = new Upstream();  // lives for the process
  return *u;
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void BM_UpstreamClientRoundTrip(benchmark::State& state) {
  Upstream& up = SharedUpstream();
  UpstreamEndpoint e;
  e.name = "bench";
  e.base_url = "http://127.0.0.1:" + std::to_string(up.server->port());
  e.api_key = "sk-bench";
  auto client = UpstreamClient::Create(e, nullptr);
  if (!client.ok()) {
    state.SkipWithError(client.status().message().c_str());
    return;
  }
  net::io_context ioc(1);
  UpstreamRequest req{HttpMethod::kPost, "/v1/chat/completions", kRequestBody, {}};
  bool done = false;
  bool failed = false;
  double cpu0 = 0;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        // Warm the pool so that the connect is not measured.
        auto warm = co_await (*client)->send(req);
        failed = !warm.ok();
        cpu0 = ProcessCpuSeconds();
        if (!failed) {
          for (auto _ : state) {
            auto r = co_await (*client)->send(req);
            if (!r.ok() || r->status != 200) {
              failed = true;
              break;
            }
            benchmark::DoNotOptimize(r->body.data());
          }
        }
        done = true;
      },
      net::detached);
  while (!done) ioc.run_one();
  if (failed) state.SkipWithError("request failed");
  state.counters["proc_cpu_us"] = benchmark::Counter(
      (ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_UpstreamClientRoundTrip)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_RawSocketRoundTrip(benchmark::State& state) {
  Upstream& up = SharedUpstream();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(up.server->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    state.SkipWithError("connect failed");
    return;
  }
  std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(kRequestBody.size()) +
                        "\r\nAccept: application/json\r\n\r\n" + kRequestBody;
  std::string buf(16384, '\0');
  auto round_trip = [&]() -> bool {
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      return false;
    }
    size_t have = 0;
    for (;;) {
      ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have, 0);
      if (n <= 0) return false;
      have += static_cast<size_t>(n);
      std::string_view v(buf.data(), have);
      size_t end = v.find("\r\n\r\n");
      if (end != std::string_view::npos && have >= end + 4 + kResponseBody.size()) return true;
    }
  };
  round_trip();
  double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    if (!round_trip()) {
      state.SkipWithError("round trip failed");
      break;
    }
  }
  state.counters["proc_cpu_us"] = benchmark::Counter(
      (ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(state.iterations()));
  ::close(fd);
}
BENCHMARK(BM_RawSocketRoundTrip)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace agentgate
