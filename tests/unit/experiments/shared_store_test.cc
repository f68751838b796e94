// Two ExperimentManagers on one versioned store, as two gateway instances on
// one Redis: a bandit's first sticky choice wins on both, and a store that is
// away still serves a variant.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "agentgate/experiments/experiment_manager.h"

namespace agentgate {
namespace {

// SharedStore: an in-memory versioned store (as Redis) that can be told to
// fail. Thread-safe.
class SharedStore final : public ExperimentStore {
 public:
  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view) override {
    std::lock_guard lock(mu_);
    if (failing_) return Unavailable("store away");
    specs_[spec.name] = {spec, status};
    ++writes_;
    return Status::Ok();
  }
  Status erase_experiment(std::string_view) override { return Status::Ok(); }
  Result<std::vector<WriteBatch::Sticky>> apply(const WriteBatch& batch, size_t) override {
    std::lock_guard lock(mu_);
    if (failing_) return Unavailable("store away");
    std::vector<WriteBatch::Sticky> lost;
    for (const WriteBatch::Sticky& s : batch.sticky) {
      auto [it, inserted] = sticky_.emplace(s.id + "/" + s.user, s.variant);
      if (!inserted) lost.push_back({s.id, s.user, it->second});
    }
    return lost;
  }
  Result<std::vector<OutcomeRecord>> recent_outcomes(std::string_view, size_t) override {
    return std::vector<OutcomeRecord>{};
  }
  Result<std::vector<Snapshot>> load(bool) override {
    std::lock_guard lock(mu_);
    if (failing_) return Unavailable("store away");
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
  Result<uint64_t> version() override {
    std::lock_guard lock(mu_);
    if (failing_) return Unavailable("store away");
    return uint64_t{specs_.empty() ? 1u : 2u + writes_};
  }
  // lose_everything: what a Redis restarted without its data looks like.
  void lose_everything() {
    std::lock_guard lock(mu_);
    specs_.clear();
    sticky_.clear();
    writes_ = 0;
  }
  bool has(const std::string& name) {
    std::lock_guard lock(mu_);
    return specs_.contains(name);
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
  uint64_t writes_ = 0;
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
  ASSERT_TRUE(a.load().ok());
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

TEST(SharedExperimentStore, AStoreAwayStillServesAVariant) {
  SharedStore store;
  ExperimentManager m(&store, {.seed = 1});
  ASSERT_TRUE(m.load().ok());
  ASSERT_TRUE(m.create(Bandit()).ok());
  store.set_failing(true);
  Result<Assignment> fresh = m.assign("bandit", "u2");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->in_experiment);
  Result<Assignment> again = m.assign("bandit", "u2");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->variant, fresh->variant) << "remembered here while the store is away";
}

TEST(SharedExperimentStore, AStoreThatLostItsDataGetsTheDefinitionsBack) {
  SharedStore store;
  ExperimentManager m(&store, {.seed = 1});
  ASSERT_TRUE(m.load().ok());
  ASSERT_TRUE(m.create(Bandit()).ok());
  ASSERT_TRUE(m.sync().ok());
  store.lose_everything();
  ASSERT_TRUE(m.sync().ok());
  EXPECT_TRUE(store.has("bandit")) << "written back, not read as deleted";
  EXPECT_TRUE(m.assign("bandit", "u1").ok());
}

}  // namespace
}  // namespace agentgate
