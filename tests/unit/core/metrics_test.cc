#include "agentgate/core/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace agentgate {
namespace {

TEST(MetricsRegistryTest, SameNameAndLabelsIsSameCounter) {
  MetricsRegistry r;
  Counter& a = r.counter("x_total", "x", {{"k", "v"}});
  Counter& b = r.counter("x_total", "x", {{"k", "v"}});
  Counter& c = r.counter("x_total", "x", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.inc(3);
  EXPECT_EQ(r.value("x_total", {{"k", "v"}}), 3);
  EXPECT_EQ(r.value("x_total", {{"k", "w"}}), 0);
}

TEST(MetricsRegistryTest, TypeConflictAndBadNameThrow) {
  MetricsRegistry r;
  r.counter("a_total", "a");
  EXPECT_THROW(r.gauge("a_total", "a"), std::logic_error);
  EXPECT_THROW(r.counter("1bad", "b"), std::logic_error);
  EXPECT_THROW(r.counter("has space", "b"), std::logic_error);
}

TEST(MetricsRegistryTest, RendersTextFormat) {
  MetricsRegistry r;
  r.counter("req_total", "Requests", {{"route", "/v1/x\"y"}}).inc(2);
  r.gauge("temp", "Temperature").set(1.5);
  auto& h = r.histogram("lat_seconds", "Latency", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string text = r.render_prometheus();
  EXPECT_NE(text.find("# TYPE req_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("req_total{route=\"/v1/x\\\"y\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("temp 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum 5.55\n"), std::string::npos);
}

TEST(MetricsRegistryTest, CollectorsReportAtScrapeTimeAndCanBeRemoved) {
  MetricsRegistry r;
  double size = 7;
  uint64_t id = r.add_collector("cache_size", "Entries", MetricType::kGauge, [&] {
    return std::vector<MetricsRegistry::Sample>{{{{"cache", "exact"}}, size}};
  });
  EXPECT_EQ(r.value("cache_size", {{"cache", "exact"}}), 7);
  size = 9;
  EXPECT_NE(r.render_prometheus().find("cache_size{cache=\"exact\"} 9\n"), std::string::npos);
  r.remove_collector(id);
  EXPECT_EQ(r.render_prometheus().find("cache_size{"), std::string::npos);
}

TEST(MetricsRegistryTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry r;
  Counter& c = r.counter("n_total", "n");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) r.counter("n_total", "n").inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
}

}  // namespace
}  // namespace agentgate
