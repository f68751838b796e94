// MockUpstream: an OpenAI-compatible simulator with fault injection, used by
// every test and benchmark and by `agentgate serve --demo`.
//
//   MockUpstream mock(MockUpstreamOptions{});
//   Router router;
//   mock.register_routes(router);
//   HttpServer server(opts, [&](HttpRequest& q, HttpResponse& r) { return router.dispatch(q, r); },
//                     &metrics);
//   server.start();
//   ...
//   mock.stop();        // release hung requests first, so shutdown is quick
//   server.shutdown();
//
// Routes:
//   POST /v1/chat/completions  deterministic "Echo: <last user message>"; SSE with stream: true
//   POST /v1/completions       legacy completions, one choice per prompt; SSE too
//   POST /v1/embeddings        hashed bag-of-words embeddings (see mock_content.h)
//   GET  /v1/models, GET /v1/models/{model}
//   POST /_mock/faults         set the faults (see mock_faults.h); answers the faults now set
//   GET  /_mock/faults         the faults now set
//   GET  /_mock/stats          {"total", "calls": {path: n}, "faults_injected": {action: n},
//                               "last_authorization", "last_request", "faults"}
//   POST /_mock/reset, DELETE /_mock/stats   zero the counters (faults stay)
//
// Faults and the optional API-key check apply to /v1/* only. Every /v1/*
// request is counted in the stats, faulted ones included, before its faults
// (latency first, then the key check, then reset/hang/error/invalid JSON).
//
// Thread-safety: handlers may run concurrently on several threads; one mutex
// guards the faults, the counters and the random generator.
// Ownership: the MockUpstream must outlive the Router it registered with (the
// handlers hold a pointer to it) and every request in flight.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "agentgate/core/clock.h"
#include "mock/mock_faults.h"
#include "server/router.h"

namespace agentgate {

struct MockUpstreamOptions {
  // Models listed by GET /v1/models. Requests may name any model; it is echoed.
  std::vector<std::string> models = {"gpt-4o", "gpt-4o-mini", "text-embedding-3-small"};
  // When not empty, /v1/* requests need "Authorization: Bearer <key>" (401 otherwise).
  std::string required_api_key;
  // Seed of the generator behind fault rates and latency ranges.
  uint64_t seed = 42;
  // Embedding dimensions when the request has no `dimensions`.
  int default_embedding_dimensions = 256;
  // Longest echoed user text, in bytes.
  size_t max_echo_chars = 200;
  // A hung request gives up (closes its connection) after this long.
  Nanos max_hang = std::chrono::minutes(10);
  // Faults in force from the start (POST /_mock/faults replaces them).
  MockFaults initial_faults;
  // Source of `created` timestamps. Not owned; must outlive the mock.
  const Clock* clock = &Clock::system();
};

class MockUpstream {
 public:
  explicit MockUpstream(MockUpstreamOptions options);
  MockUpstream(const MockUpstream&) = delete;
  MockUpstream& operator=(const MockUpstream&) = delete;

  // register_routes: adds every route above to `router`. REQUIRES: the
  // router is not serving yet.
  void register_routes(Router& router);

  // set_faults / faults: the faults in force (what POST /_mock/faults sets).
  void set_faults(const MockFaults& faults);
  MockFaults faults() const;

  // stats_json: the document GET /_mock/stats answers.
  Json stats_json() const;
  // reset_stats: zeroes the counters and forgets the last request.
  void reset_stats();
  // total_calls: /v1/* requests received since the last reset.
  uint64_t total_calls() const;

  // stop: hung and delayed requests close their connections at once
  // (within ~100 ms); later ones are refused the same way. Call before the
  // server's shutdown(). Idempotent; any thread.
  void stop();

 private:
  enum class Endpoint { kChat, kCompletions, kEmbeddings, kModels, kModel };

  boost::asio::awaitable<void> serve_v1(HttpRequest& req, HttpResponse& res, Endpoint endpoint);
  // admit: counts the request, records it, and draws its faults.
  FaultPlan admit(const HttpRequest& req);
  bool authorized(const HttpRequest& req) const;

  boost::asio::awaitable<void> chat(HttpRequest& req, HttpResponse& res, const FaultPlan& plan);
  boost::asio::awaitable<void> completions(HttpRequest& req, HttpResponse& res,
                                           const FaultPlan& plan);
  void embeddings(const HttpRequest& req, HttpResponse& res);
  void models(HttpResponse& res) const;
  void model(const HttpRequest& req, HttpResponse& res) const;

  // sleep: waits `d` without blocking the thread; false if stop() came first.
  boost::asio::awaitable<bool> sleep(Nanos d) const;
  // next_id: a fresh id with `prefix`, e.g. "chatcmpl-".
  std::string next_id(std::string_view prefix, std::string_view body);
  int64_t now_seconds() const;
  void count_injected(std::string_view what);

  const MockUpstreamOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> sequence_{0};

  mutable std::mutex mu_;
  MockFaults faults_;                            // GUARDED_BY(mu_)
  std::mt19937_64 rng_;                          // GUARDED_BY(mu_)
  uint64_t total_ = 0;                           // GUARDED_BY(mu_)
  std::map<std::string, uint64_t, std::less<>> calls_;     // GUARDED_BY(mu_)
  std::map<std::string, uint64_t, std::less<>> injected_;  // GUARDED_BY(mu_)
  std::string last_authorization_;               // GUARDED_BY(mu_)
  std::string last_body_;                        // GUARDED_BY(mu_)
  bool has_last_ = false;                        // GUARDED_BY(mu_)
};

}  // namespace agentgate
