// RedisConnections: the gateway's Redis clients, one per concern, each on
// its documented DB (1 semantic, 2 response, 3 embedding, 4 dedup, 5 costs,
// 6 keys, 7 ratelimit; DB 0 for the rest) or all on DB 0 in key-prefix mode.
// They run on one io_context thread owned here; callers on any thread
// co_await their commands (RedisClient resumes them on their own executor).
//
// Thread-safety: client() and healthy() from any thread after start().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "agentgate/core/metrics.h"
#include "config/config.h"
#include "store/redis_client.h"

namespace agentgate {

class RedisConnections {
 public:
  // The concerns with a client; names are metric labels.
  static constexpr const char* kConcerns[] = {"semantic", "response", "embedding", "dedup",
                                              "costs",    "keys",     "ratelimit", "default"};

  RedisConnections(const RedisConfig& config, MetricsRegistry& metrics);
  ~RedisConnections();
  RedisConnections(const RedisConnections&) = delete;
  RedisConnections& operator=(const RedisConnections&) = delete;

  // start: starts the thread and connects every client (reconnecting by
  // itself afterwards). Returns at once; clients become healthy as they connect.
  void start();
  // stop: stops the clients and joins the thread. Idempotent.
  void stop();

  // client: the client of `concern` (one of kConcerns). REQUIRES: started.
  RedisClient& client(std::string_view concern);
  // key_prefix: "" in DB mode, else the configured prefix (key-prefix mode).
  const std::string& key_prefix() const { return config_.key_prefix; }
  // prefix_mode: every concern in DB 0, apart by prefix (RedisConfig::mode).
  bool prefix_mode() const { return config_.prefix_mode(); }
  // concern_prefix: what starts every key of `concern`: "<key_prefix><concern>:"
  // in prefix mode, "" in DB mode (the concern has a database of its own).
  std::string concern_prefix(std::string_view concern) const {
    return prefix_mode() ? config_.key_prefix + std::string(concern) + ":" : std::string();
  }

  // health: ok when every client is connected, else the reason.
  struct Health {
    bool ok = true;
    std::string reason;
  };
  Health health() const;
  // health: the same for the client of one concern (one of kConcerns).
  Health health(std::string_view concern) const;

 private:
  const RedisConfig config_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::map<std::string, std::unique_ptr<RedisClient>, std::less<>> clients_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace agentgate
