// RateLimitPolicy: which limits apply to a user. Tiers are fixed at start-up
// (from config); per-user tier assignments and per-user, per-window custom
// limits are set at run time and, with a SqliteDb, persisted (table
// ratelimit_overrides, component "ratelimit") so they survive a restart.
//
// Resolution for (user, caller_tier): the user's assigned tier if any, else
// caller_tier if it names a tier, else the default tier; then each window's
// custom limit of the user, if set, replaces the tier's limit.
//
// Per-endpoint custom limits: set_custom_limit(user, window, limit, endpoint)
// replaces the limit of one window for that endpoint only (e.g.
// "/v1/chat/completions"; persisted in table ratelimit_endpoint_limits,
// component "ratelimit_endpoints"). Requests of a user to an endpoint with
// such limits are counted under their own limiter key, EndpointLimitKey(user,
// endpoint), apart from the user's other requests; resolve() of that key
// yields the user's limits with the endpoint's windows replaced.
//
// Thread-safety: internally synchronized (a shared mutex over the overrides;
// the tiers are constant). Ownership: does not own the SqliteDb.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"

namespace agentgate {

class SqliteDb;

// RateWindow: the four windows of every limit.
enum class RateWindow : int {
  kSecond = 0,  // 1 s
  kMinute = 1,  // 60 s
  kHour = 2,    // 3600 s
  kDay = 3,     // 86400 s
};
inline constexpr int kRateWindowCount = 4;

// RateWindowName: "second", "minute", "hour", "day".
std::string_view RateWindowName(RateWindow w);
// ParseRateWindow: the inverse of RateWindowName; kInvalidArgument otherwise.
Result<RateWindow> ParseRateWindow(std::string_view name);
// RateWindowWidth: the window's length.
Nanos RateWindowWidth(RateWindow w);

// kProxiedEndpoints: the endpoints a per-endpoint custom limit may name.
inline constexpr std::string_view kProxiedEndpoints[] = {"/v1/chat/completions", "/v1/completions",
                                                         "/v1/embeddings"};

// TierLimits: one tier. Every value >= 0; 0 means unlimited.
struct TierLimits {
  std::array<int64_t, kRateWindowCount> requests{};  // per second, minute, hour, day
  int64_t tokens_per_minute = 0;
  int64_t tokens_per_day = 0;
};

// ResolvedLimits: what applies to one user now.
struct ResolvedLimits {
  std::string tier;
  std::array<int64_t, kRateWindowCount> requests{};
  int64_t tokens_per_minute = 0;
  int64_t tokens_per_day = 0;
};

// RequestLimits: resolve()'s request limits without copying the tier's
// name (the limiters' per-call path). `tier` points into tiers() (which
// never changes; null only when the policy has no tier of that name, which
// its REQUIRES rule out); `tier_index` is its position in tiers() (-1 with
// it); `custom`: a custom limit replaced at least one of the tier's limits.
struct RequestLimits {
  const std::string* tier = nullptr;
  int tier_index = -1;
  bool custom = false;
  std::array<int64_t, kRateWindowCount> requests{};
};

// UserOverride: what was set for one user at run time.
struct UserOverride {
  std::string tier;                                  // "" = none assigned
  std::array<int64_t, kRateWindowCount> custom{-1, -1, -1, -1};  // -1 = none
  // Endpoint path -> custom limits for that endpoint only (-1 = none).
  std::map<std::string, std::array<int64_t, kRateWindowCount>, std::less<>> endpoints;
};

// kEndpointKeySeparator: joins a user and an endpoint in a limiter key.
inline constexpr char kEndpointKeySeparator = '\x1f';
// EndpointLimitKey: the limiter key of `user`'s requests to `endpoint` when
// the user has custom limits for it: user + '\x1f' + endpoint.
std::string EndpointLimitKey(std::string_view user, std::string_view endpoint);

class RateLimitPolicy {
 public:
  // REQUIRES: default_tier is a key of tiers.
  RateLimitPolicy(std::map<std::string, TierLimits> tiers, std::string default_tier);

