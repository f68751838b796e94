// The fleet under faults, with load spread over its three instances:
//   - Redis stops for 10 s: every instance keeps serving (limits fail open,
//     caches miss, experiments unassigned, dead letters not kept), /readyz is
//     degraded (200) per concern, every concern counts its store errors,
//     clients reconnect by themselves and limits apply again within 2 s of
//     Redis's return;
//   - an instance is SIGKILLed mid-load: the others keep serving, and no
//     experiment outcome or dead letter acknowledged before the kill is lost;
//   - Redis restarts with an empty dataset: scripts are loaded again
//     (NOSCRIPT), nothing crashes, limits and caches work again.
// Each test ends by itself: load runs are bounded (LoadGenerator's
// max_duration) and every wait polls with a deadline. The 10 s outage is real
// time, as the issue asks.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "integration/support/fleet.h"
#include "integration/support/load_generator.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Chat(const std::string& content, const std::string& model = "gpt-4o-mini") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + content +
         R"("}]})";
}

// Every Redis-using part of the gateway is on: shared limits with a token
// budget, exact/semantic/embedding caches with de-duplication, experiments
// and dead letters in Redis. Users get a generous tier; "hammer" a tight one.
const std::string kEverything =
    "circuit_breaker: {enabled: false}\n"
    "error_recovery: {max_attempts: 1, dlq_max_entries: 1000000}\n"
    "rate_limit:\n  default_tier: roomy\n  enable_analytics: false\n  tiers:\n"
    "    roomy: {per_second: 100000, per_minute: 0, per_hour: 0, per_day: 0, "
    "tokens_per_minute: 100000000}\n"
    "    tight: {per_second: 5, per_minute: 0, per_hour: 0, per_day: 0}\n"
    "cache:\n  semantic_enabled: true\n"
    "experiments:\n  store: redis\n";

// SetTightTier: the hammer user on the tight tier, through every instance.
void SetTightTier(Fleet& fleet, const std::string& user) {
  for (int i = 0; i < fleet.size(); ++i) {
    HttpResult r = fleet.admin(i, "POST", "/api/v1/ratelimit/tier",
                               R"({"user_id":")" + user + R"(","tier":"tight"})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
}

void CreateExperiment(Fleet& fleet, const std::string& name, const std::string& target) {
  HttpResult r = fleet.admin(0, "POST", "/api/v1/ab-testing/experiments",
                             R"({"name":")" + name +
                                 R"(","variants":["gpt-4o","gpt-4o-mini"],)"
                                 R"("traffic_split":[0.5,0.5],"target_model":")" +
                                 target + R"("})");
  ASSERT_EQ(r.status, 201) << r.body;
}

// The mixed load: kind = seq % 6.
enum Kind { kHammer, kExperiment, kRepeated, kEmbedding, kFresh, kDead };
Kind KindOf(int64_t seq) { return static_cast<Kind>(seq % 6); }

LoadRequest Mixed(int client, int64_t seq) {
  const std::string c = std::to_string(client), s = std::to_string(seq);
  switch (KindOf(seq)) {
    case kHammer:
      return {.body = Chat("hammer " + s), .headers = {{"X-User-Id", "hammer"}}};
    case kExperiment:
      return {.body = Chat("variant " + s, "ab-fault"), .headers = {{"X-User-Id", "exp-" + c}}};
    case kRepeated:
      return {.body = Chat("a popular question number " + std::to_string(seq % 5)),
              .headers = {{"X-User-Id", "rep-" + c}}};
    case kEmbedding:
      return {.target = "/v1/embeddings",
              .body = R"({"model":"text-embedding-3-small","input":["e)" + s + R"(","shared"]})",
              .headers = {{"X-User-Id", "emb-" + c}}};
    case kFresh:
      return {.body = Chat("fresh question " + c + "-" + s),
              .headers = {{"X-User-Id", "new-" + c}}};
    case kDead:
      return {.body = Chat("nobody answers " + s, "gpt-dead"),
              .headers = {{"X-User-Id", "dead-" + c}}};
  }
  return {};
}

