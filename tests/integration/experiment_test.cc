// A/B testing through the real agentgate binary in front of the real
// agentgate-mock: the admin API (/api/v1/ab-testing), assignment stability
// across a restart and across instances, and the experiment stage.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <string>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};

std::string ConfigFor(uint16_t mock_port) {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" +
         std::to_string(mock_port) +
         "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o, gpt-4o-mini]\n"
         "    first_byte_timeout_ms: 3000\n"
         // Other features' stages stay out of the way.
         "rate_limit:\n  enabled: false\ncache:\n  enabled: false\n"
         "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n";
}

constexpr const char* kExperiment =
    R"({"name":"model-test","description":"4o vs mini","variants":["gpt-4o","gpt-4o-mini"],)"
    R"("traffic_split":[0.5,0.5],"target_model":"ab-model"})";

class ExperimentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(ConfigFor(mock_->port()));
    ASSERT_NE(gw_, nullptr);
  }
  HttpResult Admin(const GatewayProcess& gw, std::string_view method, std::string_view path,
                   std::string_view body = {}) {
    return Request(gw.port(), method, path, body, kAdmin);
  }
  HttpResult Admin(std::string_view method, std::string_view path, std::string_view body = {}) {
    return Admin(*gw_, method, path, body);
  }
  std::string Assign(const GatewayProcess& gw, const std::string& experiment,
                     const std::string& user) {
    HttpResult r =
        Admin(gw, "POST", "/api/v1/ab-testing/assign",
              R"({"experiment_id":")" + experiment + R"(","user_id":")" + user + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().value("variant", "");
  }
  int ListSize() {
    return static_cast<int>(
        Admin("GET", "/api/v1/ab-testing/experiments").json()["experiments"].size());
  }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

// StopGracefully: SIGTERM and wait, so the gateway writes its last batch of
// impressions and sticky choices (a SIGKILL may lose up to flush_interval of
// them; acknowledged outcomes never).
void StopGracefully(std::unique_ptr<GatewayProcess>& gw) {
  ASSERT_TRUE(gw->process().signal(SIGTERM));
  EXPECT_TRUE(gw->process().wait(std::chrono::seconds(30)).has_value());
  gw.reset();
}

int TotalImpressions(const Json& results) {
  int n = 0;
  for (const Json& v : results["variants"]) n += v["impressions"].get<int>();
  return n;
}

void ExpectErrorShape(const HttpResult& r, int status, const std::string& fragment) {
  EXPECT_EQ(r.status, status) << r.body;
  Json j = r.json();
  ASSERT_TRUE(j.is_object()) << r.body;
  ASSERT_TRUE(j.contains("error")) << r.body;
  EXPECT_TRUE(j["error"].contains("type"));
  EXPECT_NE(j["error"].value("message", "").find(fragment), std::string::npos) << r.body;
}

