// RedisSpendStore: per-user spend (per UTC day and month) and spend budgets
// shared by every gateway instance on one Redis (the `costs` concern: DB 5,
// or "<key_prefix>costs:" keys in prefix mode). The CostTracker stays the
// price table, the budget rules and this instance's view of the fleet's
// numbers; Redis holds the numbers.
//
// Keys (the `{<user>}` hash tag keeps a user's keys on one cluster slot):
//   costs:{<user>}:d:<YYYY-MM-DD>  hash nano, requests  TTL 35 days
//   costs:{<user>}:m:<YYYY-MM>     hash nano, requests  TTL 400 days
//   budget:user:{<user>}           hash day, month (nano-USD; -1 = not set)
//   budget:tier:<tier>             hash day, month
//   budget:log                     change feed of budget writes (RedisChangeFeed)
// Money is integer nano-USD (HINCRBY), so sums from many instances are exact.
//
// charge(): after the upstream call; prices the usage, adds it to the local
// view at once and sends one Lua call (both periods, fire-and-forget, off the
// request path) whose reply, the fleet-wide totals, replaces the local view.
// check(): before the next call; reads the local view, so the request path
// pays no round trip, except when a budget applies to the user and this
// instance has never read the user's spend (one read, then cached). When the
// view is older than `refresh` (default 1 s), a read is started in the
// background. So a budget holds fleet-wide to within what the fleet spends
// in `refresh` plus a round trip (on top of the single-instance rule that the
// call crossing a budget completes). Users without a budget cost no reads.
//
// Fail-open: a Redis error leaves the local view as it is (a charge stays
// counted locally), the request is served, and it is counted in
// agentgate_ratelimit_shared_errors_total{kind="spend"} and in the tracker's
// store_errors() (agentgate_cost_store_errors_total). Budget writes are
// kUnavailable when Redis refuses them, and change nothing.
//
// Thread-safety: every method from any thread or coroutine. Ownership:
// borrows the tracker, client and clock; REQUIRES: they outlive it, and the
// client's executor is stopped before the tracker is destroyed.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "agentgate/core/metrics.h"
#include "agentgate/ratelimit/cost_tracker.h"
#include "store/redis_change_feed.h"
#include "store/redis_client.h"

namespace agentgate {

struct RedisSpendOptions {
  // Age of a user's fleet-wide spend after which check() refreshes it in the
  // background. Default: 1 s.
  Nanos refresh = std::chrono::seconds(1);
  ChangeFeedOptions feed;
};

class RedisSpendStore {
 public:
  // `prefix`: "" in DB mode, "<key_prefix>costs:" in prefix mode.
  RedisSpendStore(CostTracker& tracker, RedisClient& client, std::string prefix, const Clock& clock,
                  MetricsRegistry& metrics, RedisSpendOptions options = {});
  ~RedisSpendStore();

  // start: the reader of other instances' budget changes (loads them first).
  void start();

  // charge: as CostTracker::charge, and sent to Redis in the background.
  Result<int64_t> charge(std::string_view user, std::string_view model, int64_t prompt_tokens,
                         int64_t completion_tokens);
  // check: the spend status for the budget stage (see above).
  boost::asio::awaitable<SpendStatus> check(std::string user, std::string tier);
  // read: the fleet-wide spend now (one round trip; the local view if it fails).
  boost::asio::awaitable<SpendStatus> read(std::string user, std::string tier);

  // set_user_budget / set_tier_budget: as CostTracker's, through Redis.
  boost::asio::awaitable<Status> set_user_budget(std::string user, Budget budget);
  boost::asio::awaitable<Status> set_tier_budget(std::string tier, Budget budget);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace agentgate
