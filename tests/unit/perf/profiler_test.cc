#include "agentgate/perf/profiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace agentgate {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::microseconds;

// A clock that moves by `step` on every monotonic() read, so that a scope
// with N reads in it has a known duration.
class SteppingClock final : public Clock {
 public:
  Nanos now() const override { return ManualClock::kDefaultStart + monotonic_now(); }
  Nanos monotonic() const override { return Nanos(t_.fetch_add(step_.count()) + step_.count()); }
  Nanos monotonic_now() const { return Nanos(t_.load()); }
  void set_step(Nanos s) { step_ = s; }
  uint64_t reads() const { return static_cast<uint64_t>(t_.load() / std::max<int64_t>(1, step_.count())); }

 private:
  mutable std::atomic<int64_t> t_{0};
  Nanos step_ = microseconds(10);
};

uint64_t NearestRank(std::vector<uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()) - 1e-9));
  return v[std::max<size_t>(rank, 1) - 1];
}

void ExpectWithinBound(Nanos got, uint64_t exact) {
  const double err = std::fabs(static_cast<double>(got.count()) - static_cast<double>(exact));
  EXPECT_LE(err, ProfileSite::kPercentileRelativeError * static_cast<double>(exact) + 1e-9)
      << "got " << got.count() << " exact " << exact;
}

TEST(ProfilerHistogramTest, BucketsCoverEveryValueWithinBound) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200'000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    if (v >= (uint64_t{2} << ProfileSite::kMaxExponent)) continue;
    const size_t b = ProfileSite::BucketIndex(v);
    ASSERT_LT(b, ProfileSite::kNumBuckets);
    ASSERT_LE(ProfileSite::BucketLow(b), v);
    ASSERT_GE(ProfileSite::BucketHigh(b), v);
    const double width = static_cast<double>(ProfileSite::BucketHigh(b) - ProfileSite::BucketLow(b));
    ASSERT_LE(width / 2, ProfileSite::kPercentileRelativeError * static_cast<double>(v) + 1e-9);
  }
  EXPECT_EQ(ProfileSite::BucketIndex(~uint64_t{0}), ProfileSite::kNumBuckets - 1);
}

