// ExperimentManager's writes: targets (route / model alias), the outcome log
// with metadata, write-behind batching with durable outcomes, and what a
// failing store changes (nothing acknowledged is lost; nothing failed is
// counted). The store is the real SQLite one, in a temporary directory,
// wrapped so that a test can make its writes fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "agentgate/experiments/experiment_manager.h"
#include "experiments/sqlite_experiment_store.h"
#include "store/sqlite_db.h"

namespace agentgate {
namespace {

ExperimentSpec Spec(std::string name = "checkout") {
  ExperimentSpec s;
  s.name = std::move(name);
  s.variants = {"gpt-4o", "gpt-4o-mini"};
  s.traffic_split = {0.5, 0.5};
  return s;
}

// FlakyStore: the SQLite store whose batches fail while `failing` is set.
class FlakyStore final : public ExperimentStore {
 public:
  explicit FlakyStore(ExperimentStore& inner) : inner_(inner) {}
  std::atomic<bool> failing{false};
  std::atomic<int> batches{0};

  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view winner) override {
    return inner_.put_experiment(spec, status, winner);
  }
  Status erase_experiment(std::string_view id) override { return inner_.erase_experiment(id); }
  Result<std::vector<WriteBatch::Sticky>> apply(const WriteBatch& batch, size_t n) override {
    if (failing) return Unavailable("store down (test)");
    ++batches;
    return inner_.apply(batch, n);
  }
  Result<std::vector<OutcomeRecord>> recent_outcomes(std::string_view id, size_t limit) override {
    return inner_.recent_outcomes(id, limit);
  }
  Result<std::vector<Snapshot>> load(bool with_sticky) override { return inner_.load(with_sticky); }

 private:
  ExperimentStore& inner_;
};

class ExperimentWrites : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "exp_writes_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    Open();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    auto db = SqliteDb::open({.data_dir = dir_});
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto store = OpenSqliteExperimentStore(*db_);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }
  // Stored: what a fresh manager on the same file reads back.
  ExperimentResults Stored(const std::string& id) {
    ExperimentManager m(store_.get(), {.seed = 1, .write_behind = false});
    EXPECT_TRUE(m.load().ok());
    auto r = m.results(id);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : ExperimentResults{};
  }
  static uint64_t Impressions(const ExperimentResults& r) {
    uint64_t n = 0;
    for (const VariantResult& v : r.variants) n += v.impressions;
    return n;
  }
  static uint64_t Outcomes(const ExperimentResults& r) {
    uint64_t n = 0;
    for (const VariantResult& v : r.variants) n += v.outcomes;
    return n;
  }

  std::string dir_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<ExperimentStore> store_;
};

TEST(ExperimentTarget, ParsesValidatesAndRoundTrips) {
  auto parse = [](const std::string& target) {
    return ExperimentSpecFromJson(Json::parse(R"({"name":"t","variants":["a","b"],"target":)" +
                                              target + "}"));
  };
  auto ok = parse(R"({"route":"/v1/chat/completions"})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->target_route, "/v1/chat/completions");
  EXPECT_EQ(ok->target_model, "");
  auto both = parse(R"({"route":"/v1/completions","model":"ab-model"})");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->target_model, "ab-model");
  // The stored form parses back to the same spec.
  auto again = ExperimentSpecFromJson(ExperimentSpecToJson(*both));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->target_route, "/v1/completions");
  EXPECT_EQ(again->target_model, "ab-model");
  EXPECT_EQ(ExperimentSpecToJson(*both)["target"]["route"], "/v1/completions");

  struct Bad {
    std::string target, reason;
  };
  for (const Bad& b : std::vector<Bad>{
           {R"({"route":"/v1/models"})", "target.route: expected /v1/chat/completions"},
           {R"({"route":""})", "target.route"},
           {R"({"model":""})", "target.model"},
           {R"({"model":7})", "target.model"},
           {R"({})", "expected route, model or both"},
           {R"("gpt-4o")", "target: expected an object"},
           {R"({"path":"/v1/chat/completions"})", "unknown field 'path'"},
           {R"({"model":")" + std::string(300, 'm') + R"("})", "target.model"}}) {
    auto r = parse(b.target);
    ASSERT_FALSE(r.ok()) << b.target;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(b.reason), std::string::npos) << r.status().message();
  }
  auto prompt = ExperimentSpecFromJson(Json::parse(
      R"({"name":"p","variants":["a","b"],"variant_type":"system_prompt","prompts":["x","y"],)"
      R"("target":{"route":"/v1/embeddings"}})"));
  ASSERT_FALSE(prompt.ok());
  EXPECT_NE(prompt.status().message().find("chat/completions only"), std::string::npos);
  auto conflict = ExperimentSpecFromJson(Json::parse(
      R"({"name":"c","variants":["a","b"],"target_model":"x","target":{"model":"y"}})"));
  ASSERT_FALSE(conflict.ok());
  EXPECT_NE(conflict.status().message().find("target_model"), std::string::npos);
}

