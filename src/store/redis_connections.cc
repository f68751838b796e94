#include "store/redis_connections.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace agentgate {

namespace {

int DbFor(const RedisConfig& c, std::string_view concern) {
  if (c.prefix_mode()) return 0;
  const RedisDbs& d = c.dbs;
  if (concern == "semantic") return d.semantic;
  if (concern == "response") return d.response;
  if (concern == "embedding") return d.embedding;
  if (concern == "dedup") return d.dedup;
  if (concern == "costs") return d.costs;
  if (concern == "keys") return d.keys;
  if (concern == "ratelimit") return d.ratelimit;
  return 0;
}

std::chrono::milliseconds Ms(Nanos d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

}  // namespace

RedisConnections::RedisConnections(const RedisConfig& config, MetricsRegistry& metrics)
    : config_(config), work_(ioc_.get_executor()) {
  for (const char* concern : kConcerns) {
    RedisOptions o;
    o.host = config_.host;
    o.port = config_.port;
    o.password = config_.password;
    o.db = DbFor(config_, concern);
    o.connect_timeout = Ms(config_.connect_timeout);
    o.command_timeout = Ms(config_.command_timeout);
    o.reconnect_max_backoff = std::max(o.reconnect_min_backoff, Ms(config_.reconnect_max_backoff));
    o.concern = concern;
    clients_.emplace(concern, std::make_unique<RedisClient>(ioc_.get_executor(), o, metrics));
  }
}

RedisConnections::~RedisConnections() { stop(); }

void RedisConnections::start() {
  for (auto& [_, c] : clients_) c->start();
  thread_ = std::thread([this] { ioc_.run(); });
}

void RedisConnections::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [_, c] : clients_) c->stop();
  work_.reset();
  if (thread_.joinable()) {
    // Let the clients' asynchronous shutdown run, then end the loop.
    ioc_.stop();
    thread_.join();
  }
}

RedisClient& RedisConnections::client(std::string_view concern) {
  auto it = clients_.find(concern);
  if (it == clients_.end()) throw std::logic_error("unknown redis concern");
  return *it->second;
}

RedisConnections::Health RedisConnections::health(std::string_view concern) const {
  Health h;
  auto it = clients_.find(concern);
  if (it == clients_.end()) return {false, "no such concern"};
  if (!it->second->healthy()) {
    h.ok = false;
    Status e = it->second->last_error();
    h.reason = e.ok() ? std::string("connecting") : e.message();
  }
  return h;
}

RedisConnections::Health RedisConnections::health() const {
  Health h;
  for (const auto& [name, c] : clients_) {
    if (!c->healthy()) {
      h.ok = false;
      if (!h.reason.empty()) h.reason += "; ";
      Status e = c->last_error();
      h.reason += name + ": " + (e.ok() ? std::string("connecting") : e.message());
    }
  }
  return h;
}

}  // namespace agentgate
