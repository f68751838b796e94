#include "agentgate/ratelimit/rate_limit_policy.h"

#include <algorithm>
#include <mutex>

#include "store/sqlite_db.h"

namespace agentgate {

namespace {

constexpr std::string_view kWindowNames[kRateWindowCount] = {"second", "minute", "hour", "day"};
constexpr int64_t kWindowSeconds[kRateWindowCount] = {1, 60, 3600, 86400};

const std::vector<std::string> kMigrations = {
    // v1: one row per user with a tier assignment or a custom limit (-1: none).
    "CREATE TABLE ratelimit_overrides("
    "user_id TEXT PRIMARY KEY, tier TEXT NOT NULL DEFAULT '', "
    "per_second INTEGER NOT NULL DEFAULT -1, per_minute INTEGER NOT NULL DEFAULT -1, "
    "per_hour INTEGER NOT NULL DEFAULT -1, per_day INTEGER NOT NULL DEFAULT -1)",
};

const std::vector<std::string> kEndpointMigrations = {
    // v1: custom limits of one user for one proxied endpoint (-1: none).
    "CREATE TABLE ratelimit_endpoint_limits("
    "user_id TEXT NOT NULL, endpoint TEXT NOT NULL, "
    "per_second INTEGER NOT NULL DEFAULT -1, per_minute INTEGER NOT NULL DEFAULT -1, "
    "per_hour INTEGER NOT NULL DEFAULT -1, per_day INTEGER NOT NULL DEFAULT -1, "
    "PRIMARY KEY(user_id, endpoint))",
};

constexpr std::array<int64_t, kRateWindowCount> kNone = {-1, -1, -1, -1};

bool IsEmpty(const UserOverride& o) {
  if (!o.tier.empty() || !o.endpoints.empty()) return false;
  for (int64_t c : o.custom) {
    if (c >= 0) return false;
  }
  return true;
}

// InTransaction: `fn` in one transaction of `db`, or just `fn` without a db.
template <typename Fn>
Status InTransaction(SqliteDb* db, Fn fn) {
  if (!db) return fn();
  return db->transaction([&]() -> Status { return fn(); });
}

}  // namespace

std::string_view RateWindowName(RateWindow w) { return kWindowNames[static_cast<int>(w)]; }

Result<RateWindow> ParseRateWindow(std::string_view name) {
  for (int i = 0; i < kRateWindowCount; ++i) {
    if (kWindowNames[i] == name) return static_cast<RateWindow>(i);
  }
  return InvalidArgument("unknown window '" + std::string(name) +
                         "' (expected second, minute, hour or day)");
}

std::string EndpointLimitKey(std::string_view user, std::string_view endpoint) {
  std::string key;
  key.reserve(user.size() + 1 + endpoint.size());
  key.append(user).push_back(kEndpointKeySeparator);
  key.append(endpoint);
  return key;
}

Nanos RateWindowWidth(RateWindow w) {
  return std::chrono::seconds(kWindowSeconds[static_cast<int>(w)]);
}

RateLimitPolicy::RateLimitPolicy(std::map<std::string, TierLimits> tiers, std::string default_tier)
    : tiers_(std::move(tiers)), default_tier_(std::move(default_tier)) {
  for (const auto& entry : tiers_) tier_index_.push_back(&entry);
  default_index_ = find_tier_index(default_tier_);
}

const std::pair<const std::string, TierLimits>* RateLimitPolicy::find_tier(
    std::string_view name) const {
  const int i = find_tier_index(name);
  return i < 0 ? nullptr : tier_index_[static_cast<size_t>(i)];
}

int RateLimitPolicy::find_tier_index(std::string_view name) const {
  for (size_t i = 0; i < tier_index_.size(); ++i) {
    if (tier_index_[i]->first == name) return static_cast<int>(i);
  }
  return -1;
}

Result<std::unique_ptr<RateLimitPolicy>> RateLimitPolicy::Open(
    SqliteDb& db, std::map<std::string, TierLimits> tiers, std::string default_tier) {
  if (Status s = db.migrate("ratelimit", kMigrations); !s.ok()) return s;
  auto p = std::make_unique<RateLimitPolicy>(std::move(tiers), std::move(default_tier));
  auto st = db.prepare(
      "SELECT user_id, tier, per_second, per_minute, per_hour, per_day FROM ratelimit_overrides");
  if (!st.ok()) return st.status();
  while (true) {
    Result<bool> row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    UserOverride o;
    o.tier = st->column_text(1);
    for (int i = 0; i < kRateWindowCount; ++i) o.custom[i] = st->column_int64(2 + i);
    p->overrides_[st->column_text(0)] = std::move(o);
  }
  if (Status s = db.migrate("ratelimit_endpoints", kEndpointMigrations); !s.ok()) return s;
  auto ep = db.prepare(
      "SELECT user_id, endpoint, per_second, per_minute, per_hour, per_day "
      "FROM ratelimit_endpoint_limits");
  if (!ep.ok()) return ep.status();
  while (true) {
    Result<bool> row = ep->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    std::array<int64_t, kRateWindowCount> limits;
    for (int i = 0; i < kRateWindowCount; ++i) limits[i] = ep->column_int64(2 + i);
    p->overrides_[ep->column_text(0)].endpoints[ep->column_text(1)] = limits;
  }
  p->override_count_.store(p->overrides_.size());
  p->count_endpoints();
  p->db_ = &db;
  return p;
}

void RateLimitPolicy::count_endpoints() {
  size_t n = 0;
  for (const auto& [user, o] : overrides_) n += o.endpoints.empty() ? 0 : 1;
  endpoint_override_count_.store(n, std::memory_order_release);
}

bool RateLimitPolicy::has_endpoint_limits(std::string_view user, std::string_view endpoint) const {
  if (endpoint_override_count_.load(std::memory_order_acquire) == 0) return false;
  std::shared_lock lock(mu_);
  auto it = overrides_.find(std::string(user));
  return it != overrides_.end() && it->second.endpoints.find(endpoint) != it->second.endpoints.end();
}

ResolvedLimits RateLimitPolicy::resolve(std::string_view key, std::string_view caller_tier) const {
  ResolvedLimits r;
  RequestLimits requests;
  if (const int i = resolve_into(key, caller_tier, &requests); i >= 0) {
    const auto& tier = *tier_index_[static_cast<size_t>(i)];
    r.tier = tier.first;
    r.tokens_per_minute = tier.second.tokens_per_minute;
    r.tokens_per_day = tier.second.tokens_per_day;
  }
  r.requests = requests.requests;
  return r;
}

RequestLimits RateLimitPolicy::resolve_requests(std::string_view key,
                                                std::string_view caller_tier) const {
  RequestLimits r;
  if (override_count_.load(std::memory_order_acquire) == 0) {
    // No user has an override (the usual case): resolve_into's steps without one.
    int tier = caller_tier.empty() ? -1 : find_tier_index(caller_tier);
    if (tier < 0) tier = default_index_;
    r.tier_index = tier;
    if (tier >= 0) r.requests = tier_index_[static_cast<size_t>(tier)]->second.requests;
  } else {
    r.tier_index = resolve_into(key, caller_tier, &r);
  }
  if (r.tier_index >= 0) r.tier = &tier_index_[static_cast<size_t>(r.tier_index)]->first;
  return r;
}

int RateLimitPolicy::resolve_into(std::string_view key, std::string_view caller_tier,
                                  RequestLimits* r) const {
  const UserOverride* o = nullptr;
  const std::array<int64_t, kRateWindowCount>* endpoint = nullptr;
  std::shared_lock lock(mu_, std::defer_lock);
  if (override_count_.load(std::memory_order_acquire) != 0) {
    // An EndpointLimitKey: the user's override, then the endpoint's limits.
    std::string_view user = key, endpoint_path;
    if (size_t sep = key.find(kEndpointKeySeparator); sep != std::string_view::npos) {
      user = key.substr(0, sep);
      endpoint_path = key.substr(sep + 1);
    }
    lock.lock();
    auto it = overrides_.find(std::string(user));
    if (it != overrides_.end()) {
      o = &it->second;
      if (!endpoint_path.empty()) {
        auto e = o->endpoints.find(endpoint_path);
        if (e != o->endpoints.end()) endpoint = &e->second;
      }
    }
  }
  int tier = -1;
  if (o && !o->tier.empty()) tier = find_tier_index(o->tier);
  if (tier < 0 && !caller_tier.empty()) tier = find_tier_index(caller_tier);
  if (tier < 0) tier = default_index_;
  r->requests = {};
  if (tier >= 0) r->requests = tier_index_[static_cast<size_t>(tier)]->second.requests;
  r->custom = false;
  if (o) {
    for (int i = 0; i < kRateWindowCount; ++i) {
      if (o->custom[i] >= 0) r->requests[i] = o->custom[i];
      if (endpoint && (*endpoint)[i] >= 0) r->requests[i] = (*endpoint)[i];
      r->custom |= o->custom[i] >= 0 || (endpoint && (*endpoint)[i] >= 0);
    }
  }
  return tier;
}

Status RateLimitPolicy::persist(const std::string& user, const UserOverride& o) {
  if (!db_) return Status::Ok();
  if (IsEmpty(o)) {
    auto st = db_->prepare("DELETE FROM ratelimit_overrides WHERE user_id = ?");
    if (!st.ok()) return st.status();
    if (Status s = st->bind_text(1, user); !s.ok()) return s;
    return st->run();
  }
  auto st = db_->prepare(
      "INSERT INTO ratelimit_overrides(user_id, tier, per_second, per_minute, per_hour, per_day) "
      "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET tier = excluded.tier, "
      "per_second = excluded.per_second, per_minute = excluded.per_minute, "
      "per_hour = excluded.per_hour, per_day = excluded.per_day");
  if (!st.ok()) return st.status();
  if (Status s = st->bind_text(1, user); !s.ok()) return s;
  if (Status s = st->bind_text(2, o.tier); !s.ok()) return s;
  for (int i = 0; i < kRateWindowCount; ++i) {
    if (Status s = st->bind_int64(3 + i, o.custom[i]); !s.ok()) return s;
  }
  return st->run();
}

Status RateLimitPolicy::persist_endpoint(const std::string& user, std::string_view endpoint,
                                         const std::array<int64_t, kRateWindowCount>& limits) {
  if (!db_) return Status::Ok();
  if (limits == kNone) {
    auto st = db_->prepare("DELETE FROM ratelimit_endpoint_limits WHERE user_id = ? AND endpoint = ?");
    if (!st.ok()) return st.status();
    if (Status s = st->bind_text(1, user); !s.ok()) return s;
    if (Status s = st->bind_text(2, endpoint); !s.ok()) return s;
    return st->run();
  }
  auto st = db_->prepare(
      "INSERT INTO ratelimit_endpoint_limits(user_id, endpoint, per_second, per_minute, per_hour, "
      "per_day) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, endpoint) DO UPDATE SET "
      "per_second = excluded.per_second, per_minute = excluded.per_minute, "
      "per_hour = excluded.per_hour, per_day = excluded.per_day");
  if (!st.ok()) return st.status();
  if (Status s = st->bind_text(1, user); !s.ok()) return s;
  if (Status s = st->bind_text(2, endpoint); !s.ok()) return s;
  for (int i = 0; i < kRateWindowCount; ++i) {
    if (Status s = st->bind_int64(3 + i, limits[i]); !s.ok()) return s;
  }
  return st->run();
}

Status RateLimitPolicy::set_user_tier(std::string_view user, std::string_view tier) {
  if (Status s = check_user_tier(user, tier); !s.ok()) return s;
  std::unique_lock lock(mu_);
  std::string key(user);
  auto it = overrides_.find(key);
  UserOverride o = it == overrides_.end() ? UserOverride{} : it->second;
  o.tier = std::string(tier);
  if (Status s = persist(key, o); !s.ok()) return s;
  overrides_[key] = std::move(o);
  override_count_.store(overrides_.size(), std::memory_order_release);
  return Status::Ok();
}

Status RateLimitPolicy::check_custom_limit(std::string_view user, int64_t limit,
                                           std::string_view endpoint) {
  if (user.empty()) return InvalidArgument("user id must not be empty");
  if (user.find(kEndpointKeySeparator) != std::string_view::npos) {
    return InvalidArgument("user id must not contain control character 0x1f");
  }
  if (limit < 0) return InvalidArgument("limit must be >= 0 (0 = unlimited)");
  if (!endpoint.empty() && std::find(std::begin(kProxiedEndpoints), std::end(kProxiedEndpoints),
                                     endpoint) == std::end(kProxiedEndpoints)) {
    return InvalidArgument("unknown endpoint '" + std::string(endpoint) +
                           "' (expected /v1/chat/completions, /v1/completions or /v1/embeddings)");
  }
  return Status::Ok();
}

Status RateLimitPolicy::check_user_tier(std::string_view user, std::string_view tier) const {
  if (user.empty()) return InvalidArgument("user id must not be empty");
  if (!has_tier(tier)) return InvalidArgument("unknown tier '" + std::string(tier) + "'");
  return Status::Ok();
}

void RateLimitPolicy::replace_override(std::string_view user, const UserOverride& o) {
  std::unique_lock lock(mu_);
  if (IsEmpty(o)) {
    overrides_.erase(std::string(user));
  } else {
    overrides_[std::string(user)] = o;
  }
  override_count_.store(overrides_.size(), std::memory_order_release);
  count_endpoints();
}

void RateLimitPolicy::replace_all(std::unordered_map<std::string, UserOverride> overrides) {
  std::erase_if(overrides, [](const auto& kv) { return IsEmpty(kv.second); });
  std::unique_lock lock(mu_);
  overrides_ = std::move(overrides);
  override_count_.store(overrides_.size(), std::memory_order_release);
  count_endpoints();
}

Status RateLimitPolicy::set_custom_limit(std::string_view user, RateWindow window, int64_t limit,
                                         std::string_view endpoint) {
  if (Status s = check_custom_limit(user, limit, endpoint); !s.ok()) return s;
  std::unique_lock lock(mu_);
  std::string key(user);
  auto it = overrides_.find(key);
  UserOverride o = it == overrides_.end() ? UserOverride{} : it->second;
  if (endpoint.empty()) {
    o.custom[static_cast<int>(window)] = limit;
    if (Status s = persist(key, o); !s.ok()) return s;
  } else {
    auto e = o.endpoints.try_emplace(std::string(endpoint), kNone).first;
    e->second[static_cast<int>(window)] = limit;
    // Both rows or neither: the endpoint's, and the user's (kept while any
    // endpoint limit exists).
    Status s = InTransaction(db_, [&] {
      Status w = persist_endpoint(key, endpoint, e->second);
      return w.ok() ? persist(key, o) : w;
    });
    if (!s.ok()) return s;
  }
  overrides_[key] = std::move(o);
  override_count_.store(overrides_.size(), std::memory_order_release);
  count_endpoints();
  return Status::Ok();
}

Status RateLimitPolicy::clear_custom_limits(std::string_view user) {
  std::unique_lock lock(mu_);
  std::string key(user);
  auto it = overrides_.find(key);
  if (it == overrides_.end()) return Status::Ok();
  UserOverride o = it->second;
  o.custom = {-1, -1, -1, -1};
  const auto endpoints = std::move(o.endpoints);
  o.endpoints.clear();
  Status s = InTransaction(db_, [&] {
    for (const auto& [endpoint, limits] : endpoints) {
      if (Status w = persist_endpoint(key, endpoint, kNone); !w.ok()) return w;
    }
    return persist(key, o);
  });
  if (!s.ok()) return s;
  if (IsEmpty(o)) {
    overrides_.erase(it);
  } else {
    it->second = std::move(o);
  }
  override_count_.store(overrides_.size(), std::memory_order_release);
  count_endpoints();
  return Status::Ok();
}

std::optional<UserOverride> RateLimitPolicy::override_of(std::string_view user) const {
  std::shared_lock lock(mu_);
  auto it = overrides_.find(std::string(user));
  if (it == overrides_.end()) return std::nullopt;
  return it->second;
}

}  // namespace agentgate
