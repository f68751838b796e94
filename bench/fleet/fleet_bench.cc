// agentgate_fleet_bench: throughput of a fleet (3 agentgate instances sharing
// one redis-server, tests/integration/support/fleet.h) next to one instance
// in memory mode and one instance on Redis, both in front of agentgate-mock, with the Redis round
// trips per request counted (agentgate_redis_commands_total{concern} deltas summed over the
// instances, and INFO commandstats deltas on the server).
//
//   build/release/bench/agentgate_fleet_bench [--seconds 5] [--clients 8]
//
// Two workloads per configuration: "miss" (every prompt new: rate-limit
// check, cache lookup, de-duplication lock, upstream call, cache store) and
// "hit" (20 prompts asked again and again: rate-limit check, cache hit).
// Load: LoadGenerator threads over keep-alive connections, round robin over
// the instances. Prints a Markdown table (also written to
// bench/results/fleet.md when run from the repository root) with the load
// average, since the machine may be shared. Every process started here is
// stopped by its PID (the Fleet and GatewayProcess destructors).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "integration/support/fleet.h"
#include "integration/support/load_generator.h"

namespace agentgate::test {
namespace {

using std::chrono::milliseconds;

const std::string kServer = "  access_log: \"off\"\n";
const std::string kSections =
    "rate_limit:\n  default_tier: bench\n  enable_analytics: false\n  tiers:\n"
    "    bench: {per_second: 1000000, per_minute: 0, per_hour: 0, per_day: 0}\n"
    "cache:\n  semantic_enabled: false\n"
    "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n";

// CpuSeconds: user + system CPU of a process (from /proc/<pid>/stat).
double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Row {
  std::string config, workload;
  double rps = 0;
  double gateway_cpu_us = 0;  // gateway CPU per request (all instances)
  double redis_cpu_us = 0;    // redis-server CPU per request
  int64_t requests = 0, errors = 0;
  std::map<std::string, double> per_concern;  // Redis commands per request, by concern
  std::map<std::string, double> per_command;  // server-side calls per request, by command
  std::string load;
};

LoadRequest Make(const std::string& workload, int client, int64_t seq) {
  const std::string content = workload == "hit"
                                  ? "a popular question number " + std::to_string(seq % 20)
                                  : "new question " + std::to_string(client) + "-" +
                                        std::to_string(seq) + "-" + std::to_string(::getpid());
  return {.body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" + content +
                  R"("}]})",
          .headers = {{"X-User-Id", "bench-" + std::to_string(client)}}};
}

std::map<std::string, double> CommandStats(agentgate::testing::RedisServer& redis) {
  std::map<std::string, double> out;
  Result<RedisReply> r = redis.command({"INFO", "commandstats"});
  if (!r.ok()) return out;
  std::istringstream lines(r->str);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("cmdstat_", 0) != 0) continue;
    size_t colon = line.find(':');
    size_t calls = line.find("calls=");
    if (colon == std::string::npos || calls == std::string::npos) continue;
    out[line.substr(8, colon - 8)] = std::atof(line.c_str() + calls + 6);
  }
  return out;
}

std::map<std::string, double> ConcernCommands(const std::vector<uint16_t>& ports) {
  std::map<std::string, double> out;
  for (uint16_t port : ports) {
    std::string text = Request(port, "GET", "/metrics").body;
    for (const char* c :
         {"semantic", "response", "embedding", "dedup", "costs", "keys", "ratelimit", "default"}) {
      out[c] +=
          MetricSample(text, std::string("agentgate_redis_commands_total{concern=\"") + c + "\"}")
              .value_or(0);
    }
  }
  return out;
}