TEST_F(ExperimentTest, AdminApiLifecycleAndErrors) {
  HttpResult created = Admin("POST", "/api/v1/ab-testing/experiments", kExperiment);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["status"], "running");
  EXPECT_EQ(created.json()["seed"], "model-test");

  // Bad bodies: 400 in the OpenAI error shape, nothing stored.
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments",
                         R"({"name":"x","variants":["a","b"],"traffic_split":[0.5,0.6]})"),
                   400, "sum to");
  ExpectErrorShape(
      Admin("POST", "/api/v1/ab-testing/experiments", R"({"name":"x","variants":["a"]})"), 400,
      "at least two");
  ExpectErrorShape(
      Admin("POST", "/api/v1/ab-testing/experiments", R"({"name":"x","variants":["a","a"]})"), 400,
      "duplicate");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments",
                         R"({"name":"x","variants":["a","b"],"traffic_split":[1]})"),
                   400, "weights");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments",
                         R"({"name":"x","variants":["a","b"],"colour":"red"})"),
                   400, "unknown field");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments", "{not json"), 400, "");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments", kExperiment), 409,
                   "already exists");
  EXPECT_EQ(ListSize(), 1);

  ExpectErrorShape(Admin("GET", "/api/v1/ab-testing/experiments/nope"), 404, "not found");
  ExpectErrorShape(Admin("GET", "/api/v1/ab-testing/results/nope"), 404, "not found");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments/nope/stop"), 404, "not found");
  ExpectErrorShape(Admin("DELETE", "/api/v1/ab-testing/experiments/nope"), 404, "not found");
  ExpectErrorShape(
      Admin("POST", "/api/v1/ab-testing/assign", R"({"experiment_id":"nope","user_id":"u"})"), 404,
      "not found");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/assign", R"({"experiment_id":"model-test"})"),
                   400, "user_id");
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/ab-testing/experiments").status, 401);

  // Assign and record: impressions and conversions show up in the results.
  for (int i = 0; i < 40; ++i) {
    std::string u = "user-" + std::to_string(i);
    std::string v = Assign(*gw_, "model-test", u);
    ASSERT_TRUE(v == "gpt-4o" || v == "gpt-4o-mini") << v;
    HttpResult rec = Admin("POST", "/api/v1/ab-testing/record",
                           R"({"experiment_id":"model-test","user_id":")" + u + R"(","success":)" +
                               (i % 4 == 0 ? "true" : "false") +
                               R"(,"value":2.5,"metadata":{"source":"test"}})");
    ASSERT_EQ(rec.status, 200) << rec.body;
  }
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/record",
                         R"({"experiment_id":"model-test","user_id":"user-1","success":"yes"})"),
                   400, "success");
  ExpectErrorShape(
      Admin("POST", "/api/v1/ab-testing/record",
            R"({"experiment_id":"model-test","user_id":"user-1","success":true,"value":"x"})"),
      400, "value");
  Json results = Admin("GET", "/api/v1/ab-testing/results/model-test").json();
  ASSERT_EQ(results["variants"].size(), 2u);
  int impressions = 0, conversions = 0, outcomes = 0;
  for (const Json& v : results["variants"]) {
    impressions += v["impressions"].get<int>();
    conversions += v["conversions"].get<int>();
    outcomes += v["outcomes"].get<int>();
    EXPECT_DOUBLE_EQ(v["average_value"].get<double>(), 2.5);
    EXPECT_EQ(v["confidence_interval"].size(), 2u);
  }
  EXPECT_EQ(impressions, 40);
  EXPECT_EQ(conversions, 10);  // the rejected records changed nothing
  EXPECT_EQ(outcomes, 40);
  EXPECT_EQ(results["test"], "chi_square");
  EXPECT_TRUE(results.contains("sample_ratio_mismatch"));

  // Stop: outcomes are refused with 409.
  HttpResult stopped = Admin("POST", "/api/v1/ab-testing/experiments/model-test/stop");
  ASSERT_EQ(stopped.status, 200);
  EXPECT_EQ(stopped.json()["status"], "stopped");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/record",
                         R"({"experiment_id":"model-test","user_id":"user-1","success":true})"),
                   409, "stopped");
  EXPECT_EQ(Admin("GET", "/api/v1/ab-testing/experiments/model-test").json()["status"], "stopped");

  // Delete; every change is in the audit log.
  ASSERT_EQ(Admin("DELETE", "/api/v1/ab-testing/experiments/model-test").status, 200);
  EXPECT_EQ(Admin("GET", "/api/v1/ab-testing/experiments/model-test").status, 404);
  std::string audit = Admin("GET", "/api/v1/audit?limit=20").body;
  EXPECT_NE(audit.find("created experiment 'model-test'"), std::string::npos) << audit;
  EXPECT_NE(audit.find("stopped experiment 'model-test'"), std::string::npos);
  EXPECT_NE(audit.find("deleted experiment 'model-test'"), std::string::npos);
}

