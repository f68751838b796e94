// Profiler: per-name call counts, durations, latency percentiles, errors and
// cache hit rates, cheap enough for the request path.
//
//   Profiler profiler;                          // Clock::system()
//   ProfileSite& parse = profiler.site("parse_request");   // once
//   {
//     ScopedProfile p(parse);                   // times this scope
//     if (!ok) p.set_error();                   // or let an exception escape
//   }
//   auto fetch = profiler.profile("fetch", [](int id) { return Load(id); });
//   auto rpc = profiler.profile("rpc", [](int id) -> asio::awaitable<int> {...});
//   profiler.export_metrics(registry);          // /metrics reads it at scrape
//
// Percentiles come from a log-bucketed histogram of fixed size per name
// (32 linear sub-buckets per power of two of nanoseconds, ~9 KiB): a reported
// p50/p95/p99 is within kPercentileRelativeError (1/64, about 1.6 %) of the
// exact nearest-rank percentile of the recorded durations; durations under
// 32 ns are exact; durations over 2^41 ns (~36 min) are counted as 2^41 ns.
//
// Disabled (set_enabled(false)): ScopedProfile, profile() wrappers and
// record_cache() cost one relaxed atomic load and read no clock.
//
// Thread-safety: every method of Profiler and ProfileSite may be called
// concurrently. Counters are relaxed atomics, so a snapshot taken while calls
// are recorded may mix values of adjacent instants; reset() racing with
// records may keep a few of them.
// Ownership: the Profiler owns its sites; a ProfileSite& stays valid (and its
// address stable) for the Profiler's lifetime, across reset(). `clock` must
// outlive the Profiler.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/core/status.h"
#include "agentgate/perf/perf_options.h"

namespace agentgate {

// FunctionMetrics: one name's figures at one moment.
struct FunctionMetrics {
  std::string name;
  uint64_t calls = 0;         // recorded calls, errors included
  uint64_t errors = 0;        // calls that threw or were marked as errors
  Nanos total_time{0};        // sum of durations
  Nanos min_time{0};          // 0 when no calls
  Nanos max_time{0};
  Nanos average_time{0};      // total_time / calls
  Nanos p50{0};               // percentiles, within kPercentileRelativeError
  Nanos p95{0};
  Nanos p99{0};
  Nanos last_call{0};         // wall time (since the epoch) the last call ended; 0 if none
  uint64_t cache_hits = 0;    // reported by cached() with this profiler
  uint64_t cache_misses = 0;
  double cache_hit_rate = 0;  // hits / (hits + misses); 0 when neither
};

// ProfileSite: the counters of one name. Obtained from Profiler::site();
// keep the reference at hot call sites to skip the name lookup.
class ProfileSite {
 public:
  // Histogram layout: values < kSubBuckets ns have a bucket each; above,
  // each power of two is cut in kSubBuckets equal buckets.
  static constexpr int kSubBucketBits = 5;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  static constexpr int kMaxExponent = 40;  // largest power of two kept
  static constexpr size_t kNumBuckets =
      kSubBuckets + (kMaxExponent - kSubBucketBits + 1) * kSubBuckets;
  static constexpr double kPercentileRelativeError = 1.0 / (2 * kSubBuckets);

  ProfileSite(const ProfileSite&) = delete;
  ProfileSite& operator=(const ProfileSite&) = delete;

  const std::string& name() const { return name_; }
  const Clock& clock() const { return clock_; }

  // enabled: whether the owning Profiler records (one relaxed load).
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  // record: one call that took `duration` and ended now. No-op when disabled.
  void record(Nanos duration, bool error = false);
  // record_ended: like record() with the end time (clock().monotonic())
  // already read by the caller. Records even when disabled.
  void record_ended(Nanos duration, bool error, Nanos end_monotonic);
  // record_cache: one cache lookup; no-op when disabled.
  void record_cache(bool hit) {
    if (!enabled()) return;
    (hit ? cache_hits_ : cache_misses_).fetch_add(1, std::memory_order_relaxed);
  }

  // metrics: a snapshot of this site.
  FunctionMetrics metrics() const;
  // reset: zeroes every counter.
  void reset();

  // BucketIndex / BucketLow / BucketHigh: the histogram's mapping (exposed
  // for tests). A bucket holds the integer nanoseconds [low, high].
  static size_t BucketIndex(uint64_t ns);
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketHigh(size_t index);

 private:
  friend class Profiler;
  friend class ScopedProfile;
  ProfileSite(std::string name, const Clock& clock, const std::atomic<bool>& enabled);

  const std::string name_;
  const Clock& clock_;
  const std::atomic<bool>& enabled_;  // the Profiler's flag
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> total_ns_{0};
  std::atomic<uint64_t> min_ns_{UINT64_MAX};
  std::atomic<uint64_t> max_ns_{0};
  std::atomic<int64_t> last_end_monotonic_ns_{0};  // 0: never
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // kNumBuckets
};

class Profiler {
 public:
  explicit Profiler(const Clock& clock = Clock::system(), bool enabled = true);
  explicit Profiler(const PerfOptions& options, const Clock& clock = Clock::system())
      : Profiler(clock, options.enable_profiling) {}
  // Removes the collectors added by export_metrics().
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // site: the site of `name`, created on first use. Takes a lock: call it
  // once per call site and keep the reference.
  ProfileSite& site(std::string_view name);

  // set_enabled / enabled: recording on or off, effective immediately.
  void set_enabled(bool on) { enabled_.store(on, std::memory_order_relaxed); }
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  // get_performance_metrics: one FunctionMetrics per name, by name.
  std::map<std::string, FunctionMetrics, std::less<>> get_performance_metrics() const;

