// The fleet (support/fleet.h): three real agentgate instances sharing one
// real redis-server and one agentgate-mock, with load spread over them,
// behave like one gateway: one user's admissions stay within the limit, an
// entry cached through one instance is a hit through the others, a herd of
// identical requests makes one upstream call, and a user's experiment
// variant is the same wherever the request lands.
//
// The binaries run on the real clock; limits are chosen so that they bind
// within a burst of a few seconds (nothing waits a window out).
#include "integration/support/fleet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "integration/support/load_generator.h"

namespace agentgate::test {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Chat(const std::string& content, const std::string& model = "gpt-4o-mini") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + content +
         R"("}]})";
}

constexpr const char* kQuiet =
    "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n";

// The limiter's documented over-admission (include/agentgate/ratelimit/
// rate_limiter.h: floor(limit / 100) per window, so 0 for the limits under
// 100 used here; with clock skew d between instances, plus what is admitted
// within d: the instances here share one clock).
constexpr int kDocumentedOverAdmission = 0;

TEST(FleetTest, OneUsersAdmissionsAcrossThreeInstancesStayWithinTheLimit) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet =
      Fleet::Start({.sections = std::string(kQuiet) + "cache:\n  enabled: false\n"
                                                      "rate_limit:\n  default_tier: fleet\n"
                                                      "  enable_analytics: false\n  tiers:\n"
                                                      "    fleet: {per_second: 10, per_minute: 45, "
                                                      "per_hour: 0, per_day: 0}\n"});
  ASSERT_NE(fleet, nullptr);
  std::mutex mu;
  std::vector<LoadSample> admitted;
  int unlimited = 0;
  LoadGenerator load(
      {.ports = fleet->ports(),
       .clients = 9,
       .max_duration = milliseconds(3500),
       .make =
           [](int, int64_t) {
             return LoadRequest{.body = Chat("limit me"), .headers = {{"X-User-Id", "fleet-user"}}};
           },
       .on_response =
           [&](const LoadSample& s) {
             std::lock_guard lock(mu);
             if (s.result.header("x-ratelimit-limit").empty()) ++unlimited;
             if (s.result.status == 200) admitted.push_back(s);
           }});
  load.start();
  load.wait();
  LoadTotals t = load.totals();
  std::vector<int> by_instance(3, 0);
  for (const LoadSample& s : admitted) ++by_instance[static_cast<size_t>(s.instance)];
  // Every second-long span: requests sent and answered inside it were
  // admitted inside it.
  std::sort(admitted.begin(), admitted.end(),
            [](const LoadSample& a, const LoadSample& b) { return a.sent < b.sent; });
  int worst_second = 0;
  for (size_t i = 0; i < admitted.size(); ++i) {
    int n = 0;
    for (size_t j = i; j < admitted.size(); ++j) {
      if (admitted[j].received <= admitted[i].sent + milliseconds(1000)) ++n;
    }
    worst_second = std::max(worst_second, n);
  }
  std::printf(
      "[fleet limits] requests=%lld admitted=%zu (per instance %d/%d/%d) denied=%lld "
      "worst second=%d (limit 10) minute=%zu (limit 45)\n",
      static_cast<long long>(t.requests), admitted.size(), by_instance[0], by_instance[1],
      by_instance[2], static_cast<long long>(t.limited), worst_second, admitted.size());
  EXPECT_EQ(t.requests, t.ok + t.limited) << "every answer is 200 or 429";
  EXPECT_EQ(unlimited, 0) << "every answer came through the shared limiter";
  EXPECT_GT(t.limited, 0);
  EXPECT_LE(worst_second, 10 + kDocumentedOverAdmission);
  EXPECT_LE(static_cast<int>(admitted.size()), 45 + kDocumentedOverAdmission);
  for (int i = 0; i < 3; ++i) EXPECT_GT(by_instance[static_cast<size_t>(i)], 0) << "instance " << i;
  EXPECT_EQ(fleet->upstream_calls(), static_cast<int>(admitted.size()));
}

