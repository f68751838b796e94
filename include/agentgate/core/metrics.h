// Metrics: counters, gauges and histograms that components declare once and
// update lock-free on the hot path; rendered in the Prometheus text format
// 0.0.4 by MetricsRegistry::render_prometheus().
//
// A component declares its metrics in one place (a struct of references made
// in its constructor), then updates them:
//
//   struct CacheMetrics {
//     explicit CacheMetrics(MetricsRegistry& r)
//         : hits(r.counter("agentgate_cache_hits_total", "Cache hits", {{"cache", "exact"}})) {}
//     Counter& hits;
//   };
//   metrics.hits.inc();
//
// Thread-safety: the registry is internally synchronized; Counter, Gauge and
// Histogram updates are atomic and may be made from any thread. References
// returned by the registry stay valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentgate {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType {
  kCounter,    // only goes up
  kGauge,      // goes up and down
  kHistogram,  // bucketed observations with sum and count
};

// Counter: a monotonically increasing count.
class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Gauge: a value that is set, or moved up and down.
class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

// Histogram: counts of observations at or below each upper bound, plus their
// sum. Bounds are fixed at creation and sorted ascending; +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;     // without +Inf
    std::vector<uint64_t> cumulative;     // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

  // kLatencySeconds: default bounds for request latencies, 100 us to 60 s.
  static std::vector<double> LatencySeconds();

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

// MetricsRegistry: owns every metric of one gateway (or one embedding program).
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // counter / gauge / histogram: the metric `name` with `labels`, created on
  // first use. The same name and labels always return the same object.
  // REQUIRES: a name keeps one type and one help text; names match
  // [a-zA-Z_:][a-zA-Z0-9_:]*. Violations throw std::logic_error (a bug).
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help,
                       const std::vector<double>& upper_bounds, const Labels& labels = {});

  // A collector computes samples at scrape time (for values that live in a
  // component: sizes, breaker states). Returns an id for remove_collector.
  struct Sample {
    Labels labels;
    double value = 0;
  };
  using Collector = std::function<std::vector<Sample>()>;
  uint64_t add_collector(std::string_view name, std::string_view help, MetricType type,
                         Collector collect);
  // remove_collector: REQUIRES called before whatever the collector reads dies.
  void remove_collector(uint64_t id);

  // render_prometheus: every metric in the text exposition format 0.0.4.
  std::string render_prometheus() const;

  // value: the current value of a counter or gauge (0 if absent); for tests
  // and admin routes, which must report what /metrics reports.
  double value(std::string_view name, const Labels& labels = {}) const;

 private:
  struct Family;
  Family& family(std::string_view name, std::string_view help, MetricType type);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;  // GUARDED_BY(mu_)
  uint64_t next_collector_id_ = 1;                                       // GUARDED_BY(mu_)
};

// EscapeLabelValue: a label value escaped for the text format (\\, \", \n).
std::string EscapeLabelValue(std::string_view v);

}  // namespace agentgate