  // reset: zeroes every site; sites and references to them stay.
  void reset();

  // export_metrics: registers scrape-time collectors in `registry`:
  //   agentgate_profile_calls_total{function}            counter
  //   agentgate_profile_errors_total{function}           counter
  //   agentgate_profile_duration_seconds_total{function} counter (sum of time)
  //   agentgate_profile_duration_seconds{function,quantile="0.5"|"0.95"|"0.99"} gauge
  //   agentgate_profile_cache_hits_total{function}       counter (sites used by cached())
  //   agentgate_profile_cache_misses_total{function}     counter
  //   agentgate_profile_cache_hit_ratio{function}        gauge
  // REQUIRES: `registry` outlives this Profiler (the destructor unregisters).
  // Calling it again moves the collectors to the new registry.
  void export_metrics(MetricsRegistry& registry);

  // profile: wraps `fn` so that each call is timed under `name`. Works for
  // plain functions and for functions returning boost::asio::awaitable<T>
  // (the time is from the first resumption to completion of the coroutine).
  // A call is an error when it throws (rethrown) or returns a Status or
  // Result<T> that is not ok. The wrapper holds `fn` by value.
  template <typename Fn>
  auto profile(std::string_view name, Fn fn);

  const Clock& clock() const { return clock_; }

 private:
  const Clock& clock_;
  std::atomic<bool> enabled_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<ProfileSite>, std::less<>> sites_;  // GUARDED_BY(mu_)
  // A second lock for the export, so that a scrape (registry lock, then
  // mu_) and export_metrics (export_mu_, then registry lock) cannot deadlock.
  std::mutex export_mu_;
  MetricsRegistry* registry_ = nullptr;   // GUARDED_BY(export_mu_)
  std::vector<uint64_t> collector_ids_;  // GUARDED_BY(export_mu_)
};

// ScopedProfile: times the enclosing scope into a site. Records an error if
// set_error() was called or an exception is propagating when it is
// destroyed. Do not use across co_await (it may end on another thread): use
// Profiler::profile() for coroutines. Thread-compatible (one per scope).
class ScopedProfile {
 public:
  explicit ScopedProfile(ProfileSite& site) {
    if (!site.enabled()) return;  // disabled: one relaxed load, nothing else
    site_ = &site;
    exceptions_ = std::uncaught_exceptions();
    start_ = site.clock().monotonic();
  }
  // Looks the site up by name (a lock and a map lookup; only when enabled).
  ScopedProfile(Profiler& profiler, std::string_view name)
      : ScopedProfile(profiler.enabled() ? profiler.site(name) : Disabled()) {}
  ~ScopedProfile() {
    if (site_ == nullptr) return;
    const Nanos end = site_->clock().monotonic();
    site_->record_ended(end - start_, error_ || std::uncaught_exceptions() > exceptions_, end);
  }
  ScopedProfile(const ScopedProfile&) = delete;
  ScopedProfile& operator=(const ScopedProfile&) = delete;

  // set_error: count this call as an error.
  void set_error(bool error = true) { error_ = error; }

 private:
  // Disabled: a site whose enabled() is always false.
  static ProfileSite& Disabled();

  ProfileSite* site_ = nullptr;  // null when disabled at construction
  int exceptions_ = 0;
  bool error_ = false;
  Nanos start_{0};
};

namespace perf_internal {

template <typename T>
struct IsAwaitable : std::false_type {};
template <typename T, typename E>
struct IsAwaitable<boost::asio::awaitable<T, E>> : std::true_type {};

// IsErrorValue: whether a returned value reports failure.
inline bool IsErrorValue(const Status& s) { return !s.ok(); }
template <typename U>
bool IsErrorValue(const Result<U>& r) {
  return !r.ok();
}
template <typename T>
bool IsErrorValue(const T&) {
  return false;
}

template <typename T, typename E>
boost::asio::awaitable<T, E> ProfiledAwait(ProfileSite& site, boost::asio::awaitable<T, E> inner) {
  if (!site.enabled()) co_return co_await std::move(inner);
  const Nanos start = site.clock().monotonic();
  std::exception_ptr failure;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(inner);
      const Nanos end = site.clock().monotonic();
      site.record_ended(end - start, false, end);
      co_return;
    } else {
      T result = co_await std::move(inner);
      const Nanos end = site.clock().monotonic();
      site.record_ended(end - start, IsErrorValue(result), end);
      co_return result;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  const Nanos end = site.clock().monotonic();
  site.record_ended(end - start, true, end);
  std::rethrow_exception(failure);
}

}  // namespace perf_internal

template <typename Fn>
auto Profiler::profile(std::string_view name, Fn fn) {
  ProfileSite* site = &this->site(name);
  return [site, fn = std::move(fn)](auto&&... args) mutable -> decltype(auto) {
    using R = std::invoke_result_t<Fn&, decltype(args)...>;
    if constexpr (perf_internal::IsAwaitable<R>::value) {
      return perf_internal::ProfiledAwait(*site,
                                          std::invoke(fn, std::forward<decltype(args)>(args)...));
    } else if constexpr (std::is_void_v<R>) {
      ScopedProfile scope(*site);
      std::invoke(fn, std::forward<decltype(args)>(args)...);
    } else {
      ScopedProfile scope(*site);
      R result = std::invoke(fn, std::forward<decltype(args)>(args)...);
      if (perf_internal::IsErrorValue(result)) scope.set_error();
      return result;
    }
  };
}

}  // namespace agentgate
