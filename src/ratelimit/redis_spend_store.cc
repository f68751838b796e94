#include "ratelimit/redis_spend_store.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <charconv>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "store/redis_batch.h"

namespace agentgate {

namespace asio = boost::asio;

namespace {

constexpr int64_t kDayKeyTtlS = 35LL * 86400;
constexpr int64_t kMonthKeyTtlS = 400LL * 86400;

// KEYS: the day's and the month's hash. ARGV: nano-USD, day TTL, month TTL.
// Returns {day nano, day requests, month nano, month requests}.
constexpr const char* kChargeScript = R"lua(
local dn = redis.call('HINCRBY', KEYS[1], 'nano', ARGV[1])
local dr = redis.call('HINCRBY', KEYS[1], 'requests', 1)
local mn = redis.call('HINCRBY', KEYS[2], 'nano', ARGV[1])
local mr = redis.call('HINCRBY', KEYS[2], 'requests', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {dn, dr, mn, mr}
)lua";

int64_t ToInt(const RedisReply& r, int64_t otherwise = 0) {
  if (r.type == RedisReply::Type::kInteger) return r.integer;
  if (r.type != RedisReply::Type::kString) return otherwise;
  int64_t v = otherwise;
  auto [p, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return ec == std::errc() && p == r.str.data() + r.str.size() ? v : otherwise;
}

// Pair: the two values of an HMGET of two fields.
std::pair<int64_t, int64_t> Pair(const RedisReply& r, int64_t otherwise) {
  if (r.type != RedisReply::Type::kArray || r.elements.size() != 2) return {otherwise, otherwise};
  return {ToInt(r.elements[0], otherwise), ToInt(r.elements[1], otherwise)};
}

}  // namespace

struct RedisSpendStore::State {
  State(CostTracker& t, RedisClient& c, std::string p, const Clock& k, MetricsRegistry& m,
        RedisSpendOptions o)
      : tracker(t),
        client(c),
        prefix(std::move(p)),
        clock(k),
        errors(m.counter("agentgate_ratelimit_shared_errors_total",
                         "Failed Redis reads or writes of state shared between instances",
                         {{"kind", "spend"}})),
        options(o),
        charge_script(c, kChargeScript),
        feed(c, prefix + "budget:log", errors, o.feed) {}

  CostTracker& tracker;
  RedisClient& client;
  const std::string prefix;
  const Clock& clock;
  Counter& errors;
  const RedisSpendOptions options;
  RedisScript charge_script;
  RedisChangeFeed feed;
  std::mutex mu;
  std::unordered_map<std::string, Nanos> last_read;  // GUARDED_BY(mu): monotonic time
  std::unordered_set<std::string> reading;           // GUARDED_BY(mu): background reads

