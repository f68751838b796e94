// The Redis RateLimiter: one key per user, all four windows checked and
// recorded by one EVALSHA (ratelimit/redis_rate_limit_script.h); the
// decision's details (used, remaining, reset, retry-after) are computed here
// from the state the script returns, with the memory backend's SlidingWindow.
#include <algorithm>
#include <mutex>

#include "agentgate/ratelimit/rate_limiter.h"
#include "ratelimit/redis_rate_limit_script.h"
#include "ratelimit/sliding_window.h"
#include "store/redis_client.h"
#include "store/run_sync.h"

namespace agentgate {

namespace {

namespace asio = boost::asio;

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(const RateLimitPolicy& policy, RedisClient& client, const Clock& clock,
                   RedisRateLimiterOptions options)
      : policy_(policy),
        client_(client),
        clock_(clock),
        options_(std::move(options)),
        script_(client, RedisRateLimitScript()) {
    for (int w = 0; w < kRateWindowCount; ++w) {
      int64_t width = RateWindowWidth(static_cast<RateWindow>(w)).count();
      geometry_[w] = {width, width / kRateBuckets};
    }
    const SlidingWindowGeometry& day = geometry_[kRateWindowCount - 1];
    ttl_ms_ = (day.width_ns + day.bucket_ns) / 1'000'000;
  }

  Result<RateDecision> acquire(std::string_view user, std::string_view tier, int64_t cost) override {
    return RunSync<Result<RateDecision>>([&] { return decide(user, tier, cost, 'a'); });
  }
  Result<RateDecision> check_limit(std::string_view user, std::string_view tier,
                                   int64_t cost) override {
    return RunSync<Result<RateDecision>>([&] { return decide(user, tier, cost, 'c'); });
  }
  Status record_request(std::string_view user, int64_t cost) override {
    return RunSync<Status>([&] { return record_request_async(user, cost); });
  }
  Status reset(std::string_view user) override {
    return RunSync<Status>([&] { return reset_async(user); });
  }

  asio::awaitable<Result<RateDecision>> acquire_async(std::string_view user, std::string_view tier,
                                                      int64_t cost) override {
    co_return co_await decide(user, tier, cost, 'a');
  }
  asio::awaitable<Result<RateDecision>> check_limit_async(std::string_view user,
                                                          std::string_view tier,
                                                          int64_t cost) override {
    co_return co_await decide(user, tier, cost, 'c');
  }

  asio::awaitable<Status> record_request_async(std::string_view user, int64_t cost) override {
    if (cost < 0) co_return InvalidArgument("cost must be >= 0");
    std::array<int64_t, kRateWindowCount> none{};
    std::vector<std::string> keys{key_of(user)};
    std::vector<std::string> args =
        RateScriptArgs('r', cost, ttl_ms_, clock_.now().count(), geometry_, none);
    Result<RedisReply> r = co_await script_.eval(std::move(keys), std::move(args));
    if (!r.ok()) co_return r.status();
    if (r->is_error()) co_return Unavailable("redis rate-limit script: " + r->str);
    co_return Status::Ok();
  }

  asio::awaitable<Status> reset_async(std::string_view user) override {
    std::vector<std::string> cmd{"DEL", key_of(user)};
    Result<RedisReply> r = co_await client_.command(std::move(cmd));
    if (!r.ok()) co_return r.status();
    if (r->is_error()) co_return Unavailable("redis DEL: " + r->str);
    co_return Status::Ok();
  }

  size_t users() const override {
    Result<int64_t> n = RunSync<Result<int64_t>>([&] { return count_keys(); });
    return n.ok() ? static_cast<size_t>(*n) : 0;
  }

  double bytes_per_user() const override {
    std::string key;
    {
      std::lock_guard lock(mu_);
      key = last_key_;
    }
    if (key.empty()) return 0;
    Result<RedisReply> r = RunSync<Result<RedisReply>>([&]() -> asio::awaitable<Result<RedisReply>> {
      std::vector<std::string> cmd{"MEMORY", "USAGE", key};
      co_return co_await client_.command(std::move(cmd));
    });
    if (!r.ok() || r->type != RedisReply::Type::kInteger) return 0;
    return static_cast<double>(r->integer);
  }

 private:
  std::string key_of(std::string_view user) const {
    std::string k;
    k.reserve(options_.key_prefix.size() + 5 + user.size());
    k += options_.key_prefix;
    k += "rl:";
    if (!options_.hash_tag) return k += user;
    const size_t sep = std::min(user.find(kEndpointKeySeparator), user.size());
    k += '{';
    k += user.substr(0, sep);
    k += '}';
    k += user.substr(sep);
    return k;
  }