TEST_F(ExperimentTest, AssignmentSurvivesRestartAndMatchesAnotherInstance) {
  ASSERT_EQ(Admin("POST", "/api/v1/ab-testing/experiments", kExperiment).status, 201);
  const char* kBandit =
      R"({"name":"bandit","variants":["a","b","c"],"bandit_algorithm":"thompson"})";
  ASSERT_EQ(Admin("POST", "/api/v1/ab-testing/experiments", kBandit).status, 201);
  std::map<std::string, std::string> hashed, sticky;
  for (int i = 0; i < 30; ++i) {
    std::string u = "u\xC3\xA9-" + std::to_string(i);  // non-ASCII ids too
    hashed[u] = Assign(*gw_, "model-test", u);
    sticky[u] = Assign(*gw_, "bandit", u);
  }
  // Restart on the same data dir: same variants, counts kept.
  const std::string dir = gw_->dir();
  StopGracefully(gw_);
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port()), {}, dir);
  ASSERT_NE(gw_, nullptr);
  EXPECT_EQ(ListSize(), 2);
  for (const auto& [u, v] : hashed) EXPECT_EQ(Assign(*gw_, "model-test", u), v) << u;
  for (const auto& [u, v] : sticky) EXPECT_EQ(Assign(*gw_, "bandit", u), v) << u;
  Json results = Admin("GET", "/api/v1/ab-testing/results/model-test").json();
  EXPECT_EQ(results["variants"][0]["impressions"].get<int>() +
                results["variants"][1]["impressions"].get<int>(),
            60);

  // Another instance with its own data dir and the same definition assigns
  // every user the same variant (deterministic hashing).
  auto other = GatewayProcess::Start(ConfigFor(mock_->port()));
  ASSERT_NE(other, nullptr);
  ASSERT_NE(other->dir(), dir);
  ASSERT_EQ(Admin(*other, "POST", "/api/v1/ab-testing/experiments", kExperiment).status, 201);
  for (const auto& [u, v] : hashed) EXPECT_EQ(Assign(*other, "model-test", u), v) << u;
}

