#include "agentgate/experiments/experiment_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

TEST(ExperimentSpec, ValidationReasons) {
  struct Case {
    const char* json;
    const char* reason;
  } cases[] = {
      {R"({"name":"a","variants":["x"]})", "at least two"},
      {R"({"name":"a","variants":["x","x"]})", "duplicate"},
      {R"({"name":"a","variants":["x","y"],"traffic_split":[1]})", "1 weights for 2 variants"},
      {R"({"name":"a","variants":["x","y"],"traffic_split":[1.5,-0.5]})", "outside [0, 1]"},
      {R"({"name":"a","variants":["x","y"],"traffic_split":[0.5,0.6]})", "sum to"},
      {R"({"name":"a","variants":["x","y"],"traffic_split":[0.5,"a"]})", "array of numbers"},
      {R"({"name":"a b","variants":["x","y"]})", "name"},
      {R"({"variants":["x","y"]})", "name"},
      {R"({"name":"a","variants":["x","y"],"bandit_algorithm":"softmax"})", "bandit_algorithm"},
      {R"({"name":"a","variants":["x","y"],"epsilon":2})", "epsilon"},
      {R"({"name":"a","variants":["x","y"],"test":"t"})", "test"},
      {R"({"name":"a","variants":["x","y"],"variant_type":"system_prompt"})", "prompts"},
  };
  for (const Case& c : cases) {
    auto j = ParseJsonObject(c.json);
    ASSERT_TRUE(j.ok());
    auto s = ExperimentSpecFromJson(*j);
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.reason), std::string::npos) << s.status().message();
  }
  auto ok = ExperimentSpecFromJson(
      *ParseJsonObject(R"({"name":"a","variants":["x","y","z"],"traffic_split":[0.1,0.2,0.7]})"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->seed, "a");  // the seed defaults to the name
  auto round = ExperimentSpecFromJson(ExperimentSpecToJson(*ok));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->traffic_split, ok->traffic_split);
}

