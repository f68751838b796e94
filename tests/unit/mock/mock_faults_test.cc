#include "mock/mock_faults.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

using namespace std::chrono_literals;

Result<MockFaults> Parse(std::string_view text) { return ParseMockFaults(Json::parse(text)); }

// ExpectRejected: the document is refused with a message naming `field`.
void ExpectRejected(std::string_view text, std::string_view field) {
  Result<MockFaults> f = Parse(text);
  ASSERT_FALSE(f.ok()) << text;
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find(field), std::string::npos) << f.status().message();
}

TEST(MockFaultsTest, EmptyDocumentClearsEverything) {
  Result<MockFaults> f = Parse("{}");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->any());
  EXPECT_EQ(f->error_status, 500);
  EXPECT_EQ(f->retry_after_s, 1);
}

TEST(MockFaultsTest, ParsesEveryField) {
  Result<MockFaults> f = Parse(R"({"latency_ms": 12.5, "error_rate": 0.25, "status": 429,
      "retry_after_s": 7, "reset_rate": 0.1, "hang_rate": 0.05, "invalid_json_rate": 0.2,
      "stream_chunk_delay_ms": 30, "truncate_stream": true})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->latency_min, 12500us);
  EXPECT_EQ(f->latency_max, 12500us);
  EXPECT_DOUBLE_EQ(f->error_rate, 0.25);
  EXPECT_EQ(f->error_status, 429);
  EXPECT_EQ(f->retry_after_s, 7);
  EXPECT_DOUBLE_EQ(f->reset_rate, 0.1);
  EXPECT_DOUBLE_EQ(f->hang_rate, 0.05);
  EXPECT_DOUBLE_EQ(f->invalid_json_rate, 0.2);
  EXPECT_EQ(f->stream_chunk_delay, 30ms);
  EXPECT_DOUBLE_EQ(f->truncate_stream_rate, 1.0);
  EXPECT_TRUE(f->any());

  // The JSON form reads back to the same faults.
  Result<MockFaults> again = ParseMockFaults(MockFaultsToJson(*f));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(MockFaultsToJson(*again), MockFaultsToJson(*f));
}

TEST(MockFaultsTest, LatencyRangeAndTruncateRate) {
  Result<MockFaults> f = Parse(R"({"latency_ms": {"min": 10, "max": 20}, "truncate_stream": 0.5})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->latency_min, 10ms);
  EXPECT_EQ(f->latency_max, 20ms);
  EXPECT_DOUBLE_EQ(f->truncate_stream_rate, 0.5);
  EXPECT_EQ(MockFaultsToJson(*f)["latency_ms"]["max"], 20.0);
  EXPECT_TRUE(Parse(R"({"latency_ms": null, "truncate_stream": false})")->latency_max == 0ms);
}

TEST(MockFaultsTest, RejectsBadFieldsByName) {
  ExpectRejected(R"({"error_rate": 1.5})", "error_rate");
  ExpectRejected(R"({"error_rate": "often"})", "error_rate");
  ExpectRejected(R"({"reset_rate": -0.1})", "reset_rate");
  ExpectRejected(R"({"hang_rate": true})", "hang_rate");
  ExpectRejected(R"({"status": 200})", "status");
  ExpectRejected(R"({"status": 429.5})", "status");
  ExpectRejected(R"({"retry_after_s": -1})", "retry_after_s");
  ExpectRejected(R"({"latency_ms": -5})", "latency_ms");
  ExpectRejected(R"({"latency_ms": "slow"})", "latency_ms");
  ExpectRejected(R"({"latency_ms": {"min": 20, "max": 10}})", "latency_ms.max");
  ExpectRejected(R"({"latency_ms": {"min": 20}})", "latency_ms");
  ExpectRejected(R"({"latency_ms": {"min": 1, "max": 2, "mean": 1}})", "latency_ms.mean");
  ExpectRejected(R"({"stream_chunk_delay_ms": 1e12})", "stream_chunk_delay_ms");
  ExpectRejected(R"({"truncate_stream": "yes"})", "truncate_stream");
  ExpectRejected(R"({"latencyms": 5})", "latencyms");
  EXPECT_FALSE(ParseMockFaults(Json::array()).ok());
}

TEST(MockFaultsTest, RatesOfOneAndZeroNeedNoRandomness) {
  MockFaults f;
  f.error_rate = 1;
  f.error_status = 503;
  f.retry_after_s = 4;
  std::mt19937_64 rng(1);
  std::mt19937_64 untouched(1);
  FaultPlan p = PlanFaults(f, rng);
  EXPECT_EQ(p.action, FaultAction::kError);
  EXPECT_EQ(p.error_status, 503);
  EXPECT_EQ(p.retry_after_s, 4);
  EXPECT_FALSE(p.truncate_stream);
  EXPECT_EQ(rng(), untouched());  // no draw was taken

  f.reset_rate = 1;  // reset wins over error
  EXPECT_EQ(PlanFaults(f, rng).action, FaultAction::kReset);
  EXPECT_EQ(PlanFaults(MockFaults{}, rng).action, FaultAction::kNone);

  MockFaults t;
  t.truncate_stream_rate = 1;
  t.stream_chunk_delay = 5ms;
  FaultPlan tp = PlanFaults(t, rng);
  EXPECT_EQ(tp.action, FaultAction::kNone);
  EXPECT_TRUE(tp.truncate_stream);
  EXPECT_EQ(tp.stream_chunk_delay, 5ms);
}

TEST(MockFaultsTest, SeededDrawsAreReproducible) {
  MockFaults f;
  f.error_rate = 0.3;
  f.latency_min = 10ms;
  f.latency_max = 20ms;
  auto run = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::pair<FaultAction, int64_t>> out;
    for (int i = 0; i < 1000; ++i) {
      FaultPlan p = PlanFaults(f, rng);
      EXPECT_GE(p.latency, 10ms);
      EXPECT_LE(p.latency, 20ms);
      out.emplace_back(p.action, p.latency.count());
    }
    return out;
  };
  auto a = run(7);
  EXPECT_EQ(a, run(7));
  EXPECT_NE(a, run(8));
  long errors = std::count_if(a.begin(), a.end(),
                              [](const auto& p) { return p.first == FaultAction::kError; });
  EXPECT_GT(errors, 200);
  EXPECT_LT(errors, 400);
}

TEST(MockFaultsTest, ErrorKinds) {
  EXPECT_EQ(MockErrorKindFor(401).type, "authentication_error");
  EXPECT_EQ(MockErrorKindFor(429).type, "rate_limit_error");
  EXPECT_EQ(MockErrorKindFor(429).code, "rate_limit_exceeded");
  EXPECT_EQ(MockErrorKindFor(500).type, "server_error");
  EXPECT_EQ(MockErrorKindFor(599).type, "server_error");
  EXPECT_EQ(MockErrorKindFor(418).type, "invalid_request_error");
}

}  // namespace
}  // namespace agentgate