TEST_F(ExperimentTest, StageRewritesModelSetsHeadersAndRecordsOutcomes) {
  ASSERT_EQ(Admin("POST", "/api/v1/ab-testing/experiments", kExperiment).status, 201);
  std::map<std::string, int> seen;
  for (int i = 0; i < 20; ++i) {
    std::string user = "stage-user-" + std::to_string(i);
    HttpResult r = Request(gw_->port(), "POST", "/v1/chat/completions",
                           R"({"model":"ab-model","messages":[{"role":"user","content":"hi"}]})",
                           {{"X-User-Id", user}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-experiment"), "model-test");
    const std::string variant = r.header("x-variant");
    ++seen[variant];
    EXPECT_EQ(variant, Assign(*gw_, "model-test", user));  // the API agrees with the stage
    Json last = Request(mock_->port(), "GET", "/_mock/stats").json()["last_request"];
    EXPECT_EQ(last.value("model", ""), variant);
  }
  EXPECT_EQ(seen.size(), 2u);
  // Requests for other models are untouched.
  HttpResult plain = Request(gw_->port(), "POST", "/v1/chat/completions",
                             R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(plain.header("x-experiment"), "");

  Json results = Admin("GET", "/api/v1/ab-testing/results/model-test").json();
  int impressions = 0, conversions = 0;
  for (const Json& v : results["variants"]) {
    impressions += v["impressions"].get<int>();
    conversions += v["conversions"].get<int>();
    if (v["outcomes"].get<int>() > 0) {
      EXPECT_GT(v["average_value"].get<double>(), 0);  // latency in ms
    }
  }
  EXPECT_EQ(impressions, 40);  // 20 requests + 20 API assignments
  EXPECT_EQ(conversions, 20);  // every upstream answer was a 2xx

  // Upstream failures are recorded as failures.
  ASSERT_EQ(
      Request(mock_->port(), "POST", "/_mock/faults", R"({"error_rate":1.0,"status":500})").status,
      200);
  HttpResult failed = Request(gw_->port(), "POST", "/v1/chat/completions",
                              R"({"model":"ab-model","messages":[{"role":"user","content":"hi"}]})",
                              {{"X-User-Id", "stage-user-0"}});
  EXPECT_GE(failed.status, 500);
  EXPECT_EQ(failed.header("x-experiment"), "model-test");
  results = Admin("GET", "/api/v1/ab-testing/results/model-test").json();
  int outcomes = 0;
  conversions = 0;
  for (const Json& v : results["variants"])
    outcomes += v["outcomes"].get<int>(), conversions += v["conversions"].get<int>();
  EXPECT_EQ(outcomes, 21);
  EXPECT_EQ(conversions, 20);
}

TEST_F(ExperimentTest, SystemPromptVariantsAndClientOutcomes) {
  ASSERT_EQ(
      Admin(
          "POST", "/api/v1/ab-testing/experiments",
          R"({"name":"prompts","variants":["terse","friendly"],"variant_type":"system_prompt",)"
          R"("prompts":["Be terse.","Be friendly."],"target_model":"gpt-4o-mini","client_outcomes":true})")
          .status,
      201);
  for (int i = 0; i < 6; ++i) {
    std::string user = "p-" + std::to_string(i);
    HttpResult r =
        Request(gw_->port(), "POST", "/v1/chat/completions",
                R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"old"},)"
                R"({"role":"user","content":"hi"}]})",
                {{"X-User-Id", user}});
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string variant = r.header("x-variant");
    Json last = Request(mock_->port(), "GET", "/_mock/stats").json()["last_request"];
    EXPECT_EQ(last.value("model", ""), "gpt-4o-mini");
    ASSERT_EQ(last["messages"].size(), 2u);
    EXPECT_EQ(last["messages"][0]["content"], variant == "terse" ? "Be terse." : "Be friendly.");
    EXPECT_EQ(last["messages"][1]["content"], "hi");
  }
  // client_outcomes: the gateway counted impressions but recorded nothing.
  Json results = Admin("GET", "/api/v1/ab-testing/results/prompts").json();
  int impressions = 0, outcomes = 0;
  for (const Json& v : results["variants"])
    impressions += v["impressions"].get<int>(), outcomes += v["outcomes"].get<int>();
  EXPECT_EQ(impressions, 6);
  EXPECT_EQ(outcomes, 0);
}

// A 2xx from POST /record means written: an instance killed with SIGKILL
// right after keeps every acknowledged outcome (impressions may lose up to
// flush_interval_ms; not asserted).
TEST_F(ExperimentTest, AcknowledgedOutcomesSurviveSigkill) {
  ASSERT_EQ(Admin("POST", "/api/v1/ab-testing/experiments", kExperiment).status, 201);
  for (int i = 0; i < 30; ++i) {
    const std::string u = "k-" + std::to_string(i);
    Assign(*gw_, "model-test", u);
    ASSERT_EQ(Admin("POST", "/api/v1/ab-testing/record",
                    R"({"experiment_id":"model-test","user_id":")" + u +
                        R"(","success":true,"value":1,"metadata":{"i":)" + std::to_string(i) + "}}")
                  .status,
              200);
  }
  const std::string dir = gw_->dir();
  ASSERT_TRUE(gw_->process().signal(SIGKILL));
  ASSERT_TRUE(gw_->process().wait(std::chrono::seconds(10)).has_value());
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port()), {}, dir);
  ASSERT_NE(gw_, nullptr);
  Json results = Admin("GET", "/api/v1/ab-testing/results/model-test").json();
  int outcomes = 0, conversions = 0;
  for (const Json& v : results["variants"])
    outcomes += v["outcomes"].get<int>(), conversions += v["conversions"].get<int>();
  EXPECT_EQ(outcomes, 30) << results.dump();
  EXPECT_EQ(conversions, 30);
  Json log = Admin("GET", "/api/v1/ab-testing/outcomes/model-test?limit=1000").json();
  ASSERT_EQ(log["outcomes"].size(), 30u);
  EXPECT_EQ(log["outcomes"][0]["metadata"]["i"], 29);
}

