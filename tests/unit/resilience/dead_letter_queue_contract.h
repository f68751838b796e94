// The behaviour every DeadLetterQueue store must have, run by the SQLite
// store's unit tests and the Redis store's integration tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "agentgate/core/json.h"
#include "resilience/dead_letter_queue.h"
#include "support/await.h"

namespace agentgate::testing {

inline DeadLetter Letter(std::string user, std::string upstream = "a") {
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

// ExpectAddGetListRemoveReplay: `q` empty; its clock reads `now_ms`.
inline void ExpectAddGetListRemoveReplay(DeadLetterQueue& q, int64_t now_ms) {
  auto id1 = Await(q.add(Letter("u1")));
  auto id2 = Await(q.add(Letter("u2", "b")));
  ASSERT_TRUE(id1.ok() && id2.ok()) << id1.status().ToString();
  EXPECT_GT(*id2, *id1);
  auto d = Await(q.get(*id1));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->id, *id1);
  EXPECT_EQ(d->user, "u1");
  EXPECT_EQ(d->upstream, "a");
  EXPECT_EQ(d->model, "m");
  EXPECT_EQ(d->function, "/v1/chat/completions");
  EXPECT_EQ(d->attempts, 3);
  EXPECT_EQ(d->error_class, "RECOVERABLE");
  EXPECT_EQ(d->error, "upstream answered 500");
  EXPECT_EQ(d->status, 500);
  EXPECT_FALSE(d->stream);
  EXPECT_EQ(d->time_ms, now_ms);
  auto all = Await(q.list({}));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, *id2);  // newest first
  auto only_b = Await(q.list({.upstream = "b"}));
  ASSERT_EQ(only_b->size(), 1u);
  EXPECT_EQ((*only_b)[0].user, "u2");
  EXPECT_EQ(Await(q.list({.user = "u1", .error_class = "CRITICAL"}))->size(), 0u);
  auto page = Await(q.list({.before_id = *id2, .limit = 1}));
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, *id1);

  ASSERT_TRUE(Await(q.record_replay(*id1, 200)).ok());
  EXPECT_EQ(Await(q.get(*id1))->replays, 1);
  EXPECT_EQ(Await(q.get(*id1))->last_replay_status, 200);
  EXPECT_TRUE(Await(q.remove(*id1)).ok());
  EXPECT_EQ(Await(q.remove(*id1)).code(), StatusCode::kNotFound);
  EXPECT_EQ(Await(q.get(*id1)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Await(q.record_replay(*id1, 200)).code(), StatusCode::kNotFound);
  EXPECT_EQ(*Await(q.size()), 1);
}

// ExpectBoundedDropsOldest: `q` empty with max_entries 3 and `metrics`.
inline void ExpectBoundedDropsOldest(DeadLetterQueue& q, const MetricsRegistry& metrics) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Await(q.add(Letter("u" + std::to_string(i)))).ok());
  EXPECT_EQ(*Await(q.size()), 3);
  auto all = Await(q.list({}));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->front().user, "u4");
  EXPECT_EQ(all->back().user, "u2");
  EXPECT_EQ(metrics.value("agentgate_dlq_dropped_total"), 2);
  EXPECT_EQ(metrics.value("agentgate_dlq_added_total"), 5);
}

// ExpectSecretsScrubbed: `q` any.
inline void ExpectSecretsScrubbed(DeadLetterQueue& q) {
  DeadLetter d = Letter("u");
  d.body = R"({"model":"m","api_key":"sk-1","metadata":{"Authorization":"Bearer x",)"
           R"("tools":[{"password":"p","name":"n"}]}})";
  auto id = Await(q.add(d));
  ASSERT_TRUE(id.ok());
  std::string body = Await(q.get(*id))->body;
  EXPECT_EQ(body.find("sk-1"), std::string::npos);
  EXPECT_EQ(body.find("Bearer x"), std::string::npos);
  EXPECT_EQ(body.find("\"p\""), std::string::npos);
  Json j = Json::parse(body);
  EXPECT_EQ(j["metadata"]["tools"][0]["name"], "n");
  EXPECT_EQ(j["api_key"], "[REDACTED]");
}

}  // namespace agentgate::testing
