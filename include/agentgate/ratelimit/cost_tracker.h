// CostTracker: what each user's requests cost (from a price table per model
// and the upstream's reported usage), their spend per UTC day and per UTC
// calendar month, and the budgets that cap it (per tier from config, per
// tier or per user set at run time).
//
//   PriceTable prices({{"gpt-4o-mini", {.input_per_million = 0.15, .output_per_million = 0.60}}});
//   auto tracker = CostTracker::Open(db, prices, {{"free", {.per_day = UsdToNano(1)}}}, clock);
//   SpendStatus s = (*tracker)->check("alice", "free");
//   if (!s.allowed) { /* 429 budget_exceeded, Retry-After: s.retry_after */ }
//   ... call the upstream ...
//   (*tracker)->charge("alice", "gpt-4o-mini", usage.prompt_tokens, usage.completion_tokens);
//
// Money is int64 nano-USD (1e-9 USD): sums never drift, and 2^63 nano-USD is
// 9.2 billion USD. A model missing from the table costs 0; its requests are
// still counted (requests_today / requests_month and unpriced_requests()).
//
// Budgets: a Budget holds a day and a month value in nano-USD, where
// kBudgetInherit (-1) means "not set here", 0 means unlimited and a positive
// value caps the spend. A user's effective budget per period is the user's
// own value if set, else the tier's run-time value if set, else the tier's
// configured value (0 = none). check() denies while the spend of a period is
// at or over its budget; the request that crosses a budget is let through
// (its cost is known only after the call), so concurrent requests can end a
// period over budget by what they cost together. Retry-After is the time to
// the next UTC midnight (day) or the first of the next month (month).
//
// Persistence: with a SqliteDb (component "costs", tables cost_spend and
// cost_budgets), charges are added in memory at once and written behind: the
// first charge after `flush_interval` since the last write adds every pending
// charge to the rows of its day and month in one transaction (so the request
// path pays one SQLite write per interval, not per request); flush() and the
// destructor write the rest. A failed write keeps its charges pending for the
// next one (store_errors() counts failures); a crash loses the charges made
// within one interval after the last write. Budgets set at run time are written at once. Open() reloads this
// day's and month's spend and the budgets, so both survive a restart. Rows of
// past periods are kept (history) but not loaded.
//
// Thread-safety: internally synchronized (one mutex over the spend and the
// budgets; the price table and configured tier budgets are constant).
// Ownership: does not own the SqliteDb or the Clock; both must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"

namespace agentgate {

class SqliteDb;

inline constexpr int64_t kNanoUsdPerUsd = 1'000'000'000;
// kBudgetInherit: a Budget field that is not set at this level.
inline constexpr int64_t kBudgetInherit = -1;

// UsdToNano: `usd` in nano-USD, rounded to the nearest.
int64_t UsdToNano(double usd);
// NanoToUsd: `nano` nano-USD in USD.
inline double NanoToUsd(int64_t nano) { return static_cast<double>(nano) / kNanoUsdPerUsd; }

// ModelPrice: USD per million tokens. Both >= 0.
struct ModelPrice {
  double input_per_million = 0;   // prompt tokens
  double output_per_million = 0;  // completion tokens
};

// PriceTable: model name -> price, exact match. Immutable; thread-safe.
class PriceTable {
 public:
  PriceTable() = default;
  explicit PriceTable(const std::map<std::string, ModelPrice>& prices)
      : prices_(prices.begin(), prices.end()) {}

  // find: the price of `model`, if listed.
  std::optional<ModelPrice> find(std::string_view model) const;
  // cost: nano-USD for `prompt_tokens` in and `completion_tokens` out of
  // `model` (rounded to the nearest nano-USD); 0 for an unlisted model.
  int64_t cost(std::string_view model, int64_t prompt_tokens, int64_t completion_tokens) const;

  const std::map<std::string, ModelPrice, std::less<>>& prices() const { return prices_; }

 private:
  std::map<std::string, ModelPrice, std::less<>> prices_;
};

// Budget: caps per UTC day and per UTC month in nano-USD (see above:
// kBudgetInherit = not set here, 0 = unlimited).
struct Budget {
  int64_t per_day = kBudgetInherit;
  int64_t per_month = kBudgetInherit;
  friend bool operator==(const Budget&, const Budget&) = default;
};

// SpendStatus: one user's spend and budgets now.
struct SpendStatus {
  std::string day;            // "2026-11-28" (UTC)
  std::string month;          // "2026-11" (UTC)
  int64_t today = 0;          // nano-USD spent today
  int64_t this_month = 0;     // nano-USD spent this month
  int64_t requests_today = 0;  // requests charged today (priced or not)
  int64_t requests_month = 0;
  int64_t day_budget = 0;     // effective budget; 0 = none
  int64_t month_budget = 0;
  // allowed: every budget has spend under it. When not: which period
  // ("day" or "month"; the month wins when both are exhausted, it lasts longer)
  // and the time until that period ends.
  bool allowed = true;
  std::string exceeded;
  Nanos retry_after{0};
};

// UtcPeriod: the UTC day ("YYYY-MM-DD") and month ("YYYY-MM") of `now`
// (since the Unix epoch), and the time left in each.
struct UtcPeriod {
  std::string day;
  std::string month;
  Nanos day_left{0};
  Nanos month_left{0};
};
UtcPeriod UtcPeriodOf(Nanos now);

// CostTrackerOptions: how a persisted tracker writes.
struct CostTrackerOptions {
  // Longest time charges wait in memory before they are written. 0 writes
  // every charge at once. Default: 1 s.
  Nanos flush_interval = std::chrono::seconds(1);
};

class CostTracker {
 public:
  // A memory-only tracker. `tier_budgets`: the configured budget of each tier
  // (its keys are the known tiers; kBudgetInherit fields count as 0).
  CostTracker(PriceTable prices, std::map<std::string, Budget> tier_budgets, const Clock& clock);

