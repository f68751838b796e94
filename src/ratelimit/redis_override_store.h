// RedisOverrideStore: per-user tiers and custom limits (per window,
// optionally per endpoint) shared by every gateway instance on one Redis.
//
// Redis is the source of truth: one hash per user, `<prefix>ovr:{<user>}`
// (fields `tier`, `second` .. `day`, and `<endpoint>|<window>` for
// per-endpoint limits; the `{<user>}` hash tag keeps a user's keys on one
// cluster slot). An admin change is written there by one Lua call (HSET, then
// the whole hash read back and installed in this instance's RateLimitPolicy)
// and announced on a RedisChangeFeed (`<prefix>ovr:log`); every other instance
// re-reads that user's hash within one poll interval (250 ms) and installs it
// too. The request path never reads Redis for them: RateLimitPolicy::resolve
// reads the local copy, so the rate-limit check stays one round trip.
//
// Staleness bound: a change acknowledged to the admin client applies on every
// instance within the feed's poll interval plus one round trip while Redis is
// reachable; while it is not, each instance applies what it last saw, and
// reloads everything (SCAN `<prefix>ovr:{*`) once Redis answers again.
// Bad input is rejected before anything is written. A write Redis refuses is
// kUnavailable and changes nothing locally.
//
// Errors are counted in agentgate_ratelimit_shared_errors_total{kind="overrides"}.
//
// Thread-safety: the async methods may be called from any coroutine.
// Ownership: borrows the policy and the client; REQUIRES: both outlive the
// store, and the client's executor is stopped before the policy is destroyed.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <string>

#include "agentgate/core/metrics.h"
#include "agentgate/ratelimit/rate_limit_policy.h"
#include "store/redis_change_feed.h"
#include "store/redis_client.h"

namespace agentgate {

class RedisOverrideStore {
 public:
  // `prefix`: "" in DB mode (DB 7), "<key_prefix>ratelimit:" in prefix mode.
  RedisOverrideStore(RateLimitPolicy& policy, RedisClient& client, std::string prefix,
                     MetricsRegistry& metrics, ChangeFeedOptions feed = {});

  // start: the reader of other instances' changes (loads every override first).
  void start();

  // set_user_tier / set_custom_limit: as RateLimitPolicy's, through Redis.
  boost::asio::awaitable<Status> set_user_tier(std::string user, std::string tier);
  boost::asio::awaitable<Status> set_custom_limit(std::string user, RateWindow window, int64_t limit,
                                                  std::string endpoint);

  // key_of: the hash of `user`.
  std::string key_of(std::string_view user) const;

 private:
  boost::asio::awaitable<Status> write(std::string user, std::string field, std::string value);
  boost::asio::awaitable<Status> reload_user(std::string user);
  boost::asio::awaitable<Status> reload_all();
  // read_all: every user's override as stored.
  boost::asio::awaitable<Result<std::unordered_map<std::string, UserOverride>>> read_all();
  uint64_t installed();  // installs_, read under install_mu_

  RateLimitPolicy& policy_;
  RedisClient& client_;
  const std::string prefix_;
  Counter& errors_;
  RedisScript set_script_;  // internally synchronized
  RedisChangeFeed feed_;
  // install_mu_ orders local installs against reloads: a reload whose read
  // began before a local write installed does not overwrite it (the write's
  // own announcement brings it back through the feed anyway).
  std::mutex install_mu_;
  uint64_t installs_ = 0;  // GUARDED_BY(install_mu_): local writes installed
};

// ParseOverride: a user's override from the fields of its hash ([field,
// value, ...], as HGETALL returns them); unknown fields are ignored.
UserOverride ParseOverride(const RedisReply& hgetall);

}  // namespace agentgate
