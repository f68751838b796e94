// agentgate-mock: the OpenAI-compatible simulator with fault injection, as its
// own process (see src/mock/mock_upstream.h for the routes and faults).
//
//   agentgate-mock --port 0 --seed 7
//   -> agentgate-mock listening on 127.0.0.1:43117
//
// The "listening" line is printed (and flushed) once the port is bound, so a
// test can read the port from it. SIGTERM or SIGINT stop it with exit code 0.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <pthread.h>

#include "mock/mock_upstream.h"
#include "server/http_server.h"
#include "server/router.h"

using namespace agentgate;

int main(int argc, char** argv) {
  CLI::App app{"agentgate-mock: an OpenAI-compatible upstream simulator with fault injection"};
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 2;
  uint64_t seed = 42;
  std::string api_key;
  std::vector<std::string> models;
  std::string faults_json;
  bool access_log = false;
  app.add_option("--host", host, "Address to listen on")->capture_default_str();
  app.add_option("--port", port, "Port to listen on; 0 = any free port")->capture_default_str();
  app.add_option("--threads", threads, "Worker threads")->capture_default_str()->check(
      CLI::Range(1, 64));
  app.add_option("--seed", seed, "Seed for fault rates and latency ranges")->capture_default_str();
  app.add_option("--api-key", api_key,
                 "Require 'Authorization: Bearer <key>' on /v1/* (401 otherwise)");
  app.add_option("--models", models, "Models listed by GET /v1/models (comma-separated)")
      ->delimiter(',');
  app.add_option("--faults", faults_json,
                 "Initial faults, as the JSON body of POST /_mock/faults");
  app.add_flag("--access-log", access_log, "Log every request");
  CLI11_PARSE(app, argc, argv);

  MockUpstreamOptions options;
  options.seed = seed;
  options.required_api_key = api_key;
  if (!models.empty()) options.models = models;
  if (!faults_json.empty()) {
    Result<Json> j = ParseJsonObject(faults_json);
    Result<MockFaults> f = j.ok() ? ParseMockFaults(*j) : Result<MockFaults>(j.status());
    if (!f.ok()) {
      std::fprintf(stderr, "agentgate-mock: --faults: %s\n", f.status().message().c_str());
      return 2;
    }
    options.initial_faults = *f;
  }

  MockUpstream mock(options);
  Router router;
  mock.register_routes(router);

  HttpServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.threads = threads;
  server_options.access_log = access_log ? AccessLogFormat::kText : AccessLogFormat::kOff;
  server_options.shutdown_grace = std::chrono::seconds(2);
  server_options.name = "agentgate-mock";
  MetricsRegistry metrics;
  HttpServer server(
      server_options, [&router](HttpRequest& req, HttpResponse& res) { return router.dispatch(req, res); },
      &metrics);

  // Block the stop signals before any thread starts, so that every thread
  // inherits the mask and only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (Status s = server.start(); !s.ok()) {
    std::fprintf(stderr, "agentgate-mock: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("agentgate-mock listening on %s:%u\n", host.c_str(), static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("agentgate-mock: signal {}, shutting down", sig);
  mock.stop();
  server.shutdown();
  return 0;
}