  void failed() {
    errors.inc();
    tracker.count_store_error();
  }
  std::string day_key(std::string_view user, const std::string& day) const {
    return prefix + "costs:{" + std::string(user) + "}:d:" + day;
  }
  std::string month_key(std::string_view user, const std::string& month) const {
    return prefix + "costs:{" + std::string(user) + "}:m:" + month;
  }
  std::string user_budget_key(std::string_view user) const {
    return prefix + "budget:user:{" + std::string(user) + "}";
  }
  std::string tier_budget_key(std::string_view tier) const {
    return prefix + "budget:tier:" + std::string(tier);
  }
  void mark_read(const std::string& user) {
    std::lock_guard lock(mu);
    last_read[user] = clock.monotonic();
  }
};

namespace {

using StatePtr = std::shared_ptr<RedisSpendStore::State>;

// Refresh: reads `user`'s fleet-wide spend of the current periods into the tracker.
asio::awaitable<Status> Refresh(StatePtr st, std::string user) {
  UtcPeriod p = UtcPeriodOf(st->clock.now());
  std::vector<std::vector<std::string>> cmds = {
      {"HMGET", st->day_key(user, p.day), "nano", "requests"},
      {"HMGET", st->month_key(user, p.month), "nano", "requests"}};
  std::vector<Result<RedisReply>> r = co_await RedisBatch(st->client, std::move(cmds));
  for (const Result<RedisReply>& one : r) {
    if (!one.ok() || one->is_error()) {
      st->failed();
      co_return one.ok() ? Unavailable("redis: " + one->str) : one.status();
    }
  }
  CostTracker::SpendTotals t;
  t.day = p.day;
  t.month = p.month;
  std::tie(t.day_nano, t.day_requests) = Pair(*r[0], 0);
  std::tie(t.month_nano, t.month_requests) = Pair(*r[1], 0);
  st->tracker.mirror_spend(user, t);
  st->mark_read(user);
  co_return Status::Ok();
}

asio::awaitable<void> Charge(StatePtr st, std::string user, UtcPeriod p, int64_t nano) {
  std::vector<std::string> keys{st->day_key(user, p.day), st->month_key(user, p.month)};
  std::vector<std::string> args{std::to_string(nano), std::to_string(kDayKeyTtlS),
                                std::to_string(kMonthKeyTtlS)};
  Result<RedisReply> r = co_await st->charge_script.eval(std::move(keys), std::move(args));
  if (!r.ok() || r->type != RedisReply::Type::kArray || r->elements.size() != 4) {
    st->failed();
    co_return;
  }
  CostTracker::SpendTotals t;
  t.day = p.day;
  t.month = p.month;
  t.day_nano = ToInt(r->elements[0]);
  t.day_requests = ToInt(r->elements[1]);
  t.month_nano = ToInt(r->elements[2]);
  t.month_requests = ToInt(r->elements[3]);
  st->tracker.mirror_spend(user, t);
  st->mark_read(user);
}

asio::awaitable<void> BackgroundRefresh(StatePtr st, std::string user) {
  (void)co_await Refresh(st, user);
  std::lock_guard lock(st->mu);
  st->reading.erase(user);
}

Budget ToBudget(const RedisReply& r) {
  auto [day, month] = Pair(r, kBudgetInherit);
  return Budget{day < kBudgetInherit ? kBudgetInherit : day,
                month < kBudgetInherit ? kBudgetInherit : month};
}

asio::awaitable<Status> ReloadBudget(StatePtr st, std::string name) {
  const bool user = name.starts_with("user:");
  if (!user && !name.starts_with("tier:")) co_return Status::Ok();
  const std::string who = name.substr(5);
  std::vector<std::string> cmd{"HMGET", user ? st->user_budget_key(who) : st->tier_budget_key(who),
                               "day", "month"};
  Result<RedisReply> r = co_await st->client.command(std::move(cmd));
  if (!r.ok()) co_return r.status();
  if (r->is_error()) co_return Unavailable("redis: " + r->str);
  if (user) {
    st->tracker.replace_user_budget(who, ToBudget(*r));
  } else {
    st->tracker.replace_tier_budget(who, ToBudget(*r));
  }
  co_return Status::Ok();
}

asio::awaitable<Status> ReloadBudgets(StatePtr st) {
  std::map<std::string, Budget, std::less<>> users, tiers;
  const std::string user_head = st->prefix + "budget:user:{";
  const std::string tier_head = st->prefix + "budget:tier:";
  std::string cursor = "0";
  do {
    std::vector<std::string> cmd{"SCAN", cursor, "MATCH", st->prefix + "budget:*", "COUNT", "1000"};
    Result<RedisReply> r = co_await st->client.command(std::move(cmd));
    if (!r.ok()) co_return r.status();
    if (r->type != RedisReply::Type::kArray || r->elements.size() != 2) {
      co_return Unavailable("SCAN: " + DebugString(*r));
    }
    cursor = r->elements[0].str;
    std::vector<std::vector<std::string>> reads;
    std::vector<std::pair<bool, std::string>> who;  // (user?, name)
    for (const RedisReply& k : r->elements[1].elements) {
      if (k.str.starts_with(user_head) && k.str.back() == '}') {
        who.emplace_back(true, k.str.substr(user_head.size(), k.str.size() - user_head.size() - 1));
      } else if (k.str.starts_with(tier_head)) {
        who.emplace_back(false, k.str.substr(tier_head.size()));
      } else {
        continue;
      }
      reads.push_back({"HMGET", k.str, "day", "month"});
    }
    std::vector<Result<RedisReply>> replies = co_await RedisBatch(st->client, std::move(reads));
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].ok()) co_return replies[i].status();
      if (replies[i]->is_error()) co_return Unavailable("redis: " + replies[i]->str);
      (who[i].first ? users : tiers)[who[i].second] = ToBudget(*replies[i]);
    }
  } while (cursor != "0");
  st->tracker.replace_all_budgets(std::move(users), std::move(tiers));
  co_return Status::Ok();
}