TEST_F(ExperimentTest, RouteTargetsAndTheOutcomeLog) {
  const int before = ListSize();
  // Bad targets: 400 with the reason, nothing stored.
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments",
                         R"({"name":"r","variants":["a","b"],"target":{"route":"/v1/models"}})"),
                   400, "target.route");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments",
                         R"({"name":"r","variants":["a","b"],"target":"x"})"),
                   400, "target");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/experiments",
                         R"({"name":"r","variants":["a","b"],"target":{"host":"x"}})"),
                   400, "unknown field 'host'");
  EXPECT_EQ(ListSize(), before);

  // A route target: every /v1/completions request enters, whatever its model.
  HttpResult created = Admin(
      "POST", "/api/v1/ab-testing/experiments",
      R"({"name":"by-route","variants":["gpt-4o","gpt-4o-mini"],"target":{"route":"/v1/completions"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["target"]["route"], "/v1/completions");
  HttpResult r = Request(gw_->port(), "POST", "/v1/completions",
                         R"({"model":"anything","prompt":"hi"})", {{"X-User-Id", "route-user"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-experiment"), "by-route");
  Json last = Request(mock_->port(), "GET", "/_mock/stats").json()["last_request"];
  EXPECT_EQ(last.value("model", ""), r.header("x-variant"));
  HttpResult chat = Request(gw_->port(), "POST", "/v1/chat/completions",
                            R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})",
                            {{"X-User-Id", "route-user"}});
  EXPECT_EQ(chat.header("x-experiment"), "");

  // Outcomes with metadata: newest first, limit, aggregation by a key.
  for (int i = 0; i < 6; ++i) {
    std::string u = "log-" + std::to_string(i);
    Assign(*gw_, "by-route", u);
    HttpResult rec = Admin("POST", "/api/v1/ab-testing/record",
                           R"({"experiment_id":"by-route","user_id":")" + u + R"(","success":)" +
                               (i < 4 ? "true" : "false") + R"(,"value":)" + std::to_string(i) +
                               R"(,"metadata":{"plan":")" + (i % 2 == 0 ? "pro" : "free") +
                               R"(","n":)" + std::to_string(i) + "}}");
    ASSERT_EQ(rec.status, 200) << rec.body;
  }
  Json log = Admin("GET", "/api/v1/ab-testing/outcomes/by-route?limit=4").json();
  ASSERT_EQ(log["outcomes"].size(), 4u) << log.dump();
  EXPECT_EQ(log["outcomes"][0]["user_id"], "log-5");
  EXPECT_EQ(log["outcomes"][0]["metadata"]["n"], 5);
  EXPECT_EQ(log["outcomes"][0]["success"], false);
  Json grouped = Admin("GET", "/api/v1/ab-testing/outcomes/by-route?group_by=plan").json();
  ASSERT_EQ(grouped["groups"].size(), 2u) << grouped.dump();
  int pro = 0;
  for (const Json& g : grouped["groups"]) {
    if (g["value"] != "pro") continue;
    for (const Json& v : g["variants"]) pro += v["outcomes"].get<int>();
  }
  EXPECT_EQ(pro, 3);
  ExpectErrorShape(Admin("GET", "/api/v1/ab-testing/outcomes/by-route?limit=0"), 400, "limit");
  ExpectErrorShape(Admin("GET", "/api/v1/ab-testing/outcomes/by-route?limit=x"), 400, "limit");
  ExpectErrorShape(Admin("GET", "/api/v1/ab-testing/outcomes/nope"), 404, "not found");
  const std::string big(5000, 'x');
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/record",
                         R"({"experiment_id":"by-route","user_id":"log-1","success":true,)"
                         R"("metadata":{"k":")" + big + R"("}})"),
                   400, "metadata");
  ExpectErrorShape(Admin("POST", "/api/v1/ab-testing/record",
                         R"({"experiment_id":"by-route","user_id":"log-1","success":true,"metadata":[1]})"),
                   400, "metadata");
  EXPECT_EQ(Admin("GET", "/api/v1/ab-testing/outcomes/by-route").json()["outcomes"].size(), 6u);
}

}  // namespace
}  // namespace agentgate::test

