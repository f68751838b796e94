#include "resilience/dead_letter_queue.h"

#include <gtest/gtest.h>

#include "agentgate/core/json.h"

namespace agentgate {
namespace {

DeadLetter Letter(std::string user, std::string upstream = "a") {
  DeadLetter d;
  d.user = std::move(user);
  d.upstream = std::move(upstream);
  d.model = "m";
  d.function = "/v1/chat/completions";
  d.attempts = 3;
  d.error_class = "RECOVERABLE";
  d.error = "upstream answered 500";
  d.status = 500;
  d.body = R"({"model":"m","messages":[]})";
  return d;
}

class DeadLetterQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::open_memory();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }
  std::unique_ptr<DeadLetterQueue> Open(int64_t max_entries = 100) {
    auto q = DeadLetterQueue::Open(*db_, clock_, &metrics_, {.max_entries = max_entries});
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(*q) : nullptr;
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(DeadLetterQueueTest, AddGetListRemoveReplay) {
  auto q = Open();
  auto id1 = q->add(Letter("u1"));
  auto id2 = q->add(Letter("u2", "b"));
  ASSERT_TRUE(id1.ok() && id2.ok());
  auto d = q->get(*id1);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->user, "u1");
  EXPECT_EQ(d->attempts, 3);
  EXPECT_EQ(d->time_ms, 1767225600000);
  auto all = q->list({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, *id2);  // newest first
  auto only_b = q->list({.upstream = "b"});
  ASSERT_EQ(only_b->size(), 1u);
  EXPECT_EQ((*only_b)[0].user, "u2");
  auto page = q->list({.before_id = *id2, .limit = 1});
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, *id1);

  ASSERT_TRUE(q->record_replay(*id1, 200).ok());
  EXPECT_EQ(q->get(*id1)->replays, 1);
  EXPECT_EQ(q->get(*id1)->last_replay_status, 200);
  EXPECT_TRUE(q->remove(*id1).ok());
  EXPECT_EQ(q->remove(*id1).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->get(*id1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q->record_replay(*id1, 200).code(), StatusCode::kNotFound);
  EXPECT_EQ(*q->size(), 1);
}

TEST_F(DeadLetterQueueTest, BoundedDropsOldestAndCountsThem) {
  auto q = Open(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q->add(Letter("u" + std::to_string(i))).ok());
  EXPECT_EQ(*q->size(), 3);
  auto all = q->list({});
  EXPECT_EQ(all->back().user, "u2");
  EXPECT_EQ(metrics_.value("agentgate_dlq_dropped_total"), 2);
  EXPECT_EQ(metrics_.value("agentgate_dlq_added_total"), 5);
}

TEST_F(DeadLetterQueueTest, SecretsAreScrubbedFromTheBody) {
  auto q = Open();
  DeadLetter d = Letter("u");
  d.body = R"({"model":"m","api_key":"sk-1","metadata":{"Authorization":"Bearer x",)"
           R"("tools":[{"password":"p","name":"n"}]}})";
  auto id = q->add(d);
  ASSERT_TRUE(id.ok());
  std::string body = q->get(*id)->body;
  EXPECT_EQ(body.find("sk-1"), std::string::npos);
  EXPECT_EQ(body.find("Bearer x"), std::string::npos);
  EXPECT_EQ(body.find("\"p\""), std::string::npos);
  Json j = Json::parse(body);
  EXPECT_EQ(j["metadata"]["tools"][0]["name"], "n");
  EXPECT_EQ(j["api_key"], "[REDACTED]");
  EXPECT_EQ(ScrubSecrets("not json"), "not json");
}

TEST_F(DeadLetterQueueTest, ReopenKeepsEntries) {
  auto q = Open();
  auto id = q->add(Letter("u"));
  ASSERT_TRUE(id.ok());
  q.reset();
  auto again = Open();
  EXPECT_EQ(again->get(*id)->user, "u");
}

}  // namespace
}  // namespace agentgate
