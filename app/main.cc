#include <csignal>
#include <boost/asio/awaitable.hpp>
#include <spdlog/spdlog.h>

#include "server/http_server.h"
#include "server/router.h"

using namespace agentgate;

int main() {
  MetricsRegistry metrics;
  Router router;
  router.add(HttpMethod::kGet, "/healthz", [](HttpRequest&, HttpResponse& res) -> boost::asio::awaitable<void> {
    res.body = R"({"status":"ok"})";
    co_return;
  });
  HttpServerOptions o;
  o.access_log = AccessLogFormat::kOff;
  HttpServer server(o, [&](HttpRequest& q, HttpResponse& r) { return router.dispatch(q, r); }, &metrics);
  sigset_t set; sigemptyset(&set); sigaddset(&set, SIGINT); sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto s = server.start();
  if (!s.ok()) { spdlog::error("{}", s.ToString()); return 1; }
  int sig; sigwait(&set, &sig);
  server.shutdown();
}