  // count_keys: DBSIZE when the limiter owns its database, else SCAN.
  asio::awaitable<Result<int64_t>> count_keys() const {
    if (options_.owns_database) {
      std::vector<std::string> cmd{"DBSIZE"};
      Result<RedisReply> r = co_await client_.command(std::move(cmd));
      if (!r.ok()) co_return r.status();
      if (r->type != RedisReply::Type::kInteger) co_return Unavailable("redis DBSIZE: " + r->str);
      co_return r->integer;
    }
    int64_t n = 0;
    std::string cursor = "0";
    do {
      std::vector<std::string> cmd{"SCAN", cursor, "MATCH", options_.key_prefix + "rl:*", "COUNT",
                                   "1000"};
      Result<RedisReply> r = co_await client_.command(std::move(cmd));
      if (!r.ok()) co_return r.status();
      if (r->type != RedisReply::Type::kArray || r->elements.size() != 2) {
        co_return Unavailable("redis SCAN: " + DebugString(*r));
      }
      cursor = r->elements[0].str;
      n += static_cast<int64_t>(r->elements[1].elements.size());
    } while (cursor != "0");
    co_return n;
  }

  asio::awaitable<Result<RateDecision>> decide(std::string_view user, std::string_view tier,
                                               int64_t cost, char mode) {
    if (cost < 0) co_return InvalidArgument("cost must be >= 0");
    ResolvedLimits limits = policy_.resolve(user, tier);
    const int64_t t = clock_.now().count();
    std::string key = key_of(user);
    std::vector<std::string> keys{key};
    std::vector<std::string> args = RateScriptArgs(mode, cost, ttl_ms_, t, geometry_, limits.requests);
    Result<RedisReply> r = co_await script_.eval(std::move(keys), std::move(args));
    if (!r.ok()) co_return r.status();
    if (r->is_error()) co_return Unavailable("redis rate-limit script: " + r->str);
    if (r->type != RedisReply::Type::kArray || r->elements.size() != 2 ||
        r->elements[0].type != RedisReply::Type::kInteger) {
      co_return Unavailable("redis rate-limit script: unexpected reply " + DebugString(*r));
    }
    // Replay what the script did on the state it read (a missing or
    // malformed state was a fresh one there too).
    const bool allowed = r->elements[0].integer == 1;
    SlidingWindow windows[kRateWindowCount];
    const bool found = ParseRateState(r->elements[1].str, windows);
    for (int w = 0; w < kRateWindowCount; ++w) {
      if (found) {
        windows[w].advance(geometry_[w], t);
      } else {
        windows[w].init(geometry_[w], t);
      }
      if (mode == 'a' && allowed) windows[w].record(geometry_[w], t, cost);
    }
    if (mode == 'a' && allowed && cost > 0) {
      std::lock_guard lock(mu_);
      if (last_key_.empty()) last_key_ = std::move(key);
    }
    co_return Fill(std::move(limits), allowed, windows, t, cost, mode == 'a');
  }

  // Fill: the decision of the memory backend's decide() from the state after
  // the call (`recorded`: acquire; the state includes this call's cost if allowed).
  RateDecision Fill(ResolvedLimits limits, bool allowed, const SlidingWindow (&s)[kRateWindowCount],
                    int64_t t, int64_t cost, bool recorded) const {
    RateDecision d;
    d.tier = std::move(limits.tier);
    d.allowed = allowed;
    int64_t best_remaining = 0;
    for (int w = 0; w < kRateWindowCount; ++w) {
      const SlidingWindowGeometry& g = geometry_[w];
      const int64_t used = s[w].count(g, t);
      const int64_t limit = limits.requests[w];
      if (!allowed && limit > 0 && used + cost > limit) {
        int64_t wait = s[w].time_to_free(g, t, used + cost - limit);
        if (wait < 0) wait = g.width_ns;  // cost above the limit: never passes
        d.retry_after = std::max(d.retry_after, Nanos(wait));
      }
      RateWindowStatus& ws = d.windows[w];
      ws.limit = limit;
      ws.used = used;
      ws.remaining = limit > 0 ? std::max<int64_t>(0, limit - used) : 0;
      if (!recorded && used > 0) ws.reset = Nanos(std::max<int64_t>(0, s[w].time_to_free(g, t, 1)));
      if (limit > 0 && (d.most_restrictive < 0 || ws.remaining < best_remaining)) {
        d.most_restrictive = w;
        best_remaining = ws.remaining;
      }
    }
    int m = d.most_restrictive;
    if (recorded && m >= 0 && d.windows[m].used > 0) {
      d.windows[m].reset = Nanos(std::max<int64_t>(0, s[m].time_to_free(geometry_[m], t, 1)));
    }
    return d;
  }

  const RateLimitPolicy& policy_;
  RedisClient& client_;
  const Clock& clock_;
  const RedisRateLimiterOptions options_;
  RedisScript script_;  // internally synchronized
  SlidingWindowGeometry geometry_[kRateWindowCount];  // constant after construction
  int64_t ttl_ms_ = 0;                                // constant after construction
  mutable std::mutex mu_;
  std::string last_key_;  // GUARDED_BY(mu_): a key for bytes_per_user()
};

}  // namespace

std::unique_ptr<RateLimiter> NewRedisRateLimiter(const RateLimitPolicy& policy, RedisClient& client,
                                                 const Clock& clock,
                                                 RedisRateLimiterOptions options) {
  return std::make_unique<RedisRateLimiter>(policy, client, clock, std::move(options));
}

}  // namespace agentgate
