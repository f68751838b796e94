// Statistics for experiments: the tests a data scientist expects on a
// variants x {converted, not converted} table, computed with Boost.Math.
//
//   ChiSquareResult r = ChiSquareTest({{850, 1000}, {800, 1000}}, {});
//   // r.statistic 8.658..., r.df 1, r.p_value 0.003256...
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

namespace agentgate {

// ConversionCounts: one row of the table.
struct ConversionCounts {
  uint64_t conversions = 0;  // converted
  uint64_t trials = 0;       // exposed (impressions); conversions <= trials
};

struct ChiSquareOptions {
  // yates: apply Yates' continuity correction (2x2 tables only: ignored
  // otherwise). Each |O - E| is reduced by 0.5, not below 0 (as SciPy's
  // chi2_contingency does). Default false.
  bool yates = false;
};

struct ChiSquareResult {
  double statistic = 0;  // Pearson's X^2 (Yates-corrected when applied)
  int df = 0;            // degrees of freedom: rows - 1
  double p_value = 1;    // P(X^2_df >= statistic), from the chi-square distribution
  bool yates = false;    // the correction was applied
  // valid: false when the test is undefined (fewer than 2 rows with trials,
  // or nobody or everybody converted): statistic 0, p_value 1.
  bool valid = false;
};

// ChiSquareTest: Pearson's chi-square test of independence between the row
// (variant) and the outcome, over the rows with at least one trial.
ChiSquareResult ChiSquareTest(std::span<const ConversionCounts> rows, ChiSquareOptions options);

// GoodnessOfFit: chi-square goodness of fit of `observed` counts against the
// `expected` proportions (summing to 1), df = categories with expected > 0,
// minus 1. Used for the sample-ratio-mismatch check.
struct GoodnessOfFitResult {
  double statistic = 0;
  int df = 0;
  double p_value = 1;
};
GoodnessOfFitResult GoodnessOfFit(std::span<const uint64_t> observed,
                                  std::span<const double> expected);

// kSrmThreshold: a sample ratio mismatch is flagged when the goodness-of-fit
// p-value is below this.
inline constexpr double kSrmThreshold = 0.001;

// Interval: a two-sided confidence interval.
struct Interval {
  double low = 0;
  double high = 0;
};

// WilsonInterval: the Wilson score interval for a proportion successes /
// trials at confidence `level` (default 95 %). [0, 1] when trials == 0.
Interval WilsonInterval(uint64_t successes, uint64_t trials, double level = 0.95);

// RunningMoments: count, mean and variance of a stream of values, updated in
// O(1) (Welford). Thread-safety: not synchronized.
class RunningMoments {
 public:
  void add(double x);
  // restore: sets the state from stored count / mean / m2 (sum of squared
  // deviations from the mean).
  void restore(uint64_t count, double mean, double m2);
  uint64_t count() const { return count_; }
  double mean() const { return mean_; }
  double m2() const { return m2_; }
  // variance: the sample variance (n - 1 denominator); 0 for n < 2.
  double variance() const;
  // standard_error: sqrt(variance / n); 0 for n < 2.
  double standard_error() const;

 private:
  uint64_t count_ = 0;
  double mean_ = 0;
  double m2_ = 0;
};

// Mixture sequential probability ratio test (mSPRT) for the difference of
// two conversion rates, always valid under continuous monitoring.
//
// Source: Johari, Koomen, Pekelis, Walsh, "Always Valid Inference: Continuous
// Monitoring of A/B Tests", Operations Research 70(3), 2022 (arXiv:1512.04922):
// the two-stream normal mSPRT with mixing distribution H = N(0, tau^2),
//     Lambda_n = sqrt(2s^2 / (2s^2 + n tau^2))
//                * exp(n^2 tau^2 (Ybar_n - Xbar_n)^2 / (4 s^2 (2s^2 + n tau^2))),
// applied to Bernoulli outcomes by the normal approximation. With the
// observed difference d = p_b - p_a and its variance under H0 estimated from
// the pooled rate p = (c_a + c_b) / (n_a + n_b),
//     V = p (1 - p) (1 / n_a + 1 / n_b),
// the mixture likelihood ratio against theta = 0 is
//     Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2))).
// (the same expression with V = 2 s^2 / n, written for unequal arms). The
// variance is estimated, so validity is asymptotic (the A/A simulation in
// tests/unit/experiments/statistics_test.cc measures it). H0 is rejected at level
// alpha the first time Lambda >= 1 / alpha; the always-valid p-value is the
// running minimum of min(1, 1 / Lambda) over every look.
struct MsprtOptions {
  // tau: standard deviation of the mixing distribution, on the scale of the
  // difference in conversion rate (0.02 = two percentage points): the effect
  // size the test is most sensitive to. Default 0.02.
  double tau = 0.02;
};

// MsprtLikelihoodRatio: Lambda for control `a` against treatment `b`; 1 (no
// evidence) while either arm has no trials or V is 0.
double MsprtLikelihoodRatio(ConversionCounts a, ConversionCounts b, MsprtOptions options);

// SequentialTest: the always-valid p-value of one comparison as it is looked
// at repeatedly. Thread-safety: not synchronized.
class SequentialTest {
 public:
  explicit SequentialTest(MsprtOptions options = {}) : options_(options) {}
  // look: updates the running p-value with the current counts; returns it.
  double look(ConversionCounts a, ConversionCounts b);
  double p_value() const { return p_value_; }
  void reset() { p_value_ = 1; }
  void restore(double p_value) { p_value_ = p_value; }

 private:
  MsprtOptions options_;
  double p_value_ = 1;
};

}  // namespace agentgate
