// Two ExperimentManagers on one store, as two gateway instances on one Redis:
// a bandit's first sticky choice wins on both, and a failing store still
// serves a variant when asked to (the gateway stage), changing nothing.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "agentgate/experiments/experiment_manager.h"

namespace agentgate {
namespace {

// SharedStore: an in-memory store that can be told to fail. Thread-safe.
class SharedStore final : public ExperimentStore {
 public:
  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view) override {
    std::lock_guard lock(mu_);
    if (failing_) return Unavailable("store away");
    specs_[spec.name] = {spec, status};
    return Status::Ok();
  }
  Status erase_experiment(std::string_view) override { return Status::Ok(); }
  Status add_counts(std::string_view, int, const VariantCounts&) override {
    std::lock_guard lock(mu_);
    return failing_ ? Unavailable("store away") : Status::Ok();
  }
  Result<int> put_assignment(std::string_view id, std::string_view user, int variant) override {
    std::lock_guard lock(mu_);
    if (failing_) return Unavailable("store away");
    return sticky_.emplace(std::string(id) + "/" + std::string(user), variant).first->second;
  }
  Result<std::vector<Snapshot>> load() override {
    std::lock_guard lock(mu_);
    std::vector<Snapshot> out;
    for (const auto& [name, s] : specs_) {
      Snapshot snap;
      snap.spec = s.first;
      snap.status = s.second;
      snap.counts.assign(s.first.variants.size(), {});
      out.push_back(std::move(snap));
    }
    return out;
  }
  void set_failing(bool f) {
    std::lock_guard lock(mu_);
    failing_ = f;
  }

 private:
  std::mutex mu_;
  bool failing_ = false;
  std::map<std::string, std::pair<ExperimentSpec, ExperimentStatus>> specs_;
  std::map<std::string, int> sticky_;
};

ExperimentSpec Bandit() {
  ExperimentSpec s;
  s.name = "bandit";
  s.variants = {"a", "b", "c", "d"};
  s.bandit_algorithm = BanditAlgorithm::kEpsilonGreedy;
  s.epsilon = 1.0;  // uniform: two managers would disagree most of the time
  return s;
}

TEST(SharedExperimentStore, TheFirstStickyChoiceWinsOnEveryManager) {
  SharedStore store;
  ExperimentManager a(&store, {.seed = 1});
  ASSERT_TRUE(a.create(Bandit()).ok());
  ExperimentManager b(&store, {.seed = 2});
  ASSERT_TRUE(b.load().ok());
  for (int i = 0; i < 50; ++i) {
    const std::string user = "u" + std::to_string(i);
    Result<Assignment> first = (i % 2 ? a : b).assign("bandit", user);
    Result<Assignment> second = (i % 2 ? b : a).assign("bandit", user);
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(first->variant, second->variant) << user;
  }
}

TEST(SharedExperimentStore, AFailingStoreServesAVariantOnlyWhenAskedAndCountsNothing) {
  SharedStore store;
  ExperimentManager m(&store, {.seed = 1});
  ExperimentSpec hashed = Bandit();
  hashed.name = "hashed";
  hashed.bandit_algorithm = BanditAlgorithm::kNone;
  ASSERT_TRUE(m.create(hashed).ok());
  ASSERT_TRUE(m.create(Bandit()).ok());
  Result<Assignment> before = m.assign("hashed", "u1");
  ASSERT_TRUE(before.ok());
  store.set_failing(true);
  EXPECT_EQ(m.assign("hashed", "u1").status().code(), StatusCode::kUnavailable);
  Result<Assignment> served = m.assign("hashed", "u1", /*serve_on_store_error=*/true);
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(served->variant, before->variant);
  EXPECT_EQ(served->store_error.code(), StatusCode::kUnavailable);
  Result<Assignment> fresh = m.assign("bandit", "u2", /*serve_on_store_error=*/true);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->in_experiment);
  EXPECT_FALSE(fresh->store_error.ok());
  Result<ExperimentResults> r = m.results("hashed");
  ASSERT_TRUE(r.ok());
  uint64_t impressions = 0;
  for (const auto& v : r->variants) impressions += v.impressions;
  EXPECT_EQ(impressions, 1u) << "only the assignment made while the store worked";
}

}  // namespace
}  // namespace agentgate