// Served: what "keeps serving" means for a kind: a live model answers 200
// (or 429 from a limit); the dead upstream's failure is the gateway's 5xx.
bool Served(Kind kind, int status) {
  if (kind == kDead) return status >= 500 && status <= 504;
  return status == 200 || status == 429;
}

TEST(FleetFaultTest, RedisAwayTenSecondsUnderLoadEveryInstanceServesCountsAndRecovers) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  // Redis keeps its dataset across the outage (as one with persistence does):
  // the hammer's tier, set at run time, lives there. A Redis that comes back
  // empty is the next test.
  auto fleet = Fleet::Start({.sections = kEverything, .dead_upstream = true, .redis_rdb = true});
  ASSERT_NE(fleet, nullptr);
  CreateExperiment(*fleet, "fault-exp", "ab-fault");
  ASSERT_TRUE(fleet->restart(1));  // instances load experiments when they start
  ASSERT_TRUE(fleet->restart(2));
  SetTightTier(*fleet, "hammer");

  // phase: 0 Redis up, 1 away, 2 back. Per phase: answers not served (by
  // Served) and transport failures; per instance after the return: when the
  // hammer's first limiter answer and first 429 came.
  std::atomic<int> phase{0};
  std::atomic<int64_t> unserved[3] = {}, transport[3] = {}, answers[3] = {};
  std::atomic<int64_t> hammer_429[3] = {}, hammer_unlimited_ok[3] = {};
  std::mutex mu;
  Steady::time_point back_at;
  std::vector<std::optional<Steady::time_point>> first_limited(3), first_429(3);
  std::string example;
  LoadGenerator load({.ports = fleet->ports(),
                      .clients = 6,
                      .max_duration = seconds(30),
                      .make = Mixed,
                      .on_response = [&](const LoadSample& s) {
                        const int p = phase.load();
                        const Kind kind = KindOf(s.seq);
                        ++answers[p];
                        if (s.result.status == 0) ++transport[p];
                        if (!Served(kind, s.result.status)) {
                          ++unserved[p];
                          std::lock_guard lock(mu);
                          if (example.empty())
                            example = std::to_string(kind) + ": " +
                                      std::to_string(s.result.status) + " " + s.result.body +
                                      s.result.error;
                        }
                        if (kind != kHammer) return;
                        const bool limited = !s.result.header("x-ratelimit-limit").empty();
                        if (s.result.status == 429) ++hammer_429[p];
                        if (s.result.status == 200 && !limited) ++hammer_unlimited_ok[p];
                        if (p == 2 && s.sent >= back_at) {
                          std::lock_guard lock(mu);
                          auto& fl = first_limited[static_cast<size_t>(s.instance)];
                          if (limited && !fl) fl = s.received;
                          auto& f4 = first_429[static_cast<size_t>(s.instance)];
                          if (s.result.status == 429 && !f4) f4 = s.received;
                        }
                      }});
  load.start();
  ASSERT_TRUE(WaitFor([&] { return hammer_429[0].load() > 0 && answers[0] > 300; }, seconds(20)))
      << "limits apply with Redis up";

  // Redis away for 10 s of load.
  ASSERT_TRUE(fleet->redis().command({"SAVE"}).ok());
  const auto stopped_at = Steady::now();
  ASSERT_TRUE(fleet->redis().stop().ok());
  phase = 1;
  constexpr const char* kConcerns[] = {"redis",          "redis.ratelimit", "redis.response",
                                       "redis.embedding", "redis.semantic",  "redis.dedup",
                                       "redis.default"};
  for (int i = 0; i < 3; ++i) {
    // Each concern's connection notices the loss on its own (an idle one a
    // little later, when its socket reports the close): wait for all of them.
    Json ready;
    EXPECT_TRUE(WaitFor(
        [&] {
          ready = fleet->readyz(i);
          if (!ready.is_object() || ready["status"] != "degraded") return false;
          for (const char* concern : kConcerns) {
            if (ready["checks"][concern]["ok"] != false) return false;
          }
          return true;
        },
        seconds(5)))
        << "instance " << i << ": " << ready.dump();
    EXPECT_EQ(Request(fleet->port(i), "GET", "/readyz").status, 200);
    for (const char* concern : kConcerns) {
      EXPECT_EQ(ready["checks"][concern]["ok"], false) << concern << ": " << ready.dump();
    }
  }
  std::this_thread::sleep_until(stopped_at + seconds(10));  // the outage itself is real time
  const int64_t served_while_away = answers[1].load();

  // Back (with its data, on the same port): limits apply again within 2 s.
  {
    std::lock_guard lock(mu);
    back_at = Steady::now();
  }
  ASSERT_TRUE(fleet->redis().start().ok());
  const auto returned_at = Steady::now();
  phase = 2;
  EXPECT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        for (int i = 0; i < 3; ++i) {
          if (!first_429[static_cast<size_t>(i)]) return false;
        }
        return true;
      },
      seconds(10)))
      << "every instance limits the hammer again";
  load.stop();

  double worst_limited_ms = 0, worst_429_ms = 0;
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(first_limited[i].has_value()) << "instance " << i;
    ASSERT_TRUE(first_429[i].has_value()) << "instance " << i;
    worst_limited_ms = std::max(
        worst_limited_ms,
        std::chrono::duration<double, std::milli>(*first_limited[i] - returned_at).count());
    worst_429_ms =
        std::max(worst_429_ms,
                 std::chrono::duration<double, std::milli>(*first_429[i] - returned_at).count());
  }
  std::printf(
      "[redis away 10 s] answers up/away/back: %lld/%lld/%lld; unserved %lld/%lld/%lld; "
      "hammer served unlimited while away: %lld; limits back after %.0f ms "
      "(first 429 after %.0f ms) on the slowest instance\n",
      static_cast<long long>(answers[0]), static_cast<long long>(served_while_away),
      static_cast<long long>(answers[2]), static_cast<long long>(unserved[0]),
      static_cast<long long>(unserved[1]), static_cast<long long>(unserved[2]),
      static_cast<long long>(hammer_unlimited_ok[1]), worst_limited_ms, worst_429_ms);
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(transport[p].load(), 0) << "phase " << p;
    EXPECT_EQ(unserved[p].load(), 0) << "phase " << p << ", e.g. " << example;
  }
  EXPECT_GT(served_while_away, 300) << "served all through the outage";
  EXPECT_GT(hammer_unlimited_ok[1].load(), 0) << "the limiter failed open";
  EXPECT_LE(worst_limited_ms, 2000) << "limits apply again within 2 s of Redis's return";

  // Every instance counted what it could not do, per concern, and is ready again.
  for (int i = 0; i < 3; ++i) {
    for (const char* sample :
         {"agentgate_ratelimit_store_errors_total", "agentgate_ratelimit_token_store_errors_total",
          "agentgate_ratelimit_fail_open_total",
          "agentgate_cache_store_errors_total{cache=\"response\"}",
          "agentgate_cache_store_errors_total{cache=\"embedding\"}",
          "agentgate_cache_store_errors_total{cache=\"semantic\"}",
          "agentgate_cache_store_errors_total{cache=\"dedup\"}",
          "agentgate_experiment_store_errors_total", "agentgate_dlq_store_errors_total",
          "agentgate_redis_reconnects_total{concern=\"ratelimit\"}"}) {
      EXPECT_GT(fleet->metric(i, sample), 0) << "instance " << i << ": " << sample;
    }
    Json ready;
    EXPECT_TRUE(WaitFor(
        [&] {
          ready = fleet->readyz(i);
          return ready.is_object() && ready["status"] == "ready";
        },
        seconds(5)))
        << ready.dump();
  }
}