  // Open: a tracker persisted in `db` (migrated; this period's spend and the
  // stored budgets loaded). REQUIRES: db and clock outlive the tracker.
  static Result<std::unique_ptr<CostTracker>> Open(SqliteDb& db, PriceTable prices,
                                                   std::map<std::string, Budget> tier_budgets,
                                                   const Clock& clock,
                                                   CostTrackerOptions options = {});
  // Writes the pending charges (errors are only counted: see flush()).
  ~CostTracker();
  CostTracker(const CostTracker&) = delete;
  CostTracker& operator=(const CostTracker&) = delete;

  // check: `user`'s spend and budgets under `tier` (the user's resolved tier).
  SpendStatus check(std::string_view user, std::string_view tier) const;

  // charge: adds the cost of the usage to `user`'s day and month (and counts
  // the request even when the model is unpriced). Returns the cost in
  // nano-USD; kInvalidArgument for an empty user (nothing changes). Writes
  // the pending charges when they are due (see above).
  Result<int64_t> charge(std::string_view user, std::string_view model, int64_t prompt_tokens,
                         int64_t completion_tokens);
  // flush: writes every pending charge now. On failure they stay pending and
  // store_errors() grows.
  Status flush();
  // store_errors: failed writes of charges since start.
  int64_t store_errors() const;

  // set_user_budget / set_tier_budget: replace the run-time budget of a user
  // or a tier (fields: kBudgetInherit, 0 or a positive cap). kInvalidArgument
  // for an empty user, an unknown tier or a field < -1 (nothing changes); a
  // store failure leaves memory unchanged too. A Budget of two kBudgetInherit
  // removes the setting.
  Status set_user_budget(std::string_view user, Budget budget);
  Status set_tier_budget(std::string_view tier, Budget budget);

  // user_budget / tier_budget: what was set at run time (kBudgetInherit fields
  // when nothing), and the configured budget of a tier.
  Budget user_budget(std::string_view user) const;
  Budget tier_budget(std::string_view tier) const;
  Budget configured_tier_budget(std::string_view tier) const;
  bool has_tier(std::string_view tier) const;

  // For a shared store (RedisSpendStore), which keeps the fleet's spend and
  // budgets in Redis and this tracker as the local view of them:
  //   mirror_spend: replaces `user`'s spend of the periods named in `t` (a
  //     period other than the current one is ignored);
  //   replace_user_budget / replace_tier_budget / replace_all_budgets:
  //     install budgets read from the store, in memory only (an unknown tier
  //     is ignored; Budget{} removes);
  //   check_budget: the validation of set_user_budget / set_tier_budget alone
  //     (scope "user" or "tier");
  //   count_store_error: adds one to store_errors().
  struct SpendTotals {
    std::string day;
    std::string month;
    int64_t day_nano = 0;
    int64_t day_requests = 0;
    int64_t month_nano = 0;
    int64_t month_requests = 0;
  };
  void mirror_spend(std::string_view user, const SpendTotals& t);
  void replace_user_budget(std::string_view user, Budget budget);
  void replace_tier_budget(std::string_view tier, Budget budget);
  void replace_all_budgets(std::map<std::string, Budget, std::less<>> users,
                           std::map<std::string, Budget, std::less<>> tiers);
  Status check_budget(std::string_view scope, std::string_view name, Budget budget) const;
  void count_store_error();

  // cost_by_model: nano-USD charged per priced model since start (metrics).
  std::vector<std::pair<std::string, int64_t>> cost_by_model() const;
  // unpriced_requests: requests charged for a model missing from the table.
  int64_t unpriced_requests() const;

  const PriceTable& prices() const { return prices_; }

 private:
  struct Spend {
    std::string day;    // the period these counts belong to
    std::string month;
    int64_t day_nano = 0;
    int64_t month_nano = 0;
    int64_t day_requests = 0;
    int64_t month_requests = 0;
  };
  Status set_budget(std::string_view scope, std::string_view name, Budget budget);  // REQUIRES: mu_ held
  // Pending: charges not yet written, per (user, period).
  struct Pending {
    int64_t nano = 0;
    int64_t requests = 0;
  };
  using PendingMap = std::map<std::pair<std::string, std::string>, Pending>;
  Status write(const PendingMap& pending);  // one transaction

  const PriceTable prices_;
  const std::map<std::string, Budget, std::less<>> configured_;  // tier -> configured budget
  const Clock& clock_;
  SqliteDb* db_ = nullptr;  // not owned; null: memory only

  mutable std::mutex mu_;
  std::unordered_map<std::string, Spend> spend_;         // GUARDED_BY(mu_)
  std::map<std::string, Budget, std::less<>> user_budgets_;  // GUARDED_BY(mu_)
  std::map<std::string, Budget, std::less<>> tier_budgets_;  // GUARDED_BY(mu_): run-time
  std::map<std::string, int64_t, std::less<>> by_model_;     // GUARDED_BY(mu_)
  int64_t unpriced_ = 0;                                      // GUARDED_BY(mu_)
  PendingMap pending_;                                        // GUARDED_BY(mu_)
  Nanos last_flush_{0};                                       // GUARDED_BY(mu_)
  int64_t store_errors_ = 0;                                  // GUARDED_BY(mu_)
  CostTrackerOptions options_;                                // set by Open
  std::mutex flush_mu_;  // one writer at a time; taken before mu_, never inside it
};

}  // namespace agentgate
