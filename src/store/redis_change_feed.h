// RedisChangeFeed: tells every gateway instance which shared setting another
// instance changed, so that each can keep a local copy of settings that the
// request path reads without a round trip (tiers and custom limits, spend
// budgets).
//
// A writer stores the setting itself (e.g. a hash per user) and then calls
// publish(name), which appends `name` to a Redis stream (`key`, XADD MAXLEN ~
// max_len). Every instance's reader (start()) polls the stream every `poll`
// and calls on_change(name) for each entry, which re-reads that setting. The
// reader calls on_resync() (reload every setting) at start, after any failed
// read (Redis away, restarted or the stream trimmed past us) and every
// `resync`; then it reads on from the stream's last entry as it was before
// the reload, so no change is missed.
//
// Staleness: a change acknowledged by Redis is applied everywhere within one
// poll interval plus a round trip; while Redis is away each instance keeps
// the settings it last saw, and reloads them all once Redis answers again.
//
// Thread-safety: publish() from any coroutine; start()/stop() from one
// thread. The callbacks run on the client's executor, one at a time.
// Ownership: borrows the client, which must outlive the feed's reader
// (RedisConnections::stop ends it with the client's thread).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "store/redis_client.h"

namespace agentgate {

struct ChangeFeedOptions {
  // How often the stream is read. Default: 250 ms.
  Nanos poll = std::chrono::milliseconds(250);
  // How often everything is reloaded even without a failure. Default: 60 s.
  Nanos resync = std::chrono::seconds(60);
  // Approximate length the stream is trimmed to. Default: 10000.
  size_t max_len = 10000;
};

class RedisChangeFeed {
 public:
  using OnChange = std::function<boost::asio::awaitable<Status>(std::string name)>;
  using OnResync = std::function<boost::asio::awaitable<Status>()>;

  // `errors` counts failed reads and publishes. REQUIRES: outlives the feed.
  RedisChangeFeed(RedisClient& client, std::string key, Counter& errors,
                  ChangeFeedOptions options = {});
  ~RedisChangeFeed();
  RedisChangeFeed(const RedisChangeFeed&) = delete;
  RedisChangeFeed& operator=(const RedisChangeFeed&) = delete;

  // start: spawns the reader on the client's executor. Once.
  void start(OnChange on_change, OnResync on_resync);
  // stop: the reader ends at its next wake-up. Idempotent.
  void stop();

  // publish: appends `name` to the stream (the setting is already stored).
  boost::asio::awaitable<Status> publish(std::string name);

  const std::string& key() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace agentgate