// Sum of one field ("outcomes", "impressions") over an experiment's variants,
// read from Redis (the experiment store's counts hash).
int64_t RedisCount(Fleet& fleet, const std::string& experiment, const std::string& field) {
  Result<RedisReply> r = fleet.redis().command({"HGETALL", "agentgate:exp:counts:" + experiment});
  if (!r.ok()) return -1;
  int64_t sum = 0;
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    const std::string& name = r->elements[i].str;
    if (name.size() > field.size() && name.substr(name.size() - field.size()) == field &&
        name[name.size() - field.size() - 1] == ':') {
      sum += std::stoll(r->elements[i + 1].str);
    }
  }
  return sum;
}

TEST(FleetFaultTest, AnInstanceKilledMidLoadLosesNoAcknowledgedOutcomeOrDeadLetter) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet = Fleet::Start({.sections = "circuit_breaker: {enabled: false}\n"
                                         "error_recovery: {max_attempts: 1, "
                                         "dlq_max_entries: 1000000}\n"
                                         "rate_limit:\n  enabled: false\n"
                                         "cache:\n  enabled: false\n"
                                         "experiments:\n  store: redis\n",
                             .dead_upstream = true});
  ASSERT_NE(fleet, nullptr);
  // One experiment per instance, so that Redis's counts tell them apart.
  for (int i = 0; i < 3; ++i)
    CreateExperiment(*fleet, "kill-" + std::to_string(i), "ab-kill-" + std::to_string(i));
  ASSERT_TRUE(fleet->restart(1));
  ASSERT_TRUE(fleet->restart(2));
  const std::vector<uint16_t> ports = fleet->ports();

  std::atomic<bool> killed{false};
  std::mutex mu;
  int64_t acked_outcomes[3] = {}, after_kill_ok[3] = {}, after_kill_bad[3] = {};
  std::vector<std::string> acked_dead_letters;  // users of dead letters answered by instance 0
  int64_t acked_dead[3] = {};
  LoadGenerator load(
      {.ports = ports,
       .clients = 6,
       .max_duration = seconds(30),
       .make =
           [&](int client, int64_t seq) {
             // The instance this request goes to (LoadGenerator's round robin).
             const int i = static_cast<int>((client + seq) % 3);
             const std::string tag = "i" + std::to_string(i) + "-c" + std::to_string(client) +
                                     "-s" + std::to_string(seq);
             if (seq % 3 == 2) {
               return LoadRequest{.body = Chat("dead " + tag, "gpt-dead"),
                                  .headers = {{"X-User-Id", "dead-" + tag}}};
             }
             if (seq % 3 == 1) {  // an outcome recorded through the API: 2xx acknowledges it
               return LoadRequest{
                   .target = "/api/v1/ab-testing/record",
                   .body = R"({"experiment_id":"kill-)" + std::to_string(i) +
                           R"(","user_id":"u-)" + tag + R"(","success":true})",
                   .headers = {{"Authorization", std::string("Bearer ") + kFleetAdminKey}}};
             }
             return LoadRequest{.body = Chat("outcome " + tag, "ab-kill-" + std::to_string(i)),
                                .headers = {{"X-User-Id", "u-" + tag}}};
           },
       .on_response =
           [&](const LoadSample& s) {
             const bool dead = s.seq % 3 == 2;
             const size_t i = static_cast<size_t>(s.instance);
             std::lock_guard lock(mu);
             if (killed.load() && i != 0) {
               bool ok = dead ? s.result.status >= 500 : s.result.status / 100 == 2;
               ++(ok ? after_kill_ok : after_kill_bad)[i];
             }
             if (s.seq % 3 == 1 && s.result.status / 100 == 2) ++acked_outcomes[i];
             if (dead && s.result.status >= 500) {
               ++acked_dead[i];
               if (i == 0) {
                 acked_dead_letters.push_back(
                     s.request->headers.empty() ? std::string() : s.request->headers[0].second);
               }
             }
           }});
  load.start();
  ASSERT_TRUE(WaitFor([&] { return load.completed() >= 300; }, seconds(20)));
  fleet->kill(0);
  killed = true;
  ASSERT_FALSE(fleet->alive(0));
  EXPECT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return after_kill_ok[1] >= 100 && after_kill_ok[2] >= 100;
      },
      seconds(20)))
      << "the others keep serving";
  load.stop();

  std::printf(
      "[kill -9] acknowledged outcomes %lld/%lld/%lld, dead letters %lld/%lld/%lld; "
      "after the kill, instances 1/2 served %lld/%lld (failed %lld/%lld)\n",
      static_cast<long long>(acked_outcomes[0]), static_cast<long long>(acked_outcomes[1]),
      static_cast<long long>(acked_outcomes[2]), static_cast<long long>(acked_dead[0]),
      static_cast<long long>(acked_dead[1]), static_cast<long long>(acked_dead[2]),
      static_cast<long long>(after_kill_ok[1]), static_cast<long long>(after_kill_ok[2]),
      static_cast<long long>(after_kill_bad[1]), static_cast<long long>(after_kill_bad[2]));
  EXPECT_EQ(after_kill_bad[1], 0);
  EXPECT_EQ(after_kill_bad[2], 0);
  EXPECT_GT(acked_outcomes[0], 0);
  EXPECT_GT(acked_dead[0], 0);
  // Outcomes: what each instance acknowledged is in Redis.
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(RedisCount(*fleet, "kill-" + std::to_string(i), "outcomes"),
              acked_outcomes[static_cast<size_t>(i)])
        << "instance " << i;
  }
  // Dead letters: every one is listed by a survivor; the killed instance's
  // acknowledged ones one by one.
  HttpResult list = fleet->admin(1, "GET", "/api/v1/dlq?limit=1");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_GE(list.json().value("total", 0), acked_dead[0] + acked_dead[1] + acked_dead[2]);
  int missing = 0;
  for (const std::string& user : acked_dead_letters) {
    HttpResult one = fleet->admin(2, "GET", "/api/v1/dlq?limit=5&user=" + user);
    if (one.status != 200 || one.json()["data"].size() != 1u) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << acked_dead_letters.size()
                        << " dead letters acknowledged by the killed instance";
  // The killed instance comes back on the same Redis and sees them too.
  ASSERT_TRUE(fleet->restart(0));
  EXPECT_EQ(fleet->admin(0, "GET", "/api/v1/dlq?limit=1").json().value("total", -1),
            list.json().value("total", 0));
}

