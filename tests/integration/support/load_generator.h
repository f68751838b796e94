// LoadGenerator: client threads that send requests to several agentgate
// instances, spreading them round robin (client c's k-th request goes to
// instance (c + k) % n), each thread over keep-alive connections, one per
// instance. Used by the fleet tests (with a callback that sees every answer)
// and by the fleet benchmark (counts only).
//
//   LoadGenerator load({.ports = fleet->ports(), .clients = 6,
//                       .make = [](int client, int64_t seq) { return LoadRequest{.body = kChat}; },
//                       .on_response = [&](const LoadSample& s) { ... }});
//   load.start();
//   ...                                  // faults, polling
//   load.stop();                          // or wait() for max_requests
//   LoadTotals t = load.totals();
//
// Every run is bounded: by max_requests, else by max_duration (a safety
// net, default 60 s), else by stop().
// Thread-safety: start/stop/wait from one thread; totals()/completed() from
// any; `make` and `on_response` run on the client threads (concurrently).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "integration/support/http_client.h"

namespace agentgate::test {

struct LoadRequest {
  std::string method = "POST";
  std::string target = "/v1/chat/completions";
  std::string body;
  TestHeaders headers;
};

struct LoadSample {
  int client = 0;
  int64_t seq = 0;   // the client's request number
  int instance = 0;  // index into LoadOptions::ports
  const LoadRequest* request = nullptr;
  HttpResult result;
  std::chrono::steady_clock::time_point sent, received;
};

struct LoadOptions {
  // ports: the instances, in fleet order.
  std::vector<uint16_t> ports;
  // clients: threads, each sending one request at a time. Default 6.
  int clients = 6;
  // max_requests: total over all clients; 0 = until stop(). Default 0.
  int64_t max_requests = 0;
  // max_duration: the run ends by itself after this long. Default 60 s.
  std::chrono::milliseconds max_duration{60000};
  // timeout: per request. Default 10 s.
  std::chrono::milliseconds timeout{10000};
  // make: the next request of `client` (its `seq`-th). Required.
  std::function<LoadRequest(int client, int64_t seq)> make;
  // on_response: sees every answer (transport failures included). Optional.
  std::function<void(const LoadSample&)> on_response;
};

// LoadTotals: answers by class, all instances together and per instance.
struct LoadTotals {
  int64_t requests = 0;
  int64_t ok = 0;                     // 2xx
  int64_t limited = 0;                // 429
  int64_t client_error = 0;           // other 4xx
  int64_t server_error = 0;           // 5xx
  int64_t transport = 0;              // no answer (refused, reset, timeout)
  std::vector<int64_t> per_instance;  // answers of any status, per instance
};

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options);
  ~LoadGenerator();  // stop()
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  void start();
  // stop: asks the clients to finish their current request and joins them.
  void stop();
  // wait: joins the clients (they end at max_requests or max_duration).
  void wait();

  int64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  LoadTotals totals() const;

 private:
  void run(int client);

  const LoadOptions options_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> issued_{0};
  std::atomic<int64_t> completed_{0};
  // [0] ok, [1] 429, [2] other 4xx, [3] 5xx, [4] transport
  std::array<std::atomic<int64_t>, 5> classes_{};
  std::vector<std::atomic<int64_t>> per_instance_;
};

}  // namespace agentgate::test