TEST(ProfilerTest, PercentilesOfKnownDistributions) {
  ManualClock clock;
  Profiler profiler(clock);
  std::mt19937_64 rng(2024);
  std::lognormal_distribution<double> lognormal(std::log(2e6), 0.8);  // ~2 ms median
  std::exponential_distribution<double> expo(1.0 / 50'000);           // 50 us mean
  std::uniform_int_distribution<uint64_t> uniform(1, 1'000'000);
  struct Case {
    const char* name;
    std::function<uint64_t()> draw;
  };
  std::vector<Case> cases = {
      {"lognormal", [&] { return static_cast<uint64_t>(lognormal(rng)); }},
      {"exponential", [&] { return static_cast<uint64_t>(expo(rng)); }},
      {"uniform", [&] { return uniform(rng); }},
      {"tiny", [&] { return rng() % 40; }},  // partly in the exact buckets
  };
  for (auto& c : cases) {
    ProfileSite& site = profiler.site(c.name);
    std::vector<uint64_t> samples(50'000);
    for (auto& s : samples) {
      s = c.draw();
      site.record(Nanos(static_cast<int64_t>(s)));
    }
    FunctionMetrics m = site.metrics();
    SCOPED_TRACE(c.name);
    EXPECT_EQ(m.calls, samples.size());
    ExpectWithinBound(m.p50, NearestRank(samples, 0.50));
    ExpectWithinBound(m.p95, NearestRank(samples, 0.95));
    ExpectWithinBound(m.p99, NearestRank(samples, 0.99));
    EXPECT_EQ(static_cast<uint64_t>(m.min_time.count()), *std::min_element(samples.begin(), samples.end()));
    EXPECT_EQ(static_cast<uint64_t>(m.max_time.count()), *std::max_element(samples.begin(), samples.end()));
    uint64_t total = 0;
    for (auto s : samples) total += s;
    EXPECT_EQ(static_cast<uint64_t>(m.total_time.count()), total);
    EXPECT_EQ(static_cast<uint64_t>(m.average_time.count()), total / samples.size());
  }
}

TEST(ProfilerTest, ScopedProfileRecordsDurationErrorsAndLastCall) {
  SteppingClock clock;
  clock.set_step(microseconds(10));
  Profiler profiler(clock);
  ProfileSite& site = profiler.site("work");
  { ScopedProfile p(site); }  // start and end reads: 10 us
  {
    ScopedProfile p(site);
    p.set_error();
  }
  try {
    ScopedProfile p(profiler, "work");
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  FunctionMetrics m = profiler.get_performance_metrics().at("work");
  EXPECT_EQ(m.calls, 3u);
  EXPECT_EQ(m.errors, 2u);
  EXPECT_EQ(m.min_time, microseconds(10));
  EXPECT_EQ(m.max_time, microseconds(10));
  EXPECT_EQ(m.average_time, microseconds(10));
  EXPECT_GT(m.last_call, ManualClock::kDefaultStart);
}

TEST(ProfilerTest, LastCallIsWallTime) {
  ManualClock clock;
  Profiler profiler(clock);
  profiler.site("f").record(milliseconds(3));
  clock.advance(std::chrono::seconds(5));
  EXPECT_EQ(profiler.get_performance_metrics().at("f").last_call, ManualClock::kDefaultStart);
}

TEST(ProfilerTest, DisabledRecordsNothingAndReadsNoClock) {
  SteppingClock clock;
  Profiler profiler(PerfOptions{.enable_profiling = false}, clock);
  ProfileSite& site = profiler.site("f");
  auto wrapped = profiler.profile("g", [](int x) { return x + 1; });
  for (int i = 0; i < 100; ++i) {
    ScopedProfile p(site);
    ScopedProfile q(profiler, "h");
    site.record(milliseconds(1));
    site.record_cache(true);
    EXPECT_EQ(wrapped(i), i + 1);
  }
  EXPECT_EQ(clock.monotonic_now(), Nanos(0));  // never read
  for (const auto& [name, m] : profiler.get_performance_metrics()) {
    EXPECT_EQ(m.calls, 0u) << name;
    EXPECT_EQ(m.cache_hits, 0u) << name;
  }
  EXPECT_EQ(profiler.get_performance_metrics().count("h"), 0u);  // not even created
  profiler.set_enabled(true);
  EXPECT_EQ(wrapped(1), 2);
  EXPECT_EQ(profiler.get_performance_metrics().at("g").calls, 1u);
}

TEST(ProfilerTest, SyncWrapperCountsExceptionsAndStatus) {
  ManualClock clock;
  Profiler profiler(clock);
  auto throws = profiler.profile("throws", [](bool t) {
    if (t) throw std::runtime_error("x");
    return 1;
  });
  EXPECT_EQ(throws(false), 1);
  EXPECT_THROW(throws(true), std::runtime_error);
  auto status = profiler.profile("status", [](bool fail) {
    return fail ? Internal("bad") : Status::Ok();
  });
  (void)status(true);
  (void)status(false);
  auto result = profiler.profile("result", [](int x) -> Result<int> {
    if (x < 0) return InvalidArgument("neg");
    return x;
  });
  EXPECT_FALSE(result(-1).ok());
  auto nothing = profiler.profile("void", [] {});
  nothing();
  auto all = profiler.get_performance_metrics();
  EXPECT_EQ(all.at("throws").calls, 2u);
  EXPECT_EQ(all.at("throws").errors, 1u);
  EXPECT_EQ(all.at("status").errors, 1u);
  EXPECT_EQ(all.at("result").errors, 1u);
  EXPECT_EQ(all.at("void").calls, 1u);
}

TEST(ProfilerTest, AwaitableWrapper) {
  SteppingClock clock;
  Profiler profiler(clock);
  auto async_fn = profiler.profile("async", [](int x) -> asio::awaitable<int> {
    if (x < 0) throw std::runtime_error("neg");
    co_return x * 2;
  });
  asio::io_context io;
  int got = 0;
  int thrown = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        got = co_await async_fn(21);
        try {
          co_await async_fn(-1);
        } catch (const std::runtime_error&) {
          ++thrown;
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, 42);
  EXPECT_EQ(thrown, 1);
  auto m = profiler.get_performance_metrics().at("async");
  EXPECT_EQ(m.calls, 2u);
  EXPECT_EQ(m.errors, 1u);
  EXPECT_GT(m.min_time, Nanos(0));
}

TEST(ProfilerTest, ResetZeroesButKeepsSites) {
  ManualClock clock;
  Profiler profiler(clock);
  ProfileSite& site = profiler.site("f");
  site.record(milliseconds(1), true);
  site.record_cache(false);
  profiler.reset();
  FunctionMetrics m = profiler.get_performance_metrics().at("f");
  EXPECT_EQ(m.calls, 0u);
  EXPECT_EQ(m.errors, 0u);
  EXPECT_EQ(m.cache_misses, 0u);
  EXPECT_EQ(m.p99, Nanos(0));
  EXPECT_EQ(&profiler.site("f"), &site);
  site.record(milliseconds(2));
  EXPECT_EQ(profiler.get_performance_metrics().at("f").min_time, milliseconds(2));
}

TEST(ProfilerTest, ExportsScrapeTimeMetrics) {
  MetricsRegistry registry;
  ManualClock clock;
  Profiler profiler(clock);
  profiler.export_metrics(registry);
  ProfileSite& site = profiler.site("parse");
  for (int i = 0; i < 100; ++i) site.record(milliseconds(1), i < 5);
  site.record_cache(true);
  site.record_cache(true);
  site.record_cache(false);
  const Labels fn = {{"function", "parse"}};
  EXPECT_EQ(registry.value("agentgate_profile_calls_total", fn), 100);
  EXPECT_EQ(registry.value("agentgate_profile_errors_total", fn), 5);
  EXPECT_NEAR(registry.value("agentgate_profile_duration_seconds",
                             {{"function", "parse"}, {"quantile", "0.99"}}),
              0.001, 0.001 * ProfileSite::kPercentileRelativeError);
  EXPECT_NEAR(registry.value("agentgate_profile_cache_hit_ratio", fn), 2.0 / 3, 1e-12);
  const std::string text = registry.render_prometheus();
  EXPECT_NE(text.find("agentgate_profile_calls_total{function=\"parse\"} 100"), std::string::npos);
  EXPECT_NE(text.find("# TYPE agentgate_profile_duration_seconds gauge"), std::string::npos);
}

TEST(ProfilerTest, ConcurrentRecording) {
  ManualClock clock;
  Profiler profiler(clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&profiler, t] {
      ProfileSite& site = profiler.site(t % 2 ? "odd" : "even");
      for (int i = 0; i < 10'000; ++i) {
        site.record(Nanos(i + 1), i % 100 == 0);
        if (i % 1000 == 0) (void)profiler.get_performance_metrics();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = profiler.get_performance_metrics();
  EXPECT_EQ(all.at("odd").calls, 20'000u);
  EXPECT_EQ(all.at("even").errors, 200u);
  EXPECT_EQ(all.at("even").max_time, Nanos(10'000));
  EXPECT_EQ(all.at("even").min_time, Nanos(1));
}

}  // namespace
}  // namespace agentgate
