// Bandit policies: which arm (variant) a new user gets, from the counts so
// far. Randomness comes from the caller's generator, so a seeded generator
// makes every choice reproducible.
//
//   std::mt19937_64 rng(42);
//   int arm = ChooseArm(BanditAlgorithm::kThompson, arms, {}, rng);
//
// Thread-safety: pure functions; the generator is the caller's.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string_view>

namespace agentgate {

// BanditAlgorithm: how an experiment assigns new users.
enum class BanditAlgorithm {
  kNone,           // no bandit: GrowthBook hashing over the traffic split
  kEpsilonGreedy,  // explore a uniform arm with probability epsilon, else the best mean
  kUcb1,           // play each arm once, then argmax mean + sqrt(2 ln n / n_j)
  kThompson,       // sample Beta(1 + successes, 1 + failures) per arm, take the max
};

// BanditAlgorithmName: "none", "epsilon_greedy", "ucb1", "thompson".
std::string_view BanditAlgorithmName(BanditAlgorithm a);
// ParseBanditAlgorithm: the inverse of BanditAlgorithmName; nullopt if unknown.
std::optional<BanditAlgorithm> ParseBanditAlgorithm(std::string_view name);

// ArmStats: what the policy knows about one arm.
struct ArmStats {
  uint64_t pulls = 0;      // times chosen (impressions)
  uint64_t successes = 0;  // conversions; <= pulls
};

struct BanditOptions {
  // epsilon: exploration probability of epsilon-greedy. Default 0.1.
  double epsilon = 0.1;
};

// ChooseArm: the arm index chosen by `algorithm` (REQUIRES: arms non-empty,
// algorithm != kNone). Ties go to the lowest index.
int ChooseArm(BanditAlgorithm algorithm, std::span<const ArmStats> arms, BanditOptions options,
              std::mt19937_64& rng);

}  // namespace agentgate