TEST(ExperimentTarget, RequestsMatchEveryTargetGiven) {
  ExperimentManager m(nullptr, {.seed = 1});
  ExperimentSpec route = Spec("by-route");
  route.target_route = "/v1/chat/completions";
  ExperimentSpec model = Spec("by-model");
  model.target_model = "ab-model";
  ExperimentSpec both = Spec("a-both");  // first by name when several match
  both.target_route = "/v1/completions";
  both.target_model = "ab-model";
  ASSERT_TRUE(m.create(route).ok());
  ASSERT_TRUE(m.create(model).ok());
  ASSERT_TRUE(m.create(both).ok());
  ASSERT_TRUE(m.create(Spec("api-only")).ok());
  EXPECT_EQ(m.experiment_for_request("/v1/chat/completions", "gpt-4o")->id, "by-route");
  EXPECT_EQ(m.experiment_for_request("/v1/chat/completions", "ab-model")->id, "by-model");
  EXPECT_EQ(m.experiment_for_request("/v1/completions", "ab-model")->id, "a-both");
  EXPECT_EQ(m.experiment_for_request("/v1/embeddings", "ab-model")->id, "by-model");
  EXPECT_FALSE(m.experiment_for_request("/v1/embeddings", "gpt-4o").has_value());
  ASSERT_TRUE(m.stop("by-route").ok());
  EXPECT_FALSE(m.experiment_for_request("/v1/chat/completions", "gpt-4o").has_value());
}

TEST_F(ExperimentWrites, OutcomeLogKeepsMetadataNewestFirstAndBounded) {
  ExperimentManager m(store_.get(), {.seed = 1, .outcome_log_size = 5});
  ASSERT_TRUE(m.create(Spec()).ok());
  for (int i = 0; i < 8; ++i) {
    std::string u = "u" + std::to_string(i);
    ASSERT_TRUE(m.assign("checkout", u).ok());
    ASSERT_TRUE(m.record_outcome("checkout", u, i % 2 == 0, 1.5 * i,
                                 R"({"page":"cart","n":)" + std::to_string(i) + "}")
                    .ok());
  }
  auto log = m.recent_outcomes("checkout", 100);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 5u);  // bounded
  EXPECT_EQ((*log)[0].user, "u7");  // newest first
  EXPECT_EQ(Json::parse((*log)[0].metadata)["n"], 7);
  EXPECT_EQ(Json::parse((*log)[4].metadata)["page"], "cart");
  EXPECT_EQ((*log)[0].value, 10.5);
  EXPECT_FALSE((*log)[0].success);
  EXPECT_EQ((*log)[0].variant_name, m.assign("checkout", "u7")->variant_name);
  EXPECT_EQ(m.recent_outcomes("checkout", 2)->size(), 2u);
  EXPECT_EQ(m.recent_outcomes("nope", 2).status().code(), StatusCode::kNotFound);

  // Bad metadata is refused and counts nothing.
  const uint64_t before = Outcomes(*m.results("checkout"));
  EXPECT_EQ(m.record_outcome("checkout", "u1", true, std::nullopt, "[1,2]").code(),
            StatusCode::kInvalidArgument);
  const std::string big = R"({"k":")" + std::string(kMaxOutcomeMetadataBytes, 'x') + R"("})";
  Status too_big = m.record_outcome("checkout", "u1", true, std::nullopt, big);
  EXPECT_EQ(too_big.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.message().find("at most"), std::string::npos);
  EXPECT_EQ(Outcomes(*m.results("checkout")), before);
  EXPECT_EQ(m.recent_outcomes("checkout", 100)->size(), 5u);
  // Deleting the experiment deletes its log.
  ASSERT_TRUE(m.remove("checkout").ok());
  EXPECT_TRUE(store_->recent_outcomes("checkout", 10)->empty());
}

