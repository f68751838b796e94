// HttpServer: HTTP/1.1 over Boost.Beast with C++20 coroutines.
//
// One io_context and one SO_REUSEPORT listener per worker thread, so a
// request is parsed, handled and answered on one thread without locks.
// Keep-alive, a request body limit (413), a header size limit (431), idle,
// header and body timeouts (enforced by a per-worker sweep, not a timer per
// operation), a cap on open connections (503 beyond it), X-Request-Id echoed
// or generated, an access log, and graceful shutdown.
//
//   HttpServer server(options, handler, &metrics);
//   if (Status s = server.start(); !s.ok()) ...;
//   ...
//   server.shutdown();   // stop accepting, finish in-flight, then stop
//
// Thread-safety: start() once; shutdown(), port(), stopping() and
// active_connections() from any thread. The handler runs on worker threads,
// possibly several at once: it must be thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/core/status.h"
#include "server/http_types.h"

namespace agentgate {

enum class AccessLogFormat { kText, kJson, kOff };

struct HttpServerOptions {
  std::string host = "0.0.0.0";             // address to listen on
  uint16_t port = 8000;                     // 0 = any free port (see port())
  int threads = 0;                          // worker threads; 0 = hardware cores
  size_t max_body_bytes = 10 * 1024 * 1024;  // larger bodies get 413
  size_t max_header_bytes = 16 * 1024;      // larger header sections get 431
  Nanos idle_timeout = std::chrono::seconds(60);    // keep-alive wait for a request
  Nanos header_timeout = std::chrono::seconds(10);  // first byte to end of headers
  Nanos body_timeout = std::chrono::seconds(60);    // reading the body; writing to the client
  size_t max_connections = 10000;           // open connections beyond this get 503
  Nanos shutdown_grace = std::chrono::seconds(30);  // in-flight requests get this long
  AccessLogFormat access_log = AccessLogFormat::kText;
  std::string name = "agentgate";           // metric label and logger name
  const Clock* clock = nullptr;             // time for the timeouts; nullptr = system
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Handler handler, MetricsRegistry* metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // start: binds the listeners and starts the worker threads.
  Status start();

  // port: the bound port (useful with options.port == 0). REQUIRES started.
  uint16_t port() const { return port_; }

  // shutdown: stops accepting, closes idle connections, lets in-flight
  // requests finish for up to shutdown_grace, then stops the workers and
  // joins them. Blocks; idempotent.
  void shutdown();

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  size_t active_connections() const { return active_.load(std::memory_order_relaxed); }
  int worker_count() const;

  // CurrentWorker: the index of the worker thread running the caller, or -1
  // off the server's threads. Lets components keep per-worker state.
  static int CurrentWorker();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> active_{0};
};

}  // namespace agentgate
