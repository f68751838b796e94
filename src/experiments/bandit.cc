#include "agentgate/experiments/bandit.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace agentgate {

namespace {

double Mean(const ArmStats& a) {
  return a.pulls == 0 ? 0 : static_cast<double>(a.successes) / static_cast<double>(a.pulls);
}

int ArgMaxMean(std::span<const ArmStats> arms) {
  int best = 0;
  for (size_t i = 1; i < arms.size(); ++i) {
    if (Mean(arms[i]) > Mean(arms[static_cast<size_t>(best)])) best = static_cast<int>(i);
  }
  return best;
}

// SampleBeta: Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
double SampleBeta(double a, double b, std::mt19937_64& rng) {
  const double x = std::gamma_distribution<double>(a, 1.0)(rng);
  const double y = std::gamma_distribution<double>(b, 1.0)(rng);
  return x + y == 0 ? 0.5 : x / (x + y);
}

}  // namespace

std::string_view BanditAlgorithmName(BanditAlgorithm a) {
  switch (a) {
    case BanditAlgorithm::kNone:
      return "none";
    case BanditAlgorithm::kEpsilonGreedy:
      return "epsilon_greedy";
    case BanditAlgorithm::kUcb1:
      return "ucb1";
    case BanditAlgorithm::kThompson:
      return "thompson";
  }
  return "none";
}

std::optional<BanditAlgorithm> ParseBanditAlgorithm(std::string_view name) {
  for (BanditAlgorithm a : {BanditAlgorithm::kNone, BanditAlgorithm::kEpsilonGreedy,
                            BanditAlgorithm::kUcb1, BanditAlgorithm::kThompson}) {
    if (name == BanditAlgorithmName(a)) return a;
  }
  return std::nullopt;
}

int ChooseArm(BanditAlgorithm algorithm, std::span<const ArmStats> arms, BanditOptions options,
              std::mt19937_64& rng) {
  assert(!arms.empty());
  const int k = static_cast<int>(arms.size());
  switch (algorithm) {
    case BanditAlgorithm::kNone:
    case BanditAlgorithm::kEpsilonGreedy: {
      if (std::uniform_real_distribution<double>(0, 1)(rng) < options.epsilon) {
        return std::uniform_int_distribution<int>(0, k - 1)(rng);
      }
      return ArgMaxMean(arms);
    }
    case BanditAlgorithm::kUcb1: {
      double total = 0;
      for (int i = 0; i < k; ++i) {
        if (arms[static_cast<size_t>(i)].pulls == 0) return i;
        total += static_cast<double>(arms[static_cast<size_t>(i)].pulls);
      }
      const double log_n = std::log(total);
      int best = 0;
      double best_score = -1;
      for (int i = 0; i < k; ++i) {
        const ArmStats& a = arms[static_cast<size_t>(i)];
        const double score = Mean(a) + std::sqrt(2 * log_n / static_cast<double>(a.pulls));
        if (score > best_score) best = i, best_score = score;
      }
      return best;
    }
    case BanditAlgorithm::kThompson: {
      int best = 0;
      double best_sample = -1;
      for (int i = 0; i < k; ++i) {
        const ArmStats& a = arms[static_cast<size_t>(i)];
        const double s = static_cast<double>(std::min(a.successes, a.pulls));
        const double f = static_cast<double>(a.pulls) - s;
        const double sample = SampleBeta(1 + s, 1 + f, rng);
        if (sample > best_sample) best = i, best_sample = sample;
      }
      return best;
    }
  }
  return 0;
}

}  // namespace agentgate