TEST(ExperimentOutcomeLog, MemoryOnlyManagerKeepsItInMemory) {
  ExperimentManager m(nullptr, {.seed = 1, .outcome_log_size = 3});
  ASSERT_TRUE(m.create(Spec()).ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(
        m.record_outcome("checkout", "u" + std::to_string(i), true, std::nullopt, R"({"a":1})")
            .ok());
  }
  auto log = m.recent_outcomes("checkout", 10);
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ((*log)[0].user, "u3");
}

TEST_F(ExperimentWrites, AcknowledgedOutcomesAreStoredImpressionsAfterAFlush) {
  // A flush interval no test waits out: only flush() and outcomes write.
  ExperimentManager m(store_.get(), {.seed = 1, .flush_interval = std::chrono::hours(1)});
  ExperimentSpec bandit = Spec("bandit");
  bandit.bandit_algorithm = BanditAlgorithm::kEpsilonGreedy;
  bandit.epsilon = 1;
  ASSERT_TRUE(m.create(Spec()).ok());
  ASSERT_TRUE(m.create(bandit).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(m.assign("checkout", "u" + std::to_string(i)).ok());
    ASSERT_TRUE(m.assign("bandit", "u" + std::to_string(i)).ok());
    ASSERT_TRUE(m.record_variant_outcome("checkout", i % 2, true, 3.0).ok());
  }
  // Counted in memory at once.
  EXPECT_EQ(Impressions(*m.results("checkout")), 10u);
  EXPECT_EQ(Outcomes(*m.results("checkout")), 10u);
  // record_outcome returns once written: stored without any flush.
  ASSERT_TRUE(m.record_outcome("checkout", "u1", true, 1.0, R"({"x":1})").ok());
  EXPECT_EQ(Outcomes(*m.results("checkout")), 11u);
  const ExperimentResults early = Stored("checkout");
  EXPECT_GE(Outcomes(early), 1u);
  EXPECT_EQ(store_->recent_outcomes("checkout", 10)->size(), 1u);
  // flush() writes everything counted before it, sticky choices included.
  ASSERT_TRUE(m.flush().ok());
  const ExperimentResults stored = Stored("checkout");
  EXPECT_EQ(Impressions(stored), 10u);
  EXPECT_EQ(Outcomes(stored), 11u);
  auto snaps = store_->load(true);
  ASSERT_TRUE(snaps.ok());
  size_t sticky = 0;
  for (const auto& s : *snaps) sticky += s.sticky.size();
  EXPECT_EQ(sticky, 10u);
}