TEST(FleetTest, AnEntryCachedThroughOneInstanceIsAHitThroughTheOthers) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet =
      Fleet::Start({.sections = std::string(kQuiet) + "rate_limit:\n  enabled: false\n"
                                                      "cache:\n  semantic_enabled: false\n"});
  ASSERT_NE(fleet, nullptr);
  const std::string body = Chat("cache me once for the fleet");
  HttpResult first = Request(fleet->port(0), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-cache"), "MISS");
  for (int i : {1, 2, 0}) {
    HttpResult r = Request(fleet->port(i), "POST", "/v1/chat/completions", body);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-cache"), "HIT") << "instance " << i;
    EXPECT_EQ(r.body, first.body);
  }
  // Embeddings too, input by input (in another order: not an exact-cache hit).
  ASSERT_EQ(Request(fleet->port(1), "POST", "/v1/embeddings",
                    R"({"model":"text-embedding-3-small","input":["one fleet","two fleet"]})")
                .status,
            200);
  HttpResult again =
      Request(fleet->port(2), "POST", "/v1/embeddings",
              R"({"model":"text-embedding-3-small","input":["two fleet","one fleet"]})");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.header("x-cache-embeddings"), "2/2");
  EXPECT_EQ(fleet->upstream_calls("/v1/chat/completions"), 1);
  EXPECT_EQ(fleet->upstream_calls("/v1/embeddings"), 1);
}

TEST(FleetTest, ThirtyIdenticalConcurrentRequestsOverThreeInstancesMakeOneUpstreamCall) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet =
      Fleet::Start({.sections = std::string(kQuiet) + "rate_limit:\n  enabled: false\n"
                                                      "cache:\n  semantic_enabled: false\n"});
  ASSERT_NE(fleet, nullptr);
  fleet->set_faults(R"({"latency_ms":1000})");  // the leader's call outlasts the herd's arrival
  const std::string body = Chat("the thundering herd of the fleet");
  std::vector<HttpResult> results(30);
  std::barrier go(30);
  std::vector<std::thread> threads;
  for (int k = 0; k < 30; ++k) {
    threads.emplace_back([&, k] {
      go.arrive_and_wait();
      results[static_cast<size_t>(k)] =
          Request(fleet->port(k % 3), "POST", "/v1/chat/completions", body);
    });
  }
  for (auto& t : threads) t.join();
  std::map<std::string, int> kinds;
  for (const HttpResult& r : results) {
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.body, results[0].body);
    ++kinds[r.header("x-cache") + "/" + r.header("x-cache-kind")];
  }
  std::string summary;
  for (const auto& [k, n] : kinds) summary += k + "=" + std::to_string(n) + " ";
  std::printf("[fleet herd] %s\n", summary.c_str());
  EXPECT_EQ(fleet->upstream_calls("/v1/chat/completions"), 1) << summary;
  EXPECT_EQ(kinds["MISS/"], 1) << summary;
}

TEST(FleetTest, AUsersExperimentVariantIsTheSameThroughEveryInstance) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet = Fleet::Start({.sections = std::string(kQuiet) + "rate_limit:\n  enabled: false\n"
                                                               "cache:\n  enabled: false\n"
                                                               "experiments:\n  store: redis\n"});
  ASSERT_NE(fleet, nullptr);
  ASSERT_EQ(fleet
                ->admin(0, "POST", "/api/v1/ab-testing/experiments",
                        R"({"name":"fleet-hash","variants":["gpt-4o","gpt-4o-mini"],)"
                        R"("traffic_split":[0.5,0.5],"target_model":"ab-hash"})")
                .status,
            201);
  ASSERT_EQ(fleet
                ->admin(0, "POST", "/api/v1/ab-testing/experiments",
                        R"({"name":"fleet-bandit","variants":["gpt-4o","gpt-4o-mini"],)"
                        R"("bandit_algorithm":"epsilon_greedy","epsilon":1,)"
                        R"("target_model":"ab-bandit"})")
                .status,
            201);
  // Instances load experiments from Redis when they start.
  ASSERT_TRUE(fleet->restart(1));
  ASSERT_TRUE(fleet->restart(2));
  for (const char* model : {"ab-hash", "ab-bandit"}) {
    std::set<std::string> seen;
    for (int u = 0; u < 24; ++u) {
      const std::string user = "fleet-user-" + std::to_string(u);
      std::string variant;
      for (int k = 0; k < 3; ++k) {
        const int i = (u + k) % 3;  // each user starts on a different instance
        HttpResult r = Request(fleet->port(i), "POST", "/v1/chat/completions",
                               Chat("which variant am I", model), {{"X-User-Id", user}});
        ASSERT_EQ(r.status, 200) << r.body;
        const std::string v = r.header("x-variant");
        ASSERT_FALSE(v.empty()) << model << " " << user << " instance " << i;
        EXPECT_EQ(r.json().value("model", ""), v) << "the upstream was asked for the variant";
        if (k == 0) variant = v;
        EXPECT_EQ(v, variant) << model << " " << user << " through instance " << i;
      }
      seen.insert(variant);
    }
    EXPECT_EQ(seen.size(), 2u) << model << ": both variants are in use";
  }
}

}  // namespace
}  // namespace agentgate::test
