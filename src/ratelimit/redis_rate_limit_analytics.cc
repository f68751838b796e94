#include "ratelimit/redis_rate_limit_analytics.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <charconv>
#include <cmath>
#include <set>

#include "agentgate/ratelimit/cost_tracker.h"
#include "store/redis_batch.h"

namespace agentgate {

namespace asio = boost::asio;

namespace {

constexpr int kBuckets = 8;                                   // sub-buckets per window
constexpr int64_t kTickNs = 1'000'000'000 / kBuckets;         // the second window's sub-bucket
constexpr int64_t kUserTtlS = 35LL * 86400;
constexpr int64_t kDayTtlS = 2LL * 86400;

int64_t BucketNs(int w) { return RateWindowWidth(static_cast<RateWindow>(w)).count() / kBuckets; }

std::string WindowTag(int w) {
  return "{" + std::string(RateWindowName(static_cast<RateWindow>(w))) + "}";
}

// KEYS: the window's sub-buckets, then the scratch key. ARGV: one weight per
// sub-bucket, then the number of users wanted.
constexpr const char* kTopScript = R"lua(
local n = #KEYS - 1
local tmp = KEYS[#KEYS]
local args = {tmp, n}
for i = 1, n do args[#args + 1] = KEYS[i] end
args[#args + 1] = 'WEIGHTS'
for i = 1, n do args[#args + 1] = ARGV[i] end
redis.call('ZUNIONSTORE', unpack(args))
local r = redis.call('ZREVRANGE', tmp, 0, tonumber(ARGV[n + 1]) - 1, 'WITHSCORES')
redis.call('DEL', tmp)
return r
)lua";

int64_t ToInt(const RedisReply& r) {
  if (r.type == RedisReply::Type::kInteger) return r.integer;
  int64_t v = 0;
  if (r.type == RedisReply::Type::kString) std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

double ToDouble(const RedisReply& r) {
  if (r.type != RedisReply::Type::kString) return 0;
  char* end = nullptr;
  double v = std::strtod(r.str.c_str(), &end);
  return std::isfinite(v) ? v : 0;
}

struct Delta {
  int64_t allowed = 0;
  int64_t denied = 0;
};

}  // namespace

struct RedisRateLimitAnalytics::State {
  State(RedisClient& c, std::string p, const Clock& k, MetricsRegistry& m, RedisAnalyticsOptions o)
      : client(c),
        prefix(std::move(p)),
        clock(k),
        errors(m.counter("agentgate_ratelimit_shared_errors_total",
                         "Failed Redis reads or writes of state shared between instances",
                         {{"kind", "analytics"}})),
        options(o),
        top_script(c, kTopScript) {}

  RedisClient& client;
  const std::string prefix;
  const Clock& clock;
  Counter& errors;
  const RedisAnalyticsOptions options;
  RedisScript top_script;
  std::atomic<bool> stopped{false};
  std::mutex mu;
  std::map<std::pair<std::string, int64_t>, Delta> pending;  // GUARDED_BY(mu): (user, tick)

  std::string user_key(std::string_view user) const {
    return prefix + "an:{" + std::string(user) + "}";
  }
  std::string top_key(int w, int64_t bucket) const {
    return prefix + "an:top:" + WindowTag(w) + ":" + std::to_string(bucket);
  }
  // Window: the sub-buckets of window `w` at `t` (oldest first) and their weights.
  void window(int w, int64_t t, std::vector<int64_t>* buckets, std::vector<double>* weights) const {
    const int64_t b = BucketNs(w);
    const int64_t cur = t / b;
    const double frac = static_cast<double>(t - cur * b) / static_cast<double>(b);
    for (int64_t i = cur - kBuckets; i <= cur; ++i) {
      buckets->push_back(i);
      weights->push_back(i == cur - kBuckets ? 1.0 - frac : 1.0);
    }
  }
};

namespace {
asio::awaitable<Status> Flush(std::shared_ptr<RedisRateLimitAnalytics::State> st);
asio::awaitable<void> Writer(std::shared_ptr<RedisRateLimitAnalytics::State> st);
}  // namespace

RedisRateLimitAnalytics::RedisRateLimitAnalytics(RedisClient& client, std::string prefix,
                                                 const Clock& clock, MetricsRegistry& metrics,
                                                 RedisAnalyticsOptions options)
    : state_(std::make_shared<State>(client, std::move(prefix), clock, metrics, options)) {}

RedisRateLimitAnalytics::~RedisRateLimitAnalytics() { stop(); }

void RedisRateLimitAnalytics::start() {
  asio::co_spawn(state_->client.executor(), Writer(state_), asio::detached);
}

void RedisRateLimitAnalytics::stop() { state_->stopped.store(true, std::memory_order_release); }

void RedisRateLimitAnalytics::record(std::string_view user, bool allowed) {
  const int64_t tick = state_->clock.now().count() / kTickNs;
  std::lock_guard lock(state_->mu);
  Delta& d = state_->pending[{std::string(user), tick}];
  (allowed ? d.allowed : d.denied) += 1;
}

asio::awaitable<Status> RedisRateLimitAnalytics::flush() { return Flush(state_); }

namespace {

asio::awaitable<Status> Flush(std::shared_ptr<RedisRateLimitAnalytics::State> st) {
  std::map<std::pair<std::string, int64_t>, Delta> pending;
  {
    std::lock_guard lock(st->mu);
    pending.swap(st->pending);
  }
  if (pending.empty()) co_return Status::Ok();
  std::map<std::string, Delta> totals;
  std::map<std::pair<std::string, std::string>, Delta> days;          // (user, day)
  std::map<std::pair<std::string, std::string>, int64_t> top;         // (key, user)
  std::map<std::string, int64_t> top_ttl_ms;                          // key -> PEXPIRE
  for (const auto& [at, d] : pending) {
    const std::string& user = at.first;
    const int64_t t = at.second * kTickNs;
    Delta& tot = totals[user];
    tot.allowed += d.allowed;
    tot.denied += d.denied;
    Delta& day = days[{user, UtcPeriodOf(Nanos(t)).day}];
    day.allowed += d.allowed;
    day.denied += d.denied;
    for (int w = 0; w < kRateWindowCount; ++w) {
      std::string key = st->top_key(w, t / BucketNs(w));
      top[{key, user}] += d.allowed + d.denied;
      top_ttl_ms[key] = (RateWindowWidth(static_cast<RateWindow>(w)).count() + 2 * BucketNs(w)) /
                        1'000'000;
    }
  }
  std::vector<std::vector<std::string>> cmds;
  for (const auto& [user, d] : totals) {
    const std::string key = st->user_key(user);
    if (d.allowed) cmds.push_back({"HINCRBY", key, "allowed", std::to_string(d.allowed)});
    if (d.denied) cmds.push_back({"HINCRBY", key, "denied", std::to_string(d.denied)});
    cmds.push_back({"EXPIRE", key, std::to_string(kUserTtlS)});
  }
  for (const auto& [at, d] : days) {
    const std::string key = st->user_key(at.first) + ":d:" + at.second;
    if (d.allowed) cmds.push_back({"HINCRBY", key, "allowed", std::to_string(d.allowed)});
    if (d.denied) cmds.push_back({"HINCRBY", key, "denied", std::to_string(d.denied)});
    cmds.push_back({"EXPIRE", key, std::to_string(kDayTtlS)});
  }
  for (const auto& [at, n] : top) cmds.push_back({"ZINCRBY", at.first, std::to_string(n), at.second});
  for (const auto& [key, ms] : top_ttl_ms) cmds.push_back({"PEXPIRE", key, std::to_string(ms)});
  std::vector<Result<RedisReply>> replies = co_await RedisBatch(st->client, std::move(cmds));
  for (const Result<RedisReply>& r : replies) {
    if (!r.ok() || r->is_error()) {
      st->errors.inc();
      co_return r.ok() ? Unavailable("redis: " + r->str) : r.status();
    }
  }
  co_return Status::Ok();
}

asio::awaitable<void> Writer(std::shared_ptr<RedisRateLimitAnalytics::State> st) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!st->stopped.load(std::memory_order_acquire)) {
    timer.expires_after(st->options.flush);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    if (st->stopped.load(std::memory_order_acquire)) break;
    (void)co_await Flush(st);
  }
}

}  // namespace

namespace {

// StatsCommands: the reads of one user's stats at `t`, appended to `cmds`.
void StatsCommands(const RedisRateLimitAnalytics::State& st, const std::string& user, int64_t t,
                   std::vector<std::vector<std::string>>* cmds) {
  const std::string key = st.user_key(user);
  cmds->push_back({"HMGET", key, "allowed", "denied"});
  cmds->push_back({"HMGET", key + ":d:" + UtcPeriodOf(Nanos(t)).day, "allowed", "denied"});
  for (int w = 0; w < kRateWindowCount; ++w) {
    std::vector<int64_t> buckets;
    std::vector<double> weights;
    st.window(w, t, &buckets, &weights);
    for (int64_t b : buckets) cmds->push_back({"ZSCORE", st.top_key(w, b), user});
  }
}

constexpr size_t kStatsCommands = 2 + kRateWindowCount * (kBuckets + 1);

// ParseStats: the replies of StatsCommands from `at`.
Result<UserRateStats> ParseStats(const RedisRateLimitAnalytics::State& st, const std::string& user,
                                 int64_t t, const std::vector<Result<RedisReply>>& r, size_t at) {
  for (size_t i = at; i < at + kStatsCommands; ++i) {
    if (!r[i].ok()) return r[i].status();
    if (r[i]->is_error()) return Unavailable("redis: " + r[i]->str);
  }
  UserRateStats s;
  s.user = user;
  auto pair = [](const RedisReply& h, int64_t* a, int64_t* d) {
    if (h.elements.size() == 2) {
      *a = ToInt(h.elements[0]);
      *d = ToInt(h.elements[1]);
    }
  };
  pair(*r[at], &s.allowed, &s.denied);
  pair(*r[at + 1], &s.allowed_today, &s.denied_today);
  size_t i = at + 2;
  for (int w = 0; w < kRateWindowCount; ++w) {
    std::vector<int64_t> buckets;
    std::vector<double> weights;
    st.window(w, t, &buckets, &weights);
    double sum = 0;
    for (double weight : weights) sum += weight * ToDouble(*r[i++]);
    s.requests[w] = std::llround(sum);
  }
  return s;
}

}  // namespace

asio::awaitable<Result<UserRateStats>> RedisRateLimitAnalytics::stats(std::string user) {
  std::shared_ptr<State> st = state_;
  const int64_t t = st->clock.now().count();
  std::vector<std::vector<std::string>> cmds;
  StatsCommands(*st, user, t, &cmds);
  std::vector<Result<RedisReply>> replies = co_await RedisBatch(st->client, std::move(cmds));
  Result<UserRateStats> s = ParseStats(*st, user, t, replies, 0);
  if (!s.ok()) st->errors.inc();
  co_return s;
}

asio::awaitable<Result<std::vector<UserRateStats>>> RedisRateLimitAnalytics::top_users(
    RateWindow window, size_t limit) {
  std::shared_ptr<State> st = state_;
  const int64_t t = st->clock.now().count();
  const int w = static_cast<int>(window);
  std::vector<int64_t> buckets;
  std::vector<double> weights;
  st->window(w, t, &buckets, &weights);
  std::vector<std::string> keys, args;
  for (size_t i = 0; i < buckets.size(); ++i) {
    keys.push_back(st->top_key(w, buckets[i]));
    args.push_back(std::to_string(weights[i]));
  }
  keys.push_back(st->prefix + "an:top:" + WindowTag(w) + ":tmp");
  args.push_back(std::to_string(limit));
  Result<RedisReply> r = co_await st->top_script.eval(std::move(keys), std::move(args));
  if (r.ok() && r->type != RedisReply::Type::kArray) {
    r = Result<RedisReply>(Unavailable("redis top users: " + DebugString(*r)));
  }
  if (!r.ok()) {
    st->errors.inc();
    co_return r.status();
  }
  std::vector<std::pair<std::string, int64_t>> top;
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    int64_t n = std::llround(ToDouble(r->elements[i + 1]));
    if (n > 0) top.emplace_back(r->elements[i].str, n);
  }
  std::vector<std::vector<std::string>> cmds;
  for (const auto& [user, n] : top) StatsCommands(*st, user, t, &cmds);
  std::vector<Result<RedisReply>> replies = co_await RedisBatch(st->client, std::move(cmds));
  std::vector<UserRateStats> out;
  for (size_t i = 0; i < top.size(); ++i) {
    Result<UserRateStats> s = ParseStats(*st, top[i].first, t, replies, i * kStatsCommands);
    if (!s.ok()) {
      st->errors.inc();
      co_return s.status();
    }
    s->requests[w] = top[i].second;  // the ranking's own count
    out.push_back(std::move(*s));
  }
  co_return out;
}

}  // namespace agentgate