asio::awaitable<Status> WriteBudget(StatePtr st, std::string key, std::string name, Budget b) {
  std::vector<std::string> cmd;
  if (b == Budget{}) {
    cmd = {"DEL", key};
  } else {
    cmd = {"HSET", key, "day", std::to_string(b.per_day), "month", std::to_string(b.per_month)};
  }
  Result<RedisReply> r = co_await st->client.command(std::move(cmd));
  Status s = r.status();
  if (s.ok() && r->is_error()) s = Unavailable("redis: " + r->str);
  if (!s.ok()) {
    st->failed();
    co_return Unavailable("shared spend budgets unavailable: " + s.message());
  }
  if (name.starts_with("user:")) {
    st->tracker.replace_user_budget(name.substr(5), b);
  } else {
    st->tracker.replace_tier_budget(name.substr(5), b);
  }
  (void)co_await st->feed.publish(std::move(name));
  co_return Status::Ok();
}

// The change feed's callbacks hold the state weakly: the state owns the
// feed, and a strong reference there would keep both alive forever.
asio::awaitable<Status> ReloadBudgetIfAlive(std::weak_ptr<RedisSpendStore::State> weak,
                                            std::string name) {
  StatePtr st = weak.lock();
  if (!st) co_return Status::Ok();
  asio::awaitable<Status> reload = ReloadBudget(std::move(st), std::move(name));
  co_return co_await std::move(reload);
}

asio::awaitable<Status> ReloadBudgetsIfAlive(std::weak_ptr<RedisSpendStore::State> weak) {
  StatePtr st = weak.lock();
  if (!st) co_return Status::Ok();
  asio::awaitable<Status> reload = ReloadBudgets(std::move(st));
  co_return co_await std::move(reload);
}

}  // namespace

RedisSpendStore::RedisSpendStore(CostTracker& tracker, RedisClient& client, std::string prefix,
                                 const Clock& clock, MetricsRegistry& metrics,
                                 RedisSpendOptions options)
    : state_(std::make_shared<State>(tracker, client, std::move(prefix), clock, metrics, options)) {}

RedisSpendStore::~RedisSpendStore() { state_->feed.stop(); }

void RedisSpendStore::start() {
  std::weak_ptr<State> weak = state_;
  state_->feed.start(
      [weak](std::string name) { return ReloadBudgetIfAlive(weak, std::move(name)); },
      [weak] { return ReloadBudgetsIfAlive(weak); });
}

Result<int64_t> RedisSpendStore::charge(std::string_view user, std::string_view model,
                                        int64_t prompt_tokens, int64_t completion_tokens) {
  Result<int64_t> nano = state_->tracker.charge(user, model, prompt_tokens, completion_tokens);
  if (!nano.ok()) return nano;
  asio::co_spawn(state_->client.executor(),
                 Charge(state_, std::string(user), UtcPeriodOf(state_->clock.now()), *nano),
                 asio::detached);
  return nano;
}

asio::awaitable<SpendStatus> RedisSpendStore::check(std::string user, std::string tier) {
  StatePtr st = state_;
  SpendStatus s = st->tracker.check(user, tier);
  if (s.day_budget <= 0 && s.month_budget <= 0) co_return s;  // no budget: nothing to read
  bool never = false, stale = false;
  {
    std::lock_guard lock(st->mu);
    auto it = st->last_read.find(user);
    never = it == st->last_read.end();
    stale = !never && st->clock.monotonic() - it->second >= st->options.refresh &&
            st->reading.insert(user).second;
  }
  if (never) {
    Status read = co_await Refresh(st, user);
    if (read.ok()) {
      s = st->tracker.check(user, tier);
    } else {
      st->mark_read(user);  // fail open; retried in the background after `refresh`
    }
  } else if (stale) {
    asio::co_spawn(st->client.executor(), BackgroundRefresh(st, user), asio::detached);
  }
  co_return s;
}

asio::awaitable<SpendStatus> RedisSpendStore::read(std::string user, std::string tier) {
  StatePtr st = state_;
  (void)co_await Refresh(st, user);
  co_return st->tracker.check(user, tier);
}

asio::awaitable<Status> RedisSpendStore::set_user_budget(std::string user, Budget budget) {
  StatePtr st = state_;
  if (Status s = st->tracker.check_budget("user", user, budget); !s.ok()) co_return s;
  std::string key = st->user_budget_key(user);
  co_return co_await WriteBudget(st, std::move(key), "user:" + user, budget);
}

asio::awaitable<Status> RedisSpendStore::set_tier_budget(std::string tier, Budget budget) {
  StatePtr st = state_;
  if (Status s = st->tracker.check_budget("tier", tier, budget); !s.ok()) co_return s;
  std::string key = st->tier_budget_key(tier);
  co_return co_await WriteBudget(st, std::move(key), "tier:" + tier, budget);
}

}  // namespace agentgate
