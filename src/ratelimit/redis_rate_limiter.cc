// The Redis RateLimiter: one key per user, all four windows checked and
// recorded by one EVALSHA (ratelimit/redis_rate_limit_script.h); the
// decision's details (used, remaining, reset, retry-after) are computed here
// from the log the script returns, with the memory backend's RunLogView.
#include <algorithm>
#include <mutex>

#include "agentgate/ratelimit/rate_limiter.h"
#include "ratelimit/redis_rate_limit_script.h"
#include "ratelimit/run_log.h"
#include "store/redis_client.h"
#include "store/run_sync.h"

namespace agentgate {

namespace {

namespace asio = boost::asio;

// kTtlMs: a key outlives its newest run's day window (a day, plus margin for
// clocks of other instances slightly ahead).
constexpr int64_t kTtlMs = (86400 + 60) * 1000LL;

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(const RateLimitPolicy& policy, RedisClient& client, const Clock& clock,
                   RedisRateLimiterOptions options)
      : policy_(policy),
        client_(client),
        clock_(clock),
        options_(std::move(options)),
        script_(client, RedisRateLimitScript()) {}

  Result<RateDecision> acquire(std::string_view user, std::string_view tier, int64_t cost) override {
    return RunSync<Result<RateDecision>>([&] { return decide(user, tier, cost, 'a'); });
  }
  Result<RateDecision> check_limit(std::string_view user, std::string_view tier,
                                   int64_t cost) override {
    return RunSync<Result<RateDecision>>([&] { return decide(user, tier, cost, 'c'); });
  }
  Status record_request(std::string_view user, int64_t cost, std::string_view tier) override {
    return RunSync<Status>([&] { return record_request_async(user, cost, tier); });
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

  asio::awaitable<Status> record_request_async(std::string_view user, int64_t cost,
                                               std::string_view tier) override {
    if (cost < 0) co_return InvalidArgument("cost must be >= 0");
    if (cost == 0) co_return Status::Ok();
    ResolvedLimits limits = policy_.resolve(user, tier);
    std::vector<std::string> keys{key_of(user)};
    std::vector<std::string> args =
        RateScriptArgs('r', cost, kTtlMs, RunClock::At(clock_.now().count()), limits.requests);
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
    const RunClock c = RunClock::At(clock_.now().count());
    std::string key = key_of(user);
    std::vector<std::string> keys{key};
    std::vector<std::string> args = RateScriptArgs(mode, cost, kTtlMs, c, limits.requests);
    Result<RedisReply> r = co_await script_.eval(std::move(keys), std::move(args));
    if (!r.ok()) co_return r.status();
    if (r->is_error()) co_return Unavailable("redis rate-limit script: " + r->str);
    if (r->type != RedisReply::Type::kArray || r->elements.size() != 2 ||
        r->elements[0].type != RedisReply::Type::kInteger) {
      co_return Unavailable("redis rate-limit script: unexpected reply " + DebugString(*r));
    }
    // Replay what the script did on the log it read (a missing or malformed
    // log was a fresh one there too).
    const bool allowed = r->elements[0].integer == 1;
    const std::string& raw = r->elements[1].str;
    std::vector<uint8_t> buf;
    if (RunLogView::Valid(reinterpret_cast<const uint8_t*>(raw.data()), raw.size())) {
      buf.assign(raw.begin(), raw.end());
    } else {
      buf.resize(kRunHeaderBytes);
      RunLogView::InitHeader(buf.data(), c.now_s);
    }
    auto view = [&buf] {
      return RunLogView(buf.data(), buf.data() + kRunHeaderBytes,
                        static_cast<int>((buf.size() - kRunHeaderBytes) / kRunBytes));
    };
    RunLogView log = view();
    log.expire(c);
    int64_t used[kRateWindowCount];
    log.counts(used);
    if (mode == 'a' && allowed && cost > 0) {
      const RunCaps caps = RunCaps::Of(limits.requests);
      if (const int need = log.record(c, cost, caps); need > 0) {
        buf.resize(kRunHeaderBytes + static_cast<size_t>(need) * kRunBytes);
        log = view();
        (void)log.record(c, cost, caps);
      }
      log.counts(used);
      std::lock_guard lock(mu_);
      if (last_key_.empty()) last_key_ = std::move(key);
    }
    RateDecision d;
    FillRateDecision(log, c, limits.requests, used, cost, allowed, mode == 'a', &d);
    d.tier = std::move(limits.tier);
    co_return d;
  }

  const RateLimitPolicy& policy_;
  RedisClient& client_;
  const Clock& clock_;
  const RedisRateLimiterOptions options_;
  RedisScript script_;  // internally synchronized
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