  // Open: a policy persisted in `db` (migrated, overrides loaded).
  // REQUIRES: db outlives the policy.
  static Result<std::unique_ptr<RateLimitPolicy>> Open(SqliteDb& db,
                                                       std::map<std::string, TierLimits> tiers,
                                                       std::string default_tier);

  // resolve: the limits of `user` (or of an EndpointLimitKey) called with
  // `caller_tier` (see above).
  ResolvedLimits resolve(std::string_view user, std::string_view caller_tier) const;
  // resolve_requests: the request limits of resolve(user, caller_tier),
  // without copies (and without a lock while no user has an override).
  RequestLimits resolve_requests(std::string_view user, std::string_view caller_tier) const;

  // has_endpoint_limits: `user` has custom limits for `endpoint` (cheap when
  // no user has any).
  bool has_endpoint_limits(std::string_view user, std::string_view endpoint) const;

  // set_user_tier: assigns `tier` to `user`. kInvalidArgument for an unknown
  // tier (nothing changes); a store failure leaves memory unchanged too.
  Status set_user_tier(std::string_view user, std::string_view tier);
  // set_custom_limit: `limit` (>= 0; 0 = unlimited) for `user` in `window`;
  // with a non-empty `endpoint`, for that endpoint only (kInvalidArgument
  // unless it is one of kProxiedEndpoints; nothing changes).
  Status set_custom_limit(std::string_view user, RateWindow window, int64_t limit,
                          std::string_view endpoint = {});
  // clear_custom_limits: removes every custom limit of `user`, per-endpoint ones too.
  Status clear_custom_limits(std::string_view user);

  // check_user_tier / check_custom_limit: the validation of set_user_tier and
  // set_custom_limit alone (for a shared store that writes elsewhere first).
  Status check_user_tier(std::string_view user, std::string_view tier) const;
  static Status check_custom_limit(std::string_view user, int64_t limit, std::string_view endpoint);

  // replace_override / replace_all: install overrides read from a shared
  // store (RedisOverrideStore), in memory only; an empty override removes the
  // user's. Nothing is validated or persisted.
  void replace_override(std::string_view user, const UserOverride& o);
  void replace_all(std::unordered_map<std::string, UserOverride> overrides);

  // override_of: what was set for `user`, if anything.
  std::optional<UserOverride> override_of(std::string_view user) const;

  const std::map<std::string, TierLimits>& tiers() const { return tiers_; }
  const std::string& default_tier() const { return default_tier_; }
  bool has_tier(std::string_view tier) const { return find_tier(tier) != nullptr; }

 private:
  Status persist(const std::string& user, const UserOverride& o);  // REQUIRES: mu_ held
  // persist_endpoint: the row of (user, endpoint); deleted when `limits` is all -1.
  Status persist_endpoint(const std::string& user, std::string_view endpoint,
                          const std::array<int64_t, kRateWindowCount>& limits);  // REQUIRES: mu_ held
  void count_endpoints();  // REQUIRES: mu_ held (exclusive)
  // find_tier: the entry of tiers_ named `name`, or null (a scan of
  // tier_index_: no string is built, unlike std::map::find).
  const std::pair<const std::string, TierLimits>* find_tier(std::string_view name) const;
  // find_tier_index: the position in tier_index_ of the tier named `name`, or -1.
  int find_tier_index(std::string_view name) const;
  // resolve_into: resolve()'s steps: the tier's position in tier_index_ (or
  // -1) and, in *r, the request limits with the user's custom ones.
  int resolve_into(std::string_view key, std::string_view caller_tier, RequestLimits* r) const;

  const std::map<std::string, TierLimits> tiers_;
  const std::string default_tier_;
  // tier_index_: the entries of tiers_ (which never changes), for find_tier.
  std::vector<const std::pair<const std::string, TierLimits>*> tier_index_;
  int default_index_ = -1;  // of default_tier_ in tier_index_ (-1: not a tier)
  SqliteDb* db_ = nullptr;  // not owned; null: memory only
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, UserOverride> overrides_;  // GUARDED_BY(mu_)
  std::atomic<size_t> override_count_{0};  // overrides_.size(): skips the lock when 0
  std::atomic<size_t> endpoint_override_count_{0};  // users with endpoint limits
};

}  // namespace agentgate
