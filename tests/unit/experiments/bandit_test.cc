#include "agentgate/experiments/bandit.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

namespace agentgate {
namespace {

TEST(Bandit, NamesRoundTrip) {
  for (BanditAlgorithm a : {BanditAlgorithm::kNone, BanditAlgorithm::kEpsilonGreedy,
                            BanditAlgorithm::kUcb1, BanditAlgorithm::kThompson}) {
    EXPECT_EQ(ParseBanditAlgorithm(BanditAlgorithmName(a)), a);
  }
  EXPECT_FALSE(ParseBanditAlgorithm("softmax").has_value());
}

TEST(Bandit, Ucb1PlaysEachArmOnceThenTheUpperBound) {
  std::mt19937_64 rng(1);
  std::vector<ArmStats> arms = {{1, 1}, {0, 0}, {1, 0}};
  EXPECT_EQ(ChooseArm(BanditAlgorithm::kUcb1, arms, {}, rng), 1);
  arms = {{10, 5}, {10, 6}, {10, 1}};
  EXPECT_EQ(ChooseArm(BanditAlgorithm::kUcb1, arms, {}, rng), 1);
  // A rarely played arm wins on its bonus: 0.5 + sqrt(2 ln 102 / 2) > 0.6 + sqrt(2 ln 102 / 100).
  arms = {{2, 1}, {100, 60}};
  EXPECT_EQ(ChooseArm(BanditAlgorithm::kUcb1, arms, {}, rng), 0);
}

TEST(Bandit, EpsilonGreedyExploresAboutEpsilon) {
  std::mt19937_64 rng(7);
  std::vector<ArmStats> arms = {{100, 10}, {100, 50}};
  int worse = 0;
  for (int i = 0; i < 100000; ++i)
    worse += ChooseArm(BanditAlgorithm::kEpsilonGreedy, arms, {.epsilon = 0.1}, rng) == 0;
  EXPECT_NEAR(worse / 100000.0, 0.05, 0.005);  // half of the 10 % exploration
  EXPECT_EQ(ChooseArm(BanditAlgorithm::kEpsilonGreedy, arms, {.epsilon = 0}, rng), 1);
}

TEST(Bandit, SeededChoicesAreReproducible) {
  std::vector<ArmStats> arms = {{10, 3}, {12, 4}, {8, 2}};
  std::mt19937_64 a(99), b(99);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ChooseArm(BanditAlgorithm::kThompson, arms, {}, a),
              ChooseArm(BanditAlgorithm::kThompson, arms, {}, b));
  }
}

// Expected cumulative regret over `rounds` with true rates `p`: the sum over
// rounds of (best rate - chosen arm's rate).
double Regret(BanditAlgorithm algo, const std::vector<double>& p, int rounds, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<ArmStats> arms(p.size());
  double best = 0;
  for (double x : p) best = std::max(best, x);
  double regret = 0;
  for (int t = 0; t < rounds; ++t) {
    int arm = ChooseArm(algo, arms, {.epsilon = 0.1}, rng);
    ArmStats& a = arms[static_cast<size_t>(arm)];
    ++a.pulls;
    a.successes += std::bernoulli_distribution(p[static_cast<size_t>(arm)])(rng) ? 1 : 0;
    regret += best - p[static_cast<size_t>(arm)];
  }
  return regret;
}

// 100k rounds at 0.05 vs 0.06, averaged over 3 seeds.
TEST(Bandit, RegretSimulationThompsonBeatsEpsilonGreedy) {
  const std::vector<double> p = {0.05, 0.06};
  constexpr int kRounds = 100000;
  constexpr int kSeeds = 3;
  double eps = 0, ucb = 0, ts = 0;
  for (uint64_t s = 1; s <= kSeeds; ++s) {
    eps += Regret(BanditAlgorithm::kEpsilonGreedy, p, kRounds, s) / kSeeds;
    ucb += Regret(BanditAlgorithm::kUcb1, p, kRounds, s) / kSeeds;
    ts += Regret(BanditAlgorithm::kThompson, p, kRounds, s) / kSeeds;
  }
  std::printf(
      "[ regret ] 100k rounds, 0.05 vs 0.06, mean of %d seeds: epsilon-greedy(0.1) %.1f, UCB1 "
      "%.1f, Thompson %.1f\n",
      kSeeds, eps, ucb, ts);
  EXPECT_LT(ts, eps);
  EXPECT_LT(ts, 1000.0);  // never the worse arm all along
}

}  // namespace
}  // namespace agentgate
