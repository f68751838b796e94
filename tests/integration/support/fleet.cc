#include "integration/support/fleet.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>

namespace agentgate::test {

std::optional<double> MetricSample(const std::string& text, const std::string& sample) {
  size_t at = 0;
  for (;;) {
    at = text.find(sample + " ", at);
    if (at == std::string::npos) return std::nullopt;
    if (at == 0 || text[at - 1] == '\n') break;
    ++at;
  }
  return std::stod(text.substr(at + sample.size() + 1));
}

namespace {
agentgate::testing::RedisServerOptions RedisOptionsFor(const FleetOptions& o, std::string* rdb) {
  agentgate::testing::RedisServerOptions r;
  if (o.redis_rdb) {
    static std::atomic<int> serial{0};
    const std::string name = "agentgate_fleet_" + std::to_string(::getpid()) + "_" +
                             std::to_string(serial.fetch_add(1)) + ".rdb";
    *rdb = (std::filesystem::temp_directory_path() / name).string();
    std::filesystem::remove(*rdb);
    r.extra_args = {"--dbfilename", name};
  }
  return r;
}
}  // namespace

Fleet::Fleet(const FleetOptions& options) : redis_(RedisOptionsFor(options, &rdb_path_)) {}

std::unique_ptr<Fleet> Fleet::Start(FleetOptions options) {
  auto f = std::unique_ptr<Fleet>(new Fleet(options));
  f->options_ = std::move(options);
  if (Status s = f->redis_.start(); !s.ok()) {
    ADD_FAILURE() << "redis-server: " << s.ToString();
    return nullptr;
  }
  f->mock_ = MockProcess::Start(f->options_.mock_args);
  if (!f->mock_) return nullptr;
  const std::string timeout = std::to_string(f->options_.redis_timeout_ms);
  f->config_ = "server:\n  admin_key: " + std::string(kFleetAdminKey) + "\n" + f->options_.server +
               "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(f->redis_.port()) +
               "\n  connect_timeout_ms: " + timeout + "\n  command_timeout_ms: " + timeout +
               "\nupstreams:\n"
               "  - name: mock\n"
               "    base_url: http://127.0.0.1:" +
               std::to_string(f->mock_->port()) +
               "/v1\n"
               "    models: [gpt-4o, gpt-4o-mini, text-embedding-3-small]\n"
               "    first_byte_timeout_ms: 5000\n";
  if (f->options_.dead_upstream) {
    f->config_ += "  - name: dead\n    base_url: http://127.0.0.1:" + std::to_string(FreePort()) +
                  "/v1\n    models: [gpt-dead]\n    connect_timeout_ms: 500\n";
  }
  f->config_ += f->options_.sections;
  for (int i = 0; i < f->options_.instances; ++i) {
    auto gw = GatewayProcess::Start(f->config_, f->options_.env);
    if (!gw) return nullptr;
    f->ports_.push_back(gw->port());
    f->instances_.push_back(std::move(gw));
  }
  return f;
}

Fleet::~Fleet() {
  instances_.clear();  // each GatewayProcess kills its own child
  mock_.reset();
  if (!rdb_path_.empty()) {
    (void)redis_.stop();
    std::error_code ignored;
    std::filesystem::remove(rdb_path_, ignored);
  }
}

void Fleet::kill(int i) {
  GatewayProcess& gw = instance(i);
  gw.process().signal(SIGKILL);
  gw.process().wait(std::chrono::seconds(10));
}

bool Fleet::alive(int i) { return instance(i).process().running(); }

bool Fleet::restart(int i) {
  auto& slot = instances_.at(static_cast<size_t>(i));
  slot.reset();
  slot = GatewayProcess::Start(config_, options_.env);
  if (!slot) return false;
  ports_[static_cast<size_t>(i)] = slot->port();
  return true;
}

HttpResult Fleet::admin(int i, std::string_view method, std::string_view path,
                        std::string_view body) {
  return Request(port(i), method, path, body,
                 {{"Authorization", std::string("Bearer ") + kFleetAdminKey}});
}

Json Fleet::readyz(int i) { return Request(port(i), "GET", "/readyz").json(); }

double Fleet::metric(int i, const std::string& sample) {
  return MetricSample(Request(port(i), "GET", "/metrics").body, sample).value_or(0);
}

int Fleet::upstream_calls(const std::string& path) {
  Json j = Request(mock_->port(), "GET", "/_mock/stats").json();
  if (!j.is_object()) return -1;
  if (path.empty()) return j.value("total", 0);
  return j["calls"].value(path, 0);
}

void Fleet::reset_upstream_stats() { Request(mock_->port(), "POST", "/_mock/reset"); }

void Fleet::set_faults(const std::string& json) {
  EXPECT_EQ(Request(mock_->port(), "POST", "/_mock/faults", json).status, 200);
}

int64_t Fleet::redis_calls(const std::string& command) {
  Result<RedisReply> r = redis_.command({"INFO", "commandstats"});
  if (!r.ok()) return -1;
  const std::string tag = "cmdstat_" + command + ":calls=";
  size_t at = r->str.find(tag);
  if (at == std::string::npos) return 0;
  return std::stoll(r->str.substr(at + tag.size()));
}

}  // namespace agentgate::test