TEST(FleetFaultTest, RedisRestartedEmptyUnderLoadScriptsReloadAndServiceContinues) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet = Fleet::Start({.sections = kEverything, .dead_upstream = true});
  ASSERT_NE(fleet, nullptr);
  CreateExperiment(*fleet, "fault-exp", "ab-fault");
  ASSERT_TRUE(fleet->restart(1));
  ASSERT_TRUE(fleet->restart(2));
  SetTightTier(*fleet, "hammer");

  std::atomic<int> phase{0};
  std::atomic<int64_t> unserved{0}, transport{0}, hammer_429_after{0};
  std::mutex mu;
  std::string example;
  std::atomic<int64_t> limited_after[3] = {};
  LoadGenerator load({.ports = fleet->ports(),
                      .clients = 6,
                      .max_duration = seconds(30),
                      .make = Mixed,
                      .on_response = [&](const LoadSample& s) {
                        const Kind kind = KindOf(s.seq);
                        if (s.result.status == 0) ++transport;
                        if (!Served(kind, s.result.status)) {
                          ++unserved;
                          std::lock_guard lock(mu);
                          if (example.empty())
                            example = std::to_string(kind) + ": " +
                                      std::to_string(s.result.status) + " " + s.result.body +
                                      s.result.error;
                        }
                        if (phase.load() == 1 && kind == kHammer) {
                          if (s.result.status == 429) ++hammer_429_after;
                          if (!s.result.header("x-ratelimit-limit").empty())
                            ++limited_after[s.instance];
                        }
                      }});
  load.start();
  ASSERT_TRUE(WaitFor([&] { return load.completed() >= 300; }, seconds(20)));
  ASSERT_TRUE(fleet->redis().restart().ok());  // --save "": it comes back empty
  phase = 1;
  EXPECT_TRUE(WaitFor(
      [&] {
        return hammer_429_after.load() > 0 && limited_after[0] > 0 && limited_after[1] > 0 &&
               limited_after[2] > 0;
      },
      seconds(10)))
      << "the limit script runs again on every instance";
  const int64_t at_return = load.completed();
  EXPECT_TRUE(WaitFor([&] { return load.completed() >= at_return + 300; }, seconds(10)));
  load.stop();

  // The new server saw NOSCRIPT answered by SCRIPT LOAD, then EVALSHA runs.
  Result<RedisReply> stats = fleet->redis().command({"INFO", "commandstats"});
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats->str.find("cmdstat_script|load:calls="), std::string::npos) << stats->str;
  EXPECT_GT(fleet->redis_calls("evalsha"), 0);
  Result<RedisReply> errors = fleet->redis().command({"INFO", "errorstats"});
  ASSERT_TRUE(errors.ok());
  std::printf("[redis restarted empty] answers %lld, unserved %lld, transport %lld; %s\n",
              static_cast<long long>(load.completed()), static_cast<long long>(unserved.load()),
              static_cast<long long>(transport.load()), errors->str.c_str());
  EXPECT_NE(errors->str.find("errorstat_NOSCRIPT"), std::string::npos) << errors->str;
  EXPECT_EQ(transport.load(), 0);
  EXPECT_EQ(unserved.load(), 0) << "e.g. " << example;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fleet->alive(i)) << "instance " << i;
  // Caches work again across instances.
  const std::string body = Chat("asked after the restart");
  ASSERT_EQ(Request(fleet->port(0), "POST", "/v1/chat/completions", body).status, 200);
  HttpResult hit = Request(fleet->port(2), "POST", "/v1/chat/completions", body);
  EXPECT_EQ(hit.header("x-cache"), "HIT") << hit.body;
}

}  // namespace
}  // namespace agentgate::test

