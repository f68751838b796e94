#include "resilience/dead_letter_queue.h"

#include <gtest/gtest.h>

#include "unit/resilience/dead_letter_queue_contract.h"

namespace agentgate {
namespace {

using testing::Await;
using testing::Letter;

class SqliteDeadLetterQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::open_memory();
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }
  std::unique_ptr<DeadLetterQueue> Open(int64_t max_entries = 100) {
    auto q = OpenSqliteDeadLetterQueue(*db_, clock_, &metrics_, {.max_entries = max_entries});
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(*q) : nullptr;
  }

  ManualClock clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteDb> db_;
};

TEST_F(SqliteDeadLetterQueueTest, AddGetListRemoveReplay) {
  testing::ExpectAddGetListRemoveReplay(*Open(), 1767225600000);
}

TEST_F(SqliteDeadLetterQueueTest, BoundedDropsOldestAndCountsThem) {
  testing::ExpectBoundedDropsOldest(*Open(3), metrics_);
}

TEST_F(SqliteDeadLetterQueueTest, SecretsAreScrubbedFromTheBody) {
  testing::ExpectSecretsScrubbed(*Open());
  EXPECT_EQ(ScrubSecrets("not json"), "not json");
}

TEST_F(SqliteDeadLetterQueueTest, ReopenKeepsEntries) {
  auto q = Open();
  auto id = Await(q->add(Letter("u")));
  ASSERT_TRUE(id.ok());
  q.reset();
  auto again = Open();
  EXPECT_EQ(Await(again->get(*id))->user, "u");
}

}  // namespace
}  // namespace agentgate