Row Measure(const std::string& config, const std::string& workload,
            const std::vector<uint16_t>& ports, const std::vector<pid_t>& gateway_pids,
            agentgate::testing::RedisServer* redis, int clients, milliseconds duration) {
  // Warm up (connections, caches for "hit", scripts), then measure.
  {
    LoadGenerator warm(
        {.ports = ports, .clients = clients, .max_requests = 200, .make = [&](int c, int64_t s) {
           return Make(workload, c, s + 1000000);
         }});
    warm.start();
    warm.wait();
  }
  Row row{.config = config, .workload = workload};
  double cpu0 = 0, redis_cpu0 = redis ? CpuSeconds(redis->pid()) : 0;
  for (pid_t p : gateway_pids) cpu0 += CpuSeconds(p);
  auto concern0 = ConcernCommands(ports);
  auto cmd0 = redis ? CommandStats(*redis) : std::map<std::string, double>{};
  const auto start = std::chrono::steady_clock::now();
  LoadGenerator load(
      {.ports = ports, .clients = clients, .max_duration = duration, .make = [&](int c, int64_t s) {
         return Make(workload, c, s);
       }});
  load.start();
  load.wait();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu1 = 0;
  for (pid_t p : gateway_pids) cpu1 += CpuSeconds(p);
  LoadTotals t = load.totals();
  row.requests = t.requests;
  row.errors = t.requests - t.ok;
  row.rps = static_cast<double>(t.requests) / secs;
  const double n = t.requests > 0 ? static_cast<double>(t.requests) : 1;
  row.gateway_cpu_us = (cpu1 - cpu0) / n * 1e6;
  if (redis) {
    row.redis_cpu_us = (CpuSeconds(redis->pid()) - redis_cpu0) / n * 1e6;
    auto concern1 = ConcernCommands(ports);
    for (const auto& [c, v] : concern1) {
      if (v - concern0[c] > 0) row.per_concern[c] = (v - concern0[c]) / n;
    }
    auto cmd1 = CommandStats(*redis);
    for (const auto& [c, v] : cmd1) {
      if (c == "info") continue;  // ours
      if (v - cmd0[c] > 0) row.per_command[c] = (v - cmd0[c]) / n;
    }
  }
  row.load = LoadAverage();
  return row;
}

std::string Format(const std::map<std::string, double>& m) {
  std::string s;
  char buf[64];
  for (const auto& [k, v] : m) {
    std::snprintf(buf, sizeof buf, "%s%s %.2f", s.empty() ? "" : ", ", k.c_str(), v);
    s += buf;
  }
  return s.empty() ? "-" : s;
}

int Main(int argc, char** argv) {
  int seconds = 5, clients = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--clients") clients = std::atoi(argv[i + 1]);
  }
  const milliseconds duration(seconds * 1000);
  std::vector<Row> rows;
  {  // One instance, memory mode (no redis section), same mock.
    auto mock = MockProcess::Start();
    if (!mock) return 1;
    auto gw =
        GatewayProcess::Start("server:\n" + kServer + kSections +
                              "upstreams:\n  - name: mock\n    base_url: http://127.0.0.1:" +
                              std::to_string(mock->port()) + "/v1\n    models: [gpt-4o-mini]\n");
    if (!gw) return 1;
    for (const char* w : {"miss", "hit"}) {
      rows.push_back(Measure("1 instance, memory", w, {gw->port()}, {gw->process().pid()}, nullptr,
                             clients, duration));
    }
  }
  // One instance on Redis (what Redis costs), then the fleet: 3 instances + Redis.
  for (int instances : {1, 3}) {
    auto fleet = Fleet::Start({.instances = instances, .server = kServer, .sections = kSections});
    if (!fleet) return 1;
    std::vector<pid_t> pids;
    for (int i = 0; i < fleet->size(); ++i) pids.push_back(fleet->instance(i).process().pid());
    const std::string name =
        instances == 1 ? "1 instance + Redis" : std::to_string(instances) + " instances + Redis";
    for (const char* w : {"miss", "hit"}) {
      rows.push_back(Measure(name, w, fleet->ports(), pids, &fleet->redis(), clients, duration));
    }
  }
  std::ostringstream md;
  char line[1024];
  md << "| config | workload | req/s | gateway CPU µs/req | redis CPU µs/req | errors | Redis "
        "commands per request, by concern (client side) | by command (server side) | load avg |\n"
        "|---|---|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    std::snprintf(
        line, sizeof line, "| %s | %s | %.0f | %.0f | %s | %lld | %s | %s | %s |\n",
        r.config.c_str(), r.workload.c_str(), r.rps, r.gateway_cpu_us,
        r.per_command.empty() ? "-" : std::to_string(static_cast<int>(r.redis_cpu_us)).c_str(),
        static_cast<long long>(r.errors), Format(r.per_concern).c_str(),
        Format(r.per_command).c_str(), r.load.c_str());
    md << line;
  }
  md << "\n"
     << seconds << " s per row, " << clients
     << " client threads (keep-alive, round robin over the instances), "
        "agentgate-mock upstream without latency, all on this machine.\n";
  std::fputs(md.str().c_str(), stdout);
  if (std::ifstream("bench/http_bench.py")) {
    std::filesystem::create_directories("bench/results");
    std::ofstream("bench/results/fleet.md") << md.str();
  }
  return 0;
}

}  // namespace
}  // namespace agentgate::test

int main(int argc, char** argv) { return agentgate::test::Main(argc, argv); }