namespace agentgate::test {
namespace {

// An instance that (re)starts while Redis is away (a crash loop, a scale-up)
// comes up degraded and serves; once Redis is back it shares state again.
TEST(FleetFaultTest, AnInstanceStartedWhileRedisIsAwayServesAndJoinsWhenRedisReturns) {
  if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
  auto fleet = Fleet::Start({.instances = 2, .sections = kEverything});
  ASSERT_NE(fleet, nullptr);
  ASSERT_TRUE(fleet->redis().stop().ok());
  ASSERT_TRUE(fleet->restart(1));
  Json ready = fleet->readyz(1);
  EXPECT_EQ(ready["status"], "degraded") << ready.dump();
  const std::string body = Chat("asked while Redis is away");
  HttpResult r = Request(fleet->port(1), "POST", "/v1/chat/completions", body);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(fleet->redis().start().ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(WaitFor(
        [&] {
          ready = fleet->readyz(i);
          return ready.is_object() && ready["status"] == "ready";
        },
        seconds(5)))
        << "instance " << i << ": " << ready.dump();
  }
  // Shared again: cached through one instance, a hit through the other.
  const std::string again = Chat("asked once Redis is back");
  ASSERT_EQ(Request(fleet->port(1), "POST", "/v1/chat/completions", again).status, 200);
  EXPECT_EQ(Request(fleet->port(0), "POST", "/v1/chat/completions", again).header("x-cache"),
            "HIT");
}

}  // namespace
}  // namespace agentgate::test
