#include "agentgate/resilience/retry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

#include "agentgate/core/json.h"

namespace agentgate {

std::string_view JitterModeName(JitterMode m) {
  switch (m) {
    case JitterMode::kNone: return "none";
    case JitterMode::kFull: return "full";
    case JitterMode::kProportional: return "proportional";
  }
  return "full";
}

std::optional<JitterMode> ParseJitterMode(std::string_view s) {
  if (s == "none") return JitterMode::kNone;
  if (s == "full") return JitterMode::kFull;
  if (s == "proportional") return JitterMode::kProportional;
  return std::nullopt;
}

Nanos BackoffDelay(const RetryPolicy& p, int retry, ErrorClass c, std::optional<double> u) {
  int n = retry;
  if (c == ErrorClass::kTransient) {
    if (retry <= 1) return Nanos(0);
    n = retry - 1;
  }
  double d = static_cast<double>(p.base_delay.count()) *
             std::pow(p.exponential_base, static_cast<double>(std::max(0, n - 1)));
  d = std::min(d, static_cast<double>(p.max_delay.count()));
  if (u) {
    switch (p.jitter) {
      case JitterMode::kNone: break;
      case JitterMode::kFull: d *= *u; break;
      case JitterMode::kProportional: d *= 0.5 + *u; break;
    }
    d = std::min(d, static_cast<double>(p.max_delay.count()));
  }
  return Nanos(static_cast<int64_t>(d));
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<double> ParseSeconds(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !(v >= 0) || v > 1e9) {
    return std::nullopt;
  }
  return v;
}

Nanos FromSeconds(double s) { return Nanos(static_cast<int64_t>(s * 1e9)); }

// ParseHttpDate: IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", as seconds
// since the epoch.
std::optional<int64_t> ParseHttpDate(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s.substr(25) != " GMT") return std::nullopt;
  auto num = [&](size_t pos, size_t len) -> std::optional<int> {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, v);
    if (ec != std::errc() || p != s.data() + pos + len) return std::nullopt;
    return v;
  };
  auto day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  if (!day || !year || !hh || !mm || !ss || s[19] != ':' || s[22] != ':') return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[i]) month = i;
  }
  if (month < 0 || *day < 1 || *day > 31 || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = *day;
  tm.tm_hour = *hh;
  tm.tm_min = *mm;
  tm.tm_sec = *ss;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::optional<Nanos> ParseRetryAfter(std::string_view value, Nanos now_wall) {
  value = Trim(value);
  if (auto secs = ParseSeconds(value)) return FromSeconds(*secs);
  if (auto t = ParseHttpDate(value)) {
    Nanos at = std::chrono::seconds(*t);
    return std::max(Nanos(0), at - now_wall);
  }
  return std::nullopt;
}

std::optional<Nanos> ParseBodyRetryDelay(std::string_view body) {
  Result<Json> j = ParseJsonObject(body);
  if (!j.ok()) return std::nullopt;
  auto it = j->find("error");
  if (it == j->end() || !it->is_object()) return std::nullopt;
  const Json& error = *it;
  if (auto ra = error.find("retry_after"); ra != error.end() && ra->is_number()) {
    double v = ra->get<double>();
    if (v >= 0 && v <= 1e9) return FromSeconds(v);
  }
  auto details = error.find("details");
  if (details == error.end() || !details->is_array()) return std::nullopt;
  for (const Json& d : *details) {
    if (!d.is_object()) continue;
    auto rd = d.find("retryDelay");
    if (rd == d.end() || !rd->is_string()) continue;
    std::string_view v = rd->get_ref<const std::string&>();
    if (v.empty() || v.back() != 's') continue;
    if (auto secs = ParseSeconds(v.substr(0, v.size() - 1))) return FromSeconds(*secs);
  }
  return std::nullopt;
}

// --- RetryBudget -------------------------------------------------------------

RetryBudget::RetryBudget(RetryBudgetOptions options, const Clock& clock)
    : options_(options),
      buckets_(static_cast<int>(std::clamp<int64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(options.window).count(), 1,
          kMaxBuckets))),
      clock_(clock) {}

int64_t RetryBudget::now_second() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.coarse_monotonic()).count();
}

RetryBudget::Bucket& RetryBudget::bucket_at(int64_t second) {
  Bucket& b = ring_[static_cast<size_t>(second % buckets_)];
  int64_t held = b.second.load(std::memory_order_acquire);
  if (held < second && b.second.compare_exchange_strong(held, second, std::memory_order_acq_rel)) {
    // This caller recycles the bucket; counts racing with it may be lost.
    b.requests.store(0, std::memory_order_relaxed);
    b.retries.store(0, std::memory_order_relaxed);
  }
  return b;
}

void RetryBudget::sums(int64_t second, int64_t* requests, int64_t* retries) const {
  *requests = 0;
  *retries = 0;
  for (int i = 0; i < buckets_; ++i) {
    const Bucket& b = ring_[i];
    int64_t s = b.second.load(std::memory_order_acquire);
    if (s > second - buckets_ && s <= second) {
      *requests += b.requests.load(std::memory_order_relaxed);
      *retries += b.retries.load(std::memory_order_relaxed);
    }
  }
}

void RetryBudget::on_request() {
  bucket_at(now_second()).requests.fetch_add(1, std::memory_order_relaxed);
}

bool RetryBudget::try_retry() {
  int64_t second = now_second();
  Bucket& b = bucket_at(second);
  int64_t requests = 0, retries = 0;
  sums(second, &requests, &retries);
  double allowed = std::max(static_cast<double>(options_.min_retries),
                            options_.ratio * static_cast<double>(requests));
  if (static_cast<double>(retries) + 1 > allowed) return false;
  b.retries.fetch_add(1, std::memory_order_relaxed);
  return true;
}

int64_t RetryBudget::requests_in_window() const {
  int64_t requests = 0, retries = 0;
  sums(now_second(), &requests, &retries);
  return requests;
}

int64_t RetryBudget::retries_in_window() const {
  int64_t requests = 0, retries = 0;
  sums(now_second(), &requests, &retries);
  return retries;
}

// --- RetrySchedule -----------------------------------------------------------

RetrySchedule::RetrySchedule(const RetryPolicy& policy, const Clock& clock, RetryBudget* budget,
                             uint64_t seed)
    : policy_(policy), clock_(clock), budget_(budget), rng_(seed), started_(clock.coarse_monotonic()) {
  if (budget_ != nullptr) budget_->on_request();
}

std::optional<Nanos> RetrySchedule::next(ErrorClass c, std::optional<Nanos> server_delay) {
  budget_exhausted_ = false;
  if (c == ErrorClass::kTransient && !policy_.retry_transient) return std::nullopt;
  if (c == ErrorClass::kRecoverable && !policy_.retry_recoverable) return std::nullopt;
  if (!IsRetryable(c) || attempts_ >= policy_.max_attempts) return std::nullopt;
  // splitmix64, then the top 53 bits as a double in [0, 1).
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  Nanos delay = BackoffDelay(policy_, attempts_, c, u);
  if (server_delay) delay = std::max(delay, *server_delay);
  delay = std::min(delay, policy_.max_delay);
  // The deadline is seconds away: a clock a few milliseconds stale will do
  // (every request makes a schedule; few ever retry).
  if (policy_.deadline > Nanos(0) &&
      clock_.coarse_monotonic() + delay >= started_ + policy_.deadline) {
    return std::nullopt;
  }
  if (budget_ != nullptr && !budget_->try_retry()) {
    budget_exhausted_ = true;
    return std::nullopt;
  }
  ++attempts_;
  return delay;
}

}  // namespace agentgate
