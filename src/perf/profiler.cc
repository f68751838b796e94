#include "agentgate/perf/profiler.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace agentgate {

namespace {

constexpr uint64_t kMaxTrackedNs = (uint64_t{2} << ProfileSite::kMaxExponent) - 1;

// The metrics export_metrics() registers: one list, so that names and help
// texts live in one place.
constexpr std::string_view kCallsTotal = "agentgate_profile_calls_total";
constexpr std::string_view kErrorsTotal = "agentgate_profile_errors_total";
constexpr std::string_view kDurationTotal = "agentgate_profile_duration_seconds_total";
constexpr std::string_view kDurationQuantiles = "agentgate_profile_duration_seconds";
constexpr std::string_view kCacheHitsTotal = "agentgate_profile_cache_hits_total";
constexpr std::string_view kCacheMissesTotal = "agentgate_profile_cache_misses_total";
constexpr std::string_view kCacheHitRatio = "agentgate_profile_cache_hit_ratio";

Nanos Estimate(size_t bucket) {
  const uint64_t lo = ProfileSite::BucketLow(bucket);
  const uint64_t hi = ProfileSite::BucketHigh(bucket);
  return Nanos(static_cast<int64_t>(lo + (hi - lo) / 2));
}

}  // namespace

ProfileSite::ProfileSite(std::string name, const Clock& clock, const std::atomic<bool>& enabled)
    : name_(std::move(name)),
      clock_(clock),
      enabled_(enabled),
      buckets_(new std::atomic<uint64_t>[kNumBuckets]) {
  for (size_t i = 0; i < kNumBuckets; ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

size_t ProfileSite::BucketIndex(uint64_t ns) {
  if (ns < kSubBuckets) return static_cast<size_t>(ns);
  ns = std::min(ns, kMaxTrackedNs);
  const int exponent = std::bit_width(ns) - 1;  // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;
  const uint64_t sub = (ns >> shift) - kSubBuckets;  // [0, kSubBuckets)
  return static_cast<size_t>(kSubBuckets + static_cast<uint64_t>(shift) * kSubBuckets + sub);
}

uint64_t ProfileSite::BucketLow(size_t index) {
  if (index < kSubBuckets) return index;
  const uint64_t shift = (index - kSubBuckets) / kSubBuckets;
  const uint64_t sub = (index - kSubBuckets) % kSubBuckets;
  return (kSubBuckets + sub) << shift;
}

uint64_t ProfileSite::BucketHigh(size_t index) {
  if (index < kSubBuckets) return index;
  const uint64_t shift = (index - kSubBuckets) / kSubBuckets;
  return BucketLow(index) + (uint64_t{1} << shift) - 1;
}

void ProfileSite::record(Nanos duration, bool error) {
  if (!enabled()) return;
  record_ended(duration, error, clock_.monotonic());
}

void ProfileSite::record_ended(Nanos duration, bool error, Nanos end_monotonic) {
  const uint64_t ns = duration.count() > 0 ? static_cast<uint64_t>(duration.count()) : 0;
  calls_.fetch_add(1, std::memory_order_relaxed);
  if (error) errors_.fetch_add(1, std::memory_order_relaxed);
  total_ns_.fetch_add(ns, std::memory_order_relaxed);
  buckets_[BucketIndex(ns)].fetch_add(1, std::memory_order_relaxed);
  uint64_t cur = min_ns_.load(std::memory_order_relaxed);
  while (ns < cur && !min_ns_.compare_exchange_weak(cur, ns, std::memory_order_relaxed)) {
  }
  cur = max_ns_.load(std::memory_order_relaxed);
  while (ns > cur && !max_ns_.compare_exchange_weak(cur, ns, std::memory_order_relaxed)) {
  }
  last_end_monotonic_ns_.store(end_monotonic.count(), std::memory_order_relaxed);
}

FunctionMetrics ProfileSite::metrics() const {
  FunctionMetrics m;
  m.name = name_;
  m.calls = calls_.load(std::memory_order_relaxed);
  m.errors = errors_.load(std::memory_order_relaxed);
  m.total_time = Nanos(static_cast<int64_t>(total_ns_.load(std::memory_order_relaxed)));
  m.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  m.cache_misses = cache_misses_.load(std::memory_order_relaxed);
  if (m.cache_hits + m.cache_misses > 0) {
    m.cache_hit_rate =
        static_cast<double>(m.cache_hits) / static_cast<double>(m.cache_hits + m.cache_misses);
  }
  if (m.calls == 0) return m;

  const uint64_t min_ns = min_ns_.load(std::memory_order_relaxed);
  const uint64_t max_ns = max_ns_.load(std::memory_order_relaxed);
  m.min_time = Nanos(static_cast<int64_t>(min_ns == UINT64_MAX ? 0 : min_ns));
  m.max_time = Nanos(static_cast<int64_t>(max_ns));
  m.average_time = m.total_time / static_cast<int64_t>(m.calls);

  // Last call: stored as a monotonic instant (one clock read per call less);
  // converted to wall time here.
  const int64_t last = last_end_monotonic_ns_.load(std::memory_order_relaxed);
  m.last_call = clock_.now() - (clock_.monotonic() - Nanos(last));

  // Percentiles: nearest rank over one pass of the buckets.
  std::vector<uint64_t> counts(kNumBuckets);
  uint64_t n = 0;
  for (size_t i = 0; i < kNumBuckets; ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
    n += counts[i];
  }
  if (n == 0) return m;
  const double qs[3] = {0.50, 0.95, 0.99};
  Nanos* outs[3] = {&m.p50, &m.p95, &m.p99};
  for (int q = 0; q < 3; ++q) {
    const auto rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::ceil(qs[q] * static_cast<double>(n) - 1e-9)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kNumBuckets; ++i) {
      seen += counts[i];
      if (seen >= rank) {
        *outs[q] = std::clamp(Estimate(i), m.min_time, std::max(m.min_time, m.max_time));
        break;
      }
    }
  }
  return m;
}

void ProfileSite::reset() {
  calls_.store(0, std::memory_order_relaxed);
  errors_.store(0, std::memory_order_relaxed);
  total_ns_.store(0, std::memory_order_relaxed);
  min_ns_.store(UINT64_MAX, std::memory_order_relaxed);
  max_ns_.store(0, std::memory_order_relaxed);
  last_end_monotonic_ns_.store(0, std::memory_order_relaxed);
  cache_hits_.store(0, std::memory_order_relaxed);
  cache_misses_.store(0, std::memory_order_relaxed);
  for (size_t i = 0; i < kNumBuckets; ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

ProfileSite& ScopedProfile::Disabled() {
  static const std::atomic<bool> kOff{false};
  static ProfileSite* const kSite = new ProfileSite("", Clock::system(), kOff);
  return *kSite;
}

Profiler::Profiler(const Clock& clock, bool enabled) : clock_(clock), enabled_(enabled) {}

Profiler::~Profiler() {
  std::lock_guard lock(export_mu_);
  if (registry_ != nullptr) {
    for (uint64_t id : collector_ids_) registry_->remove_collector(id);
  }
}

ProfileSite& Profiler::site(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = sites_.find(name);
  if (it == sites_.end()) {
    it = sites_
             .emplace(std::string(name), std::unique_ptr<ProfileSite>(new ProfileSite(
                                             std::string(name), clock_, enabled_)))
             .first;
  }
  return *it->second;
}

std::map<std::string, FunctionMetrics, std::less<>> Profiler::get_performance_metrics() const {
  std::vector<const ProfileSite*> sites;
  {
    std::lock_guard lock(mu_);
    sites.reserve(sites_.size());
    for (const auto& [_, s] : sites_) sites.push_back(s.get());
  }
  std::map<std::string, FunctionMetrics, std::less<>> out;
  for (const ProfileSite* s : sites) out.emplace(s->name(), s->metrics());
  return out;
}

void Profiler::reset() {
  std::lock_guard lock(mu_);
  for (auto& [_, s] : sites_) s->reset();
}

void Profiler::export_metrics(MetricsRegistry& registry) {
  std::lock_guard lock(export_mu_);
  if (registry_ != nullptr) {
    for (uint64_t id : collector_ids_) registry_->remove_collector(id);
    collector_ids_.clear();
  }
  registry_ = &registry;

  using Sample = MetricsRegistry::Sample;
  // Each collector takes its own snapshot; a scrape computes the sites a few
  // times, which is cheap next to rendering.
  auto per_site = [this](auto value) {
    return [this, value]() {
      std::vector<Sample> out;
      for (const auto& [name, m] : get_performance_metrics()) value(name, m, out);
      return out;
    };
  };
  auto add = [&](std::string_view name, std::string_view help, MetricType type, auto value) {
    collector_ids_.push_back(registry.add_collector(name, help, type, per_site(value)));
  };
  add(kCallsTotal, "Calls recorded by the profiler", MetricType::kCounter,
      [](const std::string& fn, const FunctionMetrics& m, std::vector<Sample>& out) {
        out.push_back({{{"function", fn}}, static_cast<double>(m.calls)});
      });
  add(kErrorsTotal, "Profiled calls that failed", MetricType::kCounter,
      [](const std::string& fn, const FunctionMetrics& m, std::vector<Sample>& out) {
        out.push_back({{{"function", fn}}, static_cast<double>(m.errors)});
      });
  add(kDurationTotal, "Total time spent in profiled calls", MetricType::kCounter,
      [](const std::string& fn, const FunctionMetrics& m, std::vector<Sample>& out) {
        out.push_back({{{"function", fn}}, ToSeconds(m.total_time)});
      });
  add(kDurationQuantiles, "Duration percentiles of profiled calls (relative error <= 1/64)",
      MetricType::kGauge,
      [](const std::string& fn, const FunctionMetrics& m, std::vector<Sample>& out) {
        out.push_back({{{"function", fn}, {"quantile", "0.5"}}, ToSeconds(m.p50)});
        out.push_back({{{"function", fn}, {"quantile", "0.95"}}, ToSeconds(m.p95)});
        out.push_back({{{"function", fn}, {"quantile", "0.99"}}, ToSeconds(m.p99)});
      });
  auto cache_only = [](auto value) {
    return [value](const std::string& fn, const FunctionMetrics& m, std::vector<Sample>& out) {
      if (m.cache_hits + m.cache_misses > 0) out.push_back({{{"function", fn}}, value(m)});
    };
  };
  add(kCacheHitsTotal, "Memoizing cache hits of profiled functions", MetricType::kCounter,
      cache_only([](const FunctionMetrics& m) { return static_cast<double>(m.cache_hits); }));
  add(kCacheMissesTotal, "Memoizing cache misses of profiled functions", MetricType::kCounter,
      cache_only([](const FunctionMetrics& m) { return static_cast<double>(m.cache_misses); }));
  add(kCacheHitRatio, "Memoizing cache hit ratio of profiled functions", MetricType::kGauge,
      cache_only([](const FunctionMetrics& m) { return m.cache_hit_rate; }));
}

}  // namespace agentgate