TEST_F(ExperimentWrites, AFailingStoreLosesNoAcknowledgedOutcomeAndCountsNoFailedOne) {
  FlakyStore flaky(*store_);
  {
    ExperimentManager m(&flaky, {.seed = 1, .flush_interval = std::chrono::hours(1)});
    ASSERT_TRUE(m.create(Spec()).ok());
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(m.assign("checkout", "u" + std::to_string(i)).ok());
    ASSERT_TRUE(m.record_outcome("checkout", "u0", true, std::nullopt).ok());
    flaky.failing = true;
    Status failed = m.record_outcome("checkout", "u1", true, std::nullopt);
    EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
    EXPECT_EQ(Outcomes(*m.results("checkout")), 1u);  // the refused one is not counted
    for (int i = 6; i < 9; ++i) ASSERT_TRUE(m.assign("checkout", "u" + std::to_string(i)).ok());
    EXPECT_FALSE(m.flush().ok());  // impressions stay queued
    EXPECT_EQ(Impressions(*m.results("checkout")), 9u);
    flaky.failing = false;
    ASSERT_TRUE(m.flush().ok());  // the retry writes them
  }
  const ExperimentResults stored = Stored("checkout");
  EXPECT_EQ(Impressions(stored), 9u);
  EXPECT_EQ(Outcomes(stored), 1u);
}

TEST_F(ExperimentWrites, DestructionFlushesAndRemoveDropsPendingWrites) {
  {
    ExperimentManager m(store_.get(), {.seed = 1, .flush_interval = std::chrono::hours(1)});
    ASSERT_TRUE(m.create(Spec()).ok());
    ASSERT_TRUE(m.create(Spec("gone")).ok());
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(m.assign("checkout", "u" + std::to_string(i)).ok());
      ASSERT_TRUE(m.assign("gone", "u" + std::to_string(i)).ok());
    }
    ASSERT_TRUE(m.remove("gone").ok());
  }  // the destructor writes the last batch
  EXPECT_EQ(Impressions(Stored("checkout")), 7u);
  auto snaps = store_->load(true);
  ASSERT_TRUE(snaps.ok());
  EXPECT_EQ(snaps->size(), 1u);
  // Created again under the same name: it starts from zero.
  ExperimentManager m(store_.get(), {.seed = 1});
  ASSERT_TRUE(m.load().ok());
  ASSERT_TRUE(m.create(Spec("gone")).ok());
  EXPECT_EQ(Impressions(*m.results("gone")), 0u);
}

// Threads assigning and recording while the background thread writes batches
// (and a test thread forces more flushes): every count reaches the store
// exactly once. In TSAN_FILTER through its name.
TEST_F(ExperimentWrites, ConcurrentAssignRecordAndFlushLoseNothing) {
  constexpr int kThreads = 4, kUsers = 1500;
  {
    ExperimentManager m(store_.get(), {.seed = 1, .flush_interval = std::chrono::milliseconds(1)});
    ASSERT_TRUE(m.create(Spec()).ok());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kUsers; ++i) {
          const std::string u = "t" + std::to_string(t) + "-" + std::to_string(i);
          auto a = m.assign("checkout", u);
          if (!a.ok()) ++failures;
          if (i % 10 == 0) {  // durable, through the queue
            if (!m.record_outcome("checkout", u, true, 1.0, R"({"t":1})").ok()) ++failures;
          } else if (a.ok() && !m.record_variant_outcome("checkout", a->variant, i % 3 == 0, 2.0)
                                     .ok()) {
            ++failures;
          }
        }
      });
    }
    for (int i = 0; i < 20; ++i) (void)m.flush();
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    ASSERT_TRUE(m.flush().ok());
    const ExperimentResults mem = *m.results("checkout");
    EXPECT_EQ(Impressions(mem), static_cast<uint64_t>(kThreads * kUsers));
    EXPECT_EQ(Outcomes(mem), static_cast<uint64_t>(kThreads * kUsers));
  }
  const ExperimentResults stored = Stored("checkout");
  EXPECT_EQ(Impressions(stored), static_cast<uint64_t>(kThreads * kUsers));
  EXPECT_EQ(Outcomes(stored), static_cast<uint64_t>(kThreads * kUsers));
  EXPECT_EQ(store_->recent_outcomes("checkout", 100000)->size(),
            static_cast<size_t>(kThreads * kUsers / 10));
}

}  // namespace
}  // namespace agentgate
