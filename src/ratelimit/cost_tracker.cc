#include "agentgate/ratelimit/cost_tracker.h"

#include <fmt/format.h>

#include <chrono>
#include <climits>
#include <cmath>

#include "store/sqlite_db.h"

namespace agentgate {

namespace {

const std::vector<std::string> kMigrations = {
    // v1: spend per user and period ("YYYY-MM-DD" or "YYYY-MM"); run-time
    // budgets per scope ("user" or "tier") and name, -1 = not set, 0 = none.
    "CREATE TABLE cost_spend(user_id TEXT NOT NULL, period TEXT NOT NULL, "
    "nano_usd INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY(user_id, period));"
    "CREATE TABLE cost_budgets(scope TEXT NOT NULL, name TEXT NOT NULL, "
    "per_day INTEGER NOT NULL DEFAULT -1, per_month INTEGER NOT NULL DEFAULT -1, "
    "PRIMARY KEY(scope, name))",
};

// Effective: the first value that is set (>= 0) of `values`; 0 when none.
int64_t Effective(std::initializer_list<int64_t> values) {
  for (int64_t v : values) {
    if (v >= 0) return v;
  }
  return 0;
}

Status CheckBudget(const Budget& b) {
  if (b.per_day < kBudgetInherit || b.per_month < kBudgetInherit) {
    return InvalidArgument("budget must be >= 0 (0 = unlimited) or unset");
  }
  return Status::Ok();
}

}  // namespace

int64_t UsdToNano(double usd) { return std::llround(usd * static_cast<double>(kNanoUsdPerUsd)); }

std::optional<ModelPrice> PriceTable::find(std::string_view model) const {
  auto it = prices_.find(model);
  if (it == prices_.end()) return std::nullopt;
  return it->second;
}

int64_t PriceTable::cost(std::string_view model, int64_t prompt_tokens,
                         int64_t completion_tokens) const {
  auto p = find(model);
  if (!p) return 0;
  // USD per million tokens = nano-USD per thousandth of a token: x 1000.
  double nano = static_cast<double>(std::max<int64_t>(0, prompt_tokens)) * p->input_per_million * 1000.0 +
                static_cast<double>(std::max<int64_t>(0, completion_tokens)) * p->output_per_million * 1000.0;
  return std::llround(nano);
}

namespace {

// ComputeUtcPeriod: the calendar arithmetic and formatting of UtcPeriodOf.
UtcPeriod ComputeUtcPeriod(Nanos now) {
  using namespace std::chrono;
  sys_time<nanoseconds> t{now};
  sys_days today = floor<days>(t);
  year_month_day ymd{today};
  year_month ym{ymd.year(), ymd.month()};
  sys_days next_month{(ym + months(1)) / 1};
  UtcPeriod p;
  p.day = fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  p.month = p.day.substr(0, 7);
  p.day_left = (today + days(1)) - t;
  p.month_left = next_month - t;
  return p;
}

}  // namespace

// The labels change once a day: each thread keeps the last day it formatted
// and only recomputes the time left (the labels fit std::string's inline buffer).
UtcPeriod UtcPeriodOf(Nanos now) {
  constexpr int64_t kDayNs = 86'400'000'000'000;
  struct Cached {
    int64_t day = INT64_MIN;  // days since the epoch
    UtcPeriod at_midnight;    // the period at that day's 00:00
  };
  thread_local Cached cached;
  int64_t ns = now.count();
  int64_t day = ns >= 0 ? ns / kDayNs : -((-ns + kDayNs - 1) / kDayNs);
  if (day != cached.day) {
    cached.at_midnight = ComputeUtcPeriod(Nanos(day * kDayNs));
    cached.day = day;
  }
  UtcPeriod p = cached.at_midnight;
  Nanos since_midnight(ns - day * kDayNs);
  p.day_left -= since_midnight;
  p.month_left -= since_midnight;
  return p;
}

CostTracker::CostTracker(PriceTable prices, std::map<std::string, Budget> tier_budgets,
                         const Clock& clock)
    : prices_(std::move(prices)),
      configured_(tier_budgets.begin(), tier_budgets.end()),
      clock_(clock) {}

Result<std::unique_ptr<CostTracker>> CostTracker::Open(SqliteDb& db, PriceTable prices,
                                                       std::map<std::string, Budget> tier_budgets,
                                                       const Clock& clock,
                                                       CostTrackerOptions options) {
  if (Status s = db.migrate("costs", kMigrations); !s.ok()) return s;
  auto t = std::make_unique<CostTracker>(std::move(prices), std::move(tier_budgets), clock);
  t->options_ = options;
  t->last_flush_ = clock.monotonic();
  UtcPeriod p = UtcPeriodOf(clock.now());
  {
    auto st = db.prepare(
        "SELECT user_id, period, nano_usd, requests FROM cost_spend WHERE period IN (?, ?)");
    if (!st.ok()) return st.status();
    if (Status s = st->bind_text(1, p.day); !s.ok()) return s;
    if (Status s = st->bind_text(2, p.month); !s.ok()) return s;
    while (true) {
      Result<bool> row = st->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      Spend& sp = t->spend_[st->column_text(0)];
      sp.day = p.day;
      sp.month = p.month;
      if (st->column_text(1) == p.day) {
        sp.day_nano = st->column_int64(2);
        sp.day_requests = st->column_int64(3);
      } else {
        sp.month_nano = st->column_int64(2);
        sp.month_requests = st->column_int64(3);
      }
    }
  }
  auto st = db.prepare("SELECT scope, name, per_day, per_month FROM cost_budgets");
  if (!st.ok()) return st.status();
  while (true) {
    Result<bool> row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Budget b{st->column_int64(2), st->column_int64(3)};
    if (st->column_text(0) == "user") {
      t->user_budgets_[st->column_text(1)] = b;
    } else if (t->has_tier(st->column_text(1))) {  // a tier since removed from config is ignored
      t->tier_budgets_[st->column_text(1)] = b;
    }
  }
  t->db_ = &db;
  return t;
}

SpendStatus CostTracker::check(std::string_view user, std::string_view tier) const {
  UtcPeriod p = UtcPeriodOf(clock_.now());
  SpendStatus s;
  s.day = p.day;
  s.month = p.month;
  Budget conf = configured_tier_budget(tier);
  std::lock_guard lock(mu_);
  if (auto it = spend_.find(std::string(user)); it != spend_.end()) {
    if (it->second.day == p.day) {
      s.today = it->second.day_nano;
      s.requests_today = it->second.day_requests;
    }
    if (it->second.month == p.month) {
      s.this_month = it->second.month_nano;
      s.requests_month = it->second.month_requests;
    }
  }
  Budget u, t;
  if (auto it = user_budgets_.find(user); it != user_budgets_.end()) u = it->second;
  if (auto it = tier_budgets_.find(tier); it != tier_budgets_.end()) t = it->second;
  s.day_budget = Effective({u.per_day, t.per_day, conf.per_day});
  s.month_budget = Effective({u.per_month, t.per_month, conf.per_month});
  if (s.month_budget > 0 && s.this_month >= s.month_budget) {
    s.allowed = false;
    s.exceeded = "month";
    s.retry_after = p.month_left;
  } else if (s.day_budget > 0 && s.today >= s.day_budget) {
    s.allowed = false;
    s.exceeded = "day";
    s.retry_after = p.day_left;
  }
  return s;
}

CostTracker::~CostTracker() { (void)flush(); }

Status CostTracker::write(const PendingMap& pending) {
  return db_->transaction([&]() -> Status {
    auto st = db_->prepare(
        "INSERT INTO cost_spend(user_id, period, nano_usd, requests) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(user_id, period) DO UPDATE SET nano_usd = nano_usd + excluded.nano_usd, "
        "requests = requests + excluded.requests");
    if (!st.ok()) return st.status();
    for (const auto& [key, p] : pending) {
      if (Status s = st->bind_text(1, key.first); !s.ok()) return s;
      if (Status s = st->bind_text(2, key.second); !s.ok()) return s;
      if (Status s = st->bind_int64(3, p.nano); !s.ok()) return s;
      if (Status s = st->bind_int64(4, p.requests); !s.ok()) return s;
      if (Status s = st->run(); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

Status CostTracker::flush() {
  if (!db_) return Status::Ok();
  std::lock_guard writer(flush_mu_);
  PendingMap pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(pending_);
    last_flush_ = clock_.monotonic();
  }
  if (pending.empty()) return Status::Ok();
  Status s = write(pending);
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    ++store_errors_;
    for (const auto& [key, p] : pending) {  // keep them for the next write
      Pending& q = pending_[key];
      q.nano += p.nano;
      q.requests += p.requests;
    }
  }
  return s;
}

int64_t CostTracker::store_errors() const {
  std::lock_guard lock(mu_);
  return store_errors_;
}

Result<int64_t> CostTracker::charge(std::string_view user, std::string_view model,
                                    int64_t prompt_tokens, int64_t completion_tokens) {
  if (user.empty()) return InvalidArgument("user id must not be empty");
  const bool priced = prices_.find(model).has_value();
  const int64_t nano = prices_.cost(model, prompt_tokens, completion_tokens);
  UtcPeriod p = UtcPeriodOf(clock_.now());
  std::string key(user);
  bool due = false;
  {
    std::lock_guard lock(mu_);
    Spend& sp = spend_[key];
    if (sp.day != p.day) {
      sp.day = p.day;
      sp.day_nano = 0;
      sp.day_requests = 0;
    }
    if (sp.month != p.month) {
      sp.month = p.month;
      sp.month_nano = 0;
      sp.month_requests = 0;
    }
    sp.day_nano += nano;
    sp.month_nano += nano;
    ++sp.day_requests;
    ++sp.month_requests;
    if (priced) {
      by_model_[std::string(model)] += nano;
    } else {
      ++unpriced_;
    }
    if (db_) {
      for (const std::string* period : {&p.day, &p.month}) {
        Pending& q = pending_[{key, *period}];
        q.nano += nano;
        ++q.requests;
      }
      due = clock_.monotonic() - last_flush_ >= options_.flush_interval;
    }
  }
  if (due) (void)flush();  // failures are counted and retried by the next write
  return nano;
}

Status CostTracker::set_budget(std::string_view scope, std::string_view name, Budget budget) {
  if (!db_) return Status::Ok();
  if (budget == Budget{}) {
    auto st = db_->prepare("DELETE FROM cost_budgets WHERE scope = ? AND name = ?");
    if (!st.ok()) return st.status();
    if (Status s = st->bind_text(1, scope); !s.ok()) return s;
    if (Status s = st->bind_text(2, name); !s.ok()) return s;
    return st->run();
  }
  auto st = db_->prepare(
      "INSERT INTO cost_budgets(scope, name, per_day, per_month) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(scope, name) DO UPDATE SET per_day = excluded.per_day, "
      "per_month = excluded.per_month");
  if (!st.ok()) return st.status();
  if (Status s = st->bind_text(1, scope); !s.ok()) return s;
  if (Status s = st->bind_text(2, name); !s.ok()) return s;
  if (Status s = st->bind_int64(3, budget.per_day); !s.ok()) return s;
  if (Status s = st->bind_int64(4, budget.per_month); !s.ok()) return s;
  return st->run();
}

Status CostTracker::set_user_budget(std::string_view user, Budget budget) {
  if (user.empty()) return InvalidArgument("user id must not be empty");
  if (Status s = CheckBudget(budget); !s.ok()) return s;
  std::lock_guard lock(mu_);
  if (Status s = set_budget("user", user, budget); !s.ok()) return s;
  if (budget == Budget{}) {
    if (auto it = user_budgets_.find(user); it != user_budgets_.end()) user_budgets_.erase(it);
  } else {
    user_budgets_[std::string(user)] = budget;
  }
  return Status::Ok();
}

Status CostTracker::set_tier_budget(std::string_view tier, Budget budget) {
  if (!has_tier(tier)) return InvalidArgument("unknown tier '" + std::string(tier) + "'");
  if (Status s = CheckBudget(budget); !s.ok()) return s;
  std::lock_guard lock(mu_);
  if (Status s = set_budget("tier", tier, budget); !s.ok()) return s;
  if (budget == Budget{}) {
    if (auto it = tier_budgets_.find(tier); it != tier_budgets_.end()) tier_budgets_.erase(it);
  } else {
    tier_budgets_[std::string(tier)] = budget;
  }
  return Status::Ok();
}

void CostTracker::mirror_spend(std::string_view user, const SpendTotals& t) {
  UtcPeriod p = UtcPeriodOf(clock_.now());
  std::lock_guard lock(mu_);
  Spend& sp = spend_[std::string(user)];
  if (t.day == p.day) {
    sp.day = t.day;
    sp.day_nano = t.day_nano;
    sp.day_requests = t.day_requests;
  }
  if (t.month == p.month) {
    sp.month = t.month;
    sp.month_nano = t.month_nano;
    sp.month_requests = t.month_requests;
  }
}

void CostTracker::replace_user_budget(std::string_view user, Budget budget) {
  std::lock_guard lock(mu_);
  if (budget == Budget{}) {
    if (auto it = user_budgets_.find(user); it != user_budgets_.end()) user_budgets_.erase(it);
  } else {
    user_budgets_[std::string(user)] = budget;
  }
}

void CostTracker::replace_tier_budget(std::string_view tier, Budget budget) {
  if (!has_tier(tier)) return;
  std::lock_guard lock(mu_);
  if (budget == Budget{}) {
    if (auto it = tier_budgets_.find(tier); it != tier_budgets_.end()) tier_budgets_.erase(it);
  } else {
    tier_budgets_[std::string(tier)] = budget;
  }
}

void CostTracker::replace_all_budgets(std::map<std::string, Budget, std::less<>> users,
                                      std::map<std::string, Budget, std::less<>> tiers) {
  std::erase_if(tiers, [this](const auto& kv) { return !has_tier(kv.first); });
  std::lock_guard lock(mu_);
  user_budgets_ = std::move(users);
  tier_budgets_ = std::move(tiers);
}

Status CostTracker::check_budget(std::string_view scope, std::string_view name,
                                 Budget budget) const {
  if (scope == "user" && name.empty()) return InvalidArgument("user id must not be empty");
  if (scope == "tier" && !has_tier(name)) {
    return InvalidArgument("unknown tier '" + std::string(name) + "'");
  }
  return CheckBudget(budget);
}

void CostTracker::count_store_error() {
  std::lock_guard lock(mu_);
  ++store_errors_;
}

Budget CostTracker::user_budget(std::string_view user) const {
  std::lock_guard lock(mu_);
  auto it = user_budgets_.find(user);
  return it == user_budgets_.end() ? Budget{} : it->second;
}

Budget CostTracker::tier_budget(std::string_view tier) const {
  std::lock_guard lock(mu_);
  auto it = tier_budgets_.find(tier);
  return it == tier_budgets_.end() ? Budget{} : it->second;
}

Budget CostTracker::configured_tier_budget(std::string_view tier) const {
  auto it = configured_.find(tier);
  return it == configured_.end() ? Budget{} : it->second;
}

bool CostTracker::has_tier(std::string_view tier) const {
  return configured_.find(tier) != configured_.end();
}

std::vector<std::pair<std::string, int64_t>> CostTracker::cost_by_model() const {
  std::lock_guard lock(mu_);
  return {by_model_.begin(), by_model_.end()};
}

int64_t CostTracker::unpriced_requests() const {
  std::lock_guard lock(mu_);
  return unpriced_;
}

}  // namespace agentgate