namespace agentgate::test {
namespace {

// experiments.store: redis: two instances on one Redis see the same
// experiments, the same sticky bandit choices, and add up their counts.
TEST(ExperimentRedisTest, InstancesShareExperimentsThroughRedis) {
  agentgate::testing::RedisServer redis;
  ASSERT_TRUE(redis.start().ok());
  auto mock = MockProcess::Start({"--api-key", "upstream-key"});
  ASSERT_NE(mock, nullptr);
  const std::string config = ConfigFor(mock->port()) +
                             "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis.port()) +
                             "\nexperiments:\n  store: redis\n";
  auto a = GatewayProcess::Start(config);
  ASSERT_NE(a, nullptr);
  auto admin = [](const GatewayProcess& gw, std::string_view method, std::string_view path,
                  std::string_view body = {}) {
    return Request(gw.port(), method, path, body, kAdmin);
  };
  auto assign = [&](const GatewayProcess& gw, const std::string& exp, const std::string& user) {
    HttpResult r = admin(gw, "POST", "/api/v1/ab-testing/assign",
                         R"({"experiment_id":")" + exp + R"(","user_id":")" + user + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().value("variant", "");
  };
  ASSERT_EQ(admin(*a, "POST", "/api/v1/ab-testing/experiments", kExperiment).status, 201);
  ASSERT_EQ(
      admin(
          *a, "POST", "/api/v1/ab-testing/experiments",
          R"({"name":"bandit","variants":["a","b","c"],"bandit_algorithm":"epsilon_greedy","epsilon":1})")
          .status,
      201);
  std::map<std::string, std::string> hashed, sticky;
  for (int i = 0; i < 20; ++i) {
    std::string u = "r-" + std::to_string(i);
    hashed[u] = assign(*a, "model-test", u);
    sticky[u] = assign(*a, "bandit", u);
  }
  // A writes its choices behind: wait until they are in Redis.
  ASSERT_TRUE(WaitFor([&] {
    auto r = redis.command({"HLEN", "agentgate:exp:sticky:bandit"});
    return r.ok() && r->integer == 20;
  }));
  // B: its own data dir, the same Redis.
  auto b = GatewayProcess::Start(config);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(admin(*b, "GET", "/api/v1/ab-testing/experiments").json()["experiments"].size(), 2u);
  for (const auto& [u, v] : hashed) EXPECT_EQ(assign(*b, "model-test", u), v) << u;
  for (const auto& [u, v] : sticky) EXPECT_EQ(assign(*b, "bandit", u), v) << u;
  // A restarted on a fresh data dir reads everything back from Redis: 20
  // impressions of its own plus 20 of B's.
  StopGracefully(a);
  a = GatewayProcess::Start(config);
  ASSERT_NE(a, nullptr);
  // B's impressions arrive with B's next flush and A's next sync.
  Json results;
  EXPECT_TRUE(WaitFor([&] {
    results = admin(*a, "GET", "/api/v1/ab-testing/results/model-test").json();
    return TotalImpressions(results) == 40;
  })) << results.dump();
  ASSERT_EQ(results["variants"].size(), 2u) << results.dump();
  for (const auto& [u, v] : sticky) EXPECT_EQ(assign(*a, "bandit", u), v) << u;
  // Delete removes it from Redis too.
  ASSERT_EQ(admin(*a, "DELETE", "/api/v1/ab-testing/experiments/bandit").status, 200);
  auto c = GatewayProcess::Start(config);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(admin(*c, "GET", "/api/v1/ab-testing/experiments/bandit").status, 404);
}

// Two running instances on one Redis: what one creates, stops or deletes, the
// other sees within its sync interval (here 200 ms) without a restart; counts
// and the outcome log add up across them.
TEST(ExperimentRedisTest, RunningInstancesSeeEachOthersChanges) {
  agentgate::testing::RedisServer redis;
  ASSERT_TRUE(redis.start().ok());
  auto mock = MockProcess::Start({"--api-key", "upstream-key"});
  ASSERT_NE(mock, nullptr);
  const std::string config = ConfigFor(mock->port()) + "redis:\n  host: 127.0.0.1\n  port: " +
                             std::to_string(redis.port()) +
                             "\nexperiments:\n  store: redis\n  sync_interval_ms: 200\n";
  auto a = GatewayProcess::Start(config);
  auto b = GatewayProcess::Start(config);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto admin = [](const GatewayProcess& gw, std::string_view method, std::string_view path,
                  std::string_view body = {}) {
    return Request(gw.port(), method, path, body, kAdmin);
  };
  const std::string get = "/api/v1/ab-testing/experiments/model-test";
  ASSERT_EQ(admin(*b, "GET", get).status, 404);

  // Created on A: B finds it, and its stage uses it.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(admin(*a, "POST", "/api/v1/ab-testing/experiments", kExperiment).status, 201);
  ASSERT_TRUE(WaitFor([&] { return admin(*b, "GET", get).status == 200; }));
  const auto seen_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
  std::printf("created on A, seen on B after %lld ms (sync_interval_ms 200)\n",
              static_cast<long long>(seen_ms));
  HttpResult proxied =
      Request(b->port(), "POST", "/v1/chat/completions",
              R"({"model":"ab-model","messages":[{"role":"user","content":"hi"}]})",
              {{"X-User-Id", "via-b"}});
  ASSERT_EQ(proxied.status, 200) << proxied.body;
  EXPECT_EQ(proxied.header("x-experiment"), "model-test");

  // Assignments and outcomes on both; each sees the sum.
  for (int i = 0; i < 10; ++i) {
    const GatewayProcess& gw = i % 2 == 0 ? *a : *b;
    const std::string u = "both-" + std::to_string(i);
    ASSERT_EQ(admin(gw, "POST", "/api/v1/ab-testing/assign",
                    R"({"experiment_id":"model-test","user_id":")" + u + R"("})")
                  .status,
              200);
    ASSERT_EQ(admin(gw, "POST", "/api/v1/ab-testing/record",
                    R"({"experiment_id":"model-test","user_id":")" + u +
                        R"(","success":true,"metadata":{"via":")" + (i % 2 == 0 ? "a" : "b") +
                        R"("}})")
                  .status,
              200);
  }
  for (const GatewayProcess* gw : {a.get(), b.get()}) {
    Json results;
    EXPECT_TRUE(WaitFor([&] {
      results = admin(*gw, "GET", "/api/v1/ab-testing/results/model-test").json();
      return TotalImpressions(results) == 11;  // 10 assigned + 1 proxied
    })) << results.dump();
    Json grouped = admin(*gw, "GET", "/api/v1/ab-testing/outcomes/model-test?group_by=via").json();
    EXPECT_EQ(grouped["records"], 10) << grouped.dump();
    EXPECT_EQ(grouped["groups"].size(), 2u) << grouped.dump();
  }

  // Stopped on A: B refuses outcomes with 409.
  ASSERT_EQ(admin(*a, "POST", get + "/stop").status, 200);
  ASSERT_TRUE(WaitFor([&] { return admin(*b, "GET", get).json()["status"] == "stopped"; }));
  EXPECT_EQ(admin(*b, "POST", "/api/v1/ab-testing/record",
                  R"({"experiment_id":"model-test","user_id":"both-1","success":true})")
                .status,
            409);

  // Deleted on A: gone on B, and B's proxy no longer assigns.
  ASSERT_EQ(admin(*a, "DELETE", get).status, 200);
  ASSERT_TRUE(WaitFor([&] { return admin(*b, "GET", get).status == 404; }));
  proxied = Request(b->port(), "POST", "/v1/chat/completions",
                    R"({"model":"ab-model","messages":[{"role":"user","content":"hi"}]})",
                    {{"X-User-Id", "via-b"}});
  EXPECT_EQ(proxied.header("x-experiment"), "");
}

}  // namespace
}  // namespace agentgate::test