TEST(ExperimentManager, CreateRejectsBadSpecsAndStoresNothing) {
  ExperimentManager m(nullptr);
  ExperimentSpec bad = Spec();
  bad.traffic_split = {0.5, 0.4};
  EXPECT_EQ(m.create(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(m.list().empty());
  ASSERT_TRUE(m.create(Spec()).ok());
  EXPECT_EQ(m.create(Spec()).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(m.list().size(), 1u);
  EXPECT_EQ(m.get("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(m.assign("nope", "u").status().code(), StatusCode::kNotFound);
}

TEST(ExperimentManager, AssignmentIsStableAndMatchesGrowthBook) {
  ExperimentManager m(nullptr);
  ASSERT_TRUE(m.create(Spec()).ok());
  // GrowthBookHashV2("checkout", "Zoë") = 0.4951 (reference vector): first half.
  auto a = m.assign("checkout", "Zo\xC3\xAB");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->variant_name, "gpt-4o");
  auto b = m.assign("checkout",
                    "\xE7\x94\xA8\xE6\x88\xB7"
                    "123");  // 0.7837: second half
  EXPECT_EQ(b->variant_name, "gpt-4o-mini");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(m.assign("checkout", "Zo\xC3\xAB")->variant, 0);
  auto r = m.results("checkout");
  EXPECT_EQ(r->variants[0].impressions, 6u);
  EXPECT_EQ(r->variants[1].impressions, 1u);
}

TEST(ExperimentManager, SplitOver100kUsersWithinOnePercent) {
  ExperimentManager m(nullptr);
  ExperimentSpec s = Spec();
  s.variants = {"a", "b", "c"};
  s.traffic_split = {0.25, 0.25, 0.5};
  ASSERT_TRUE(m.create(s).ok());
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(m.assign("checkout", "u" + std::to_string(i)).ok());
  auto r = m.results("checkout");
  for (size_t v = 0; v < 3; ++v) {
    EXPECT_NEAR(static_cast<double>(r->variants[v].impressions) / 100000, s.traffic_split[v], 0.01);
  }
  EXPECT_FALSE(r->srm_detected);
}

TEST(ExperimentManager, ResultsOfTheDocumentedExample) {
  ExperimentManager m(nullptr);
  ASSERT_TRUE(m.create(Spec()).ok());
  for (int v = 0; v < 2; ++v) {
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(
          m.record_variant_outcome("checkout", v, i < (v == 0 ? 850 : 800), 1.0 + i % 3).ok());
    }
  }
  // Impressions come from assign(); here set them through assignments of
  // users known to land in each half.
  int need[2] = {1000, 1000};
  for (int i = 0; need[0] + need[1] > 0; ++i) {
    std::string u = "user-" + std::to_string(i);
    double h = GrowthBookHashV2("checkout", u);
    int v = h < 0.5 ? 0 : 1;
    if (need[v] == 0) continue;
    --need[v];
    ASSERT_EQ(m.assign("checkout", u)->variant, v);
  }
  auto r = m.results("checkout");
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->chi_square, 8.6580086580086580087, 1e-9 * 8.66);
  EXPECT_NEAR(r->chi_square_p, 0.0032562696284120737043, 1e-9 * 0.00326);
  EXPECT_EQ(r->test, SignificanceTest::kChiSquare);
  EXPECT_TRUE(r->significant);
  EXPECT_EQ(r->winner, "gpt-4o");
  EXPECT_DOUBLE_EQ(r->variants[0].conversion_rate, 0.85);
  EXPECT_NEAR(r->variants[0].ci_low, 0.82653134157319968718, 1e-12);
  EXPECT_NEAR(r->variants[0].value_mean, 1.999,
              1e-12);  // (333*1 + 334*2 + 333*3) / 1000 ... see below
  EXPECT_GT(r->variants[0].value_stderr, 0);
  Json j = ExperimentResultsToJson(*r);
  EXPECT_EQ(j["test"], "chi_square");
  EXPECT_EQ(j["winner"], "gpt-4o");
}

TEST(ExperimentManager, StoppedExperimentRejectsOutcomesWith409Code) {
  ExperimentManager m(nullptr);
  ASSERT_TRUE(m.create(Spec()).ok());
  ASSERT_TRUE(m.assign("checkout", "u1").ok());
  ASSERT_TRUE(m.stop("checkout").ok());
  EXPECT_EQ(m.record_outcome("checkout", "u1", true, std::nullopt).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(m.assign("checkout", "u1").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(m.get("checkout")->status, ExperimentStatus::kStopped);
  ASSERT_TRUE(m.remove("checkout").ok());
  EXPECT_EQ(m.remove("checkout").code(), StatusCode::kNotFound);
}

TEST(ExperimentManager, BanditAssignmentsAreSticky) {
  ExperimentManager m(nullptr, {.seed = 5});
  ExperimentSpec s = Spec();
  s.bandit_algorithm = BanditAlgorithm::kThompson;
  ASSERT_TRUE(m.create(s).ok());
  EXPECT_EQ(m.record_outcome("checkout", "never", true, std::nullopt).code(),
            StatusCode::kInvalidArgument);
  std::vector<int> first;
  for (int i = 0; i < 50; ++i)
    first.push_back(m.assign("checkout", "u" + std::to_string(i))->variant);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        m.record_outcome("checkout", "u" + std::to_string(i), i % 2 == 0, std::nullopt).ok());
  }
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(m.assign("checkout", "u" + std::to_string(i))->variant, first[i]);
}

TEST(ExperimentManager, AutomatedWinnerSelectionCompletesAndRoutesToWinner) {
  ExperimentManager m(nullptr);
  ExperimentSpec s = Spec();
  s.min_samples = 200;
  s.route_to_winner = true;
  ASSERT_TRUE(m.create(s).ok());
  // Variant 1 converts at 60 %, variant 0 at 20 %.
  for (int i = 0; i < 2000; ++i) {
    std::string u = "user-" + std::to_string(i);
    auto a = m.assign("checkout", u);
    if (!a.ok()) break;
    if (a->status == ExperimentStatus::kCompleted) break;
    Status st = m.record_outcome("checkout", u, (i % 5) < (a->variant == 1 ? 3 : 1), std::nullopt);
    if (!st.ok()) break;
  }
  auto info = m.get("checkout");
  EXPECT_EQ(info->status, ExperimentStatus::kCompleted);
  EXPECT_EQ(info->selected_winner, "gpt-4o-mini");
  auto r = m.results("checkout");
  EXPECT_GE(r->variants[0].impressions, 200u);
  EXPECT_GE(r->variants[1].impressions, 200u);
  EXPECT_EQ(r->selected_winner, "gpt-4o-mini");
  EXPECT_EQ(m.assign("checkout", "Zo\xC3\xAB")->variant_name,
            "gpt-4o-mini");  // would hash to gpt-4o
  EXPECT_EQ(m.record_outcome("checkout", "x", true, std::nullopt).code(),
            StatusCode::kAlreadyExists);
}

TEST(ExperimentManager, MsprtVerdictIsNamed) {
  ExperimentManager m(nullptr);
  ExperimentSpec s = Spec();
  s.test = SignificanceTest::kMsprt;
  ASSERT_TRUE(m.create(s).ok());
  for (int i = 0; i < 400; ++i) {
    std::string u = "user-" + std::to_string(i);
    auto a = m.assign("checkout", u);
    ASSERT_TRUE(
        m.record_outcome("checkout", u, (i % 10) < (a->variant == 1 ? 6 : 2), std::nullopt).ok());
  }
  auto r = m.results("checkout");
  EXPECT_EQ(r->test, SignificanceTest::kMsprt);
  EXPECT_EQ(r->p_value, r->msprt_p);
  EXPECT_TRUE(r->significant);
  EXPECT_EQ(r->winner, "gpt-4o-mini");
  EXPECT_EQ(ExperimentResultsToJson(*r)["test"], "msprt");
}

TEST(ExperimentManager, SqliteStoreSurvivesRestart) {
  const std::string dir = ::testing::TempDir() + "exp_store_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::vector<int> bandit_first;
  {
    auto db = SqliteDb::open({.data_dir = dir});
    ASSERT_TRUE(db.ok());
    auto store = OpenSqliteExperimentStore(**db);
    ASSERT_TRUE(store.ok());
    ExperimentManager m(store->get(), {.seed = 3});
    ASSERT_TRUE(m.create(Spec()).ok());
    ExperimentSpec b = Spec("bandit");
    b.bandit_algorithm = BanditAlgorithm::kEpsilonGreedy;
    b.epsilon = 1.0;  // uniform choices
    ASSERT_TRUE(m.create(b).ok());
    ASSERT_TRUE(m.create(Spec("gone")).ok());
    ASSERT_TRUE(m.remove("gone").ok());
    for (int i = 0; i < 20; ++i) {
      std::string u = "u" + std::to_string(i);
      ASSERT_TRUE(m.assign("checkout", u).ok());
      ASSERT_TRUE(m.record_outcome("checkout", u, i % 2 == 0, 0.5 * i).ok());
      bandit_first.push_back(m.assign("bandit", u)->variant);
    }
    ASSERT_TRUE(m.stop("checkout").ok());
  }
  auto db = SqliteDb::open({.data_dir = dir});
  ASSERT_TRUE(db.ok());
  auto store = OpenSqliteExperimentStore(**db);
  ASSERT_TRUE(store.ok());
  ExperimentManager m(store->get(), {.seed = 99});
  ASSERT_TRUE(m.load().ok());
  EXPECT_EQ(m.list().size(), 2u);
  EXPECT_EQ(m.get("checkout")->status, ExperimentStatus::kStopped);
  EXPECT_EQ(m.get("bandit")->spec.epsilon, 1.0);
  auto r = m.results("checkout");
  EXPECT_EQ(r->variants[0].impressions + r->variants[1].impressions, 20u);
  EXPECT_EQ(r->variants[0].conversions + r->variants[1].conversions, 10u);
  EXPECT_EQ(r->variants[0].outcomes + r->variants[1].outcomes, 20u);
  EXPECT_GT(r->variants[0].value_mean + r->variants[1].value_mean, 0);
  // Sticky bandit assignments come back (epsilon 1 and another seed would
  // otherwise choose afresh).
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(m.assign("bandit", "u" + std::to_string(i))->variant,
              bandit_first[static_cast<size_t>(i)]);
  }
  EXPECT_EQ(
      m.results("bandit")->variants[0].impressions + m.results("bandit")->variants[1].impressions,
      40u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace agentgate
