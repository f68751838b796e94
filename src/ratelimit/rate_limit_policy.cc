#include "agentgate/ratelimit/rate_limit_policy.h"

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

bool IsEmpty(const UserOverride& o) {
  if (!o.tier.empty()) return false;
  for (int64_t c : o.custom) {
    if (c >= 0) return false;
  }
  return true;
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

Nanos RateWindowWidth(RateWindow w) {
  return std::chrono::seconds(kWindowSeconds[static_cast<int>(w)]);
}

RateLimitPolicy::RateLimitPolicy(std::map<std::string, TierLimits> tiers, std::string default_tier)
    : tiers_(std::move(tiers)), default_tier_(std::move(default_tier)) {}

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
  p->override_count_.store(p->overrides_.size());
  p->db_ = &db;
  return p;
}

ResolvedLimits RateLimitPolicy::resolve(std::string_view user, std::string_view caller_tier) const {
  ResolvedLimits r;
  const UserOverride* o = nullptr;
  std::shared_lock lock(mu_, std::defer_lock);
  if (override_count_.load(std::memory_order_acquire) != 0) {
    lock.lock();
    auto it = overrides_.find(std::string(user));
    if (it != overrides_.end()) o = &it->second;
  }
  auto tier = tiers_.end();
  if (o && !o->tier.empty()) tier = tiers_.find(o->tier);
  if (tier == tiers_.end() && !caller_tier.empty()) tier = tiers_.find(std::string(caller_tier));
  if (tier == tiers_.end()) tier = tiers_.find(default_tier_);
  if (tier != tiers_.end()) {
    r.tier = tier->first;
    r.requests = tier->second.requests;
    r.tokens_per_minute = tier->second.tokens_per_minute;
    r.tokens_per_day = tier->second.tokens_per_day;
  }
  if (o) {
    for (int i = 0; i < kRateWindowCount; ++i) {
      if (o->custom[i] >= 0) r.requests[i] = o->custom[i];
    }
  }
  return r;
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

Status RateLimitPolicy::set_user_tier(std::string_view user, std::string_view tier) {
  if (user.empty()) return InvalidArgument("user id must not be empty");
  if (!has_tier(tier)) return InvalidArgument("unknown tier '" + std::string(tier) + "'");
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

Status RateLimitPolicy::set_custom_limit(std::string_view user, RateWindow window, int64_t limit) {
  if (user.empty()) return InvalidArgument("user id must not be empty");
  if (limit < 0) return InvalidArgument("limit must be >= 0 (0 = unlimited)");
  std::unique_lock lock(mu_);
  std::string key(user);
  auto it = overrides_.find(key);
  UserOverride o = it == overrides_.end() ? UserOverride{} : it->second;
  o.custom[static_cast<int>(window)] = limit;
  if (Status s = persist(key, o); !s.ok()) return s;
  overrides_[key] = std::move(o);
  override_count_.store(overrides_.size(), std::memory_order_release);
  return Status::Ok();
}

Status RateLimitPolicy::clear_custom_limits(std::string_view user) {
  std::unique_lock lock(mu_);
  std::string key(user);
  auto it = overrides_.find(key);
  if (it == overrides_.end()) return Status::Ok();
  UserOverride o = it->second;
  o.custom = {-1, -1, -1, -1};
  if (Status s = persist(key, o); !s.ok()) return s;
  if (IsEmpty(o)) {
    overrides_.erase(it);
  } else {
    it->second = std::move(o);
  }
  override_count_.store(overrides_.size(), std::memory_order_release);
  return Status::Ok();
}

std::optional<UserOverride> RateLimitPolicy::override_of(std::string_view user) const {
  std::shared_lock lock(mu_);
  auto it = overrides_.find(std::string(user));
  if (it == overrides_.end()) return std::nullopt;
  return it->second;
}

}  // namespace agentgate
