// Fleet: what a multi-instance deployment looks like, on loopback: one real
// redis-server, the agentgate-mock upstream, and N (default 3) real agentgate
// processes sharing them, each with its own data dir and port. The fleet
// tests (tests/integration/fleet*_test.cc) and the fleet benchmark
// (bench/fleet_bench.cc) both start it; LoadGenerator spreads requests over
// its ports.
//
//   auto fleet = Fleet::Start({.sections = "cache:\n  enabled: false\n"});
//   ASSERT_NE(fleet, nullptr);
//   HttpResult r = Request(fleet->port(1), "POST", "/v1/chat/completions", body);
//   fleet->kill(0);                   // SIGKILL, by its PID
//   ASSERT_TRUE(fleet->restart(0));   // same config, fresh data dir
//   int calls = fleet->upstream_calls("/v1/chat/completions");
//
// Every instance runs the same YAML: the fixed part (admin key, the `redis:`
// section with short timeouts, the mock upstream for gpt-4o, gpt-4o-mini and
// text-embedding-3-small, and optionally a `dead` upstream on a closed port
// for the model gpt-dead) followed by FleetOptions::sections.
//
// Failures to start are gtest failures (ADD_FAILURE) and a nullptr.
// Thread-safety: none; drive it from the test's thread (LoadGenerator threads
// only use the ports). Ownership: owns every process; destruction kills them
// by their PIDs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agentgate/core/json.h"
#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"

namespace agentgate::test {

inline constexpr const char* kFleetAdminKey = "fleet-admin-key";

struct FleetOptions {
  // instances: agentgate processes. Default 3.
  int instances = 3;
  // server: lines added under the fixed `server:` section (indented, e.g.
  // "  access_log: \"off\"\n"). Default: none.
  std::string server;
  // sections: YAML appended to every instance's config (cache:, rate_limit:,
  // experiments:, error_recovery:, ...). Default: none.
  std::string sections;
  // mock_args: extra agentgate-mock arguments. Default none.
  std::vector<std::string> mock_args;
  // dead_upstream: add upstream `dead` (a closed loopback port) serving the
  // model `gpt-dead`, whose requests fail (dead letters). Default false.
  bool dead_upstream = false;
  // redis_timeout_ms: redis.connect_timeout_ms and command_timeout_ms. Default 200.
  int redis_timeout_ms = 200;
  // env: extra environment of the instances ("NAME=value"). Default none.
  std::vector<std::string> env;
  // redis_rdb: give redis-server an RDB file of its own (removed with the
  // fleet), so that `redis().command({"SAVE"})` before `redis().stop()` makes
  // the next start() come back with the data, as a Redis with persistence
  // does. Default false: a restarted Redis is empty.
  bool redis_rdb = false;
};

class Fleet {
 public:
  static std::unique_ptr<Fleet> Start(FleetOptions options);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  int size() const { return static_cast<int>(instances_.size()); }
  uint16_t port(int i) const { return ports_.at(static_cast<size_t>(i)); }
  // ports: every instance's port, in order (a killed instance keeps its slot).
  const std::vector<uint16_t>& ports() const { return ports_; }
  GatewayProcess& instance(int i) { return *instances_.at(static_cast<size_t>(i)); }
  agentgate::testing::RedisServer& redis() { return redis_; }
  MockProcess& mock() { return *mock_; }
  const std::string& config() const { return config_; }

  // kill: SIGKILL to instance i, then reaps it.
  void kill(int i);
  // alive: instance i still runs.
  bool alive(int i);
  // restart: instance i again (after kill or not), same config, fresh data
  // dir, a new port (ports()[i] is updated). false on failure.
  bool restart(int i);

  // admin: an admin API call on instance i.
  HttpResult admin(int i, std::string_view method, std::string_view path,
                   std::string_view body = {});
  // readyz: instance i's /readyz body (a discarded value on no answer).
  Json readyz(int i);
  // metric: the value of one sample of instance i's /metrics, e.g.
  // "agentgate_cache_store_errors_total{cache=\"response\"}"; 0 when absent.
  double metric(int i, const std::string& sample);

  // upstream_calls: requests the mock received on `path` ("" = all).
  int upstream_calls(const std::string& path = "");
  void reset_upstream_stats();
  void set_faults(const std::string& json);

  // redis_calls: calls of `command` (lower case, e.g. "evalsha") on the
  // Redis server since it (re)started, from INFO commandstats.
  int64_t redis_calls(const std::string& command);

 private:
  explicit Fleet(const FleetOptions& options);

  FleetOptions options_;
  std::string rdb_path_;  // redis_rdb: the RDB file to remove
  agentgate::testing::RedisServer redis_;
  std::unique_ptr<MockProcess> mock_;
  std::string config_;
  std::vector<std::unique_ptr<GatewayProcess>> instances_;
  std::vector<uint16_t> ports_;
};

// MetricSample: the value of `sample` (name with labels, as printed) in
// Prometheus text; nullopt when absent.
std::optional<double> MetricSample(const std::string& text, const std::string& sample);

}  // namespace agentgate::test
