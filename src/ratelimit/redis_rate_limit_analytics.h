// RedisRateLimitAnalytics: the rate-limit analytics of every gateway instance
// on one Redis, readable from any of them: per-user allowed and denied counts
// (since the first request, within 35 idle days, and per UTC day), per-user
// requests in each sliding window (second, minute, hour, day) and the top
// users by requests over a window.
//
// Off the request path: record() only adds to a local map of pending deltas
// (one mutex); a writer on the Redis client's executor sends them every
// `flush` (100 ms) as one pipelined batch, so a request never waits for Redis
// and a user hammering one instance costs Redis a few commands per flush, not
// per request. If Redis refuses a batch, its deltas are dropped (counted in
// agentgate_ratelimit_shared_errors_total{kind="analytics"}): analytics are
// best effort; reads see other instances' traffic after at most one flush.
//
// Keys (prefix "" in DB 7, "<key_prefix>ratelimit:" in prefix mode):
//   an:{<user>}             hash allowed, denied; TTL 35 days from the last write
//   an:{<user>}:d:<day>     hash allowed, denied of one UTC day; TTL 2 days
//   an:top:{<window>}:<n>   sorted set user -> requests in sub-bucket n of the
//                           window (width / kRateBuckets wide, wall clock);
//                           TTL one window plus two sub-buckets
// A window's count is the sum of its kRateBuckets + 1 newest sub-buckets, the
// oldest weighted by the part of it still inside the window (an estimate
// within one sub-bucket's traffic of the exact count). Top users: one Lua call
// (ZUNIONSTORE with those weights into `an:top:{<window>}:tmp`, ZREVRANGE,
// DEL); the window's sub-buckets share the `{<window>}` hash tag.
//
// Thread-safety: record() from any thread; stats/top_users from any coroutine.
// Ownership: borrows the client and clock; REQUIRES: they outlive it, and the
// client's executor is stopped before it is destroyed.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agentgate/core/metrics.h"
#include "agentgate/ratelimit/rate_limit_analytics.h"
#include "store/redis_client.h"

namespace agentgate {

struct RedisAnalyticsOptions {
  // How often pending counts are sent. Default: 100 ms.
  Nanos flush = std::chrono::milliseconds(100);
};

class RedisRateLimitAnalytics final : public AnalyticsRecorder {
 public:
  RedisRateLimitAnalytics(RedisClient& client, std::string prefix, const Clock& clock,
                          MetricsRegistry& metrics, RedisAnalyticsOptions options = {});
  ~RedisRateLimitAnalytics() override;

  // start: the writer. stop: it ends at its next wake-up.
  void start();
  void stop();

  void record(std::string_view user, bool allowed) override;

  // flush: sends the pending counts now (the writer calls it every `flush`).
  boost::asio::awaitable<Status> flush();
  // stats: `user`'s counts (zeros if never seen).
  boost::asio::awaitable<Result<UserRateStats>> stats(std::string user);
  // top_users: the `limit` users with the most requests in `window`, most first.
  boost::asio::awaitable<Result<std::vector<UserRateStats>>> top_users(RateWindow window,
                                                                       size_t limit);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace agentgate
