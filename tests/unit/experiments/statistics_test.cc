#include "agentgate/experiments/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace agentgate {
namespace {

// Reference values: computed once with mpmath (40 digits; the p-value as the
// regularized upper incomplete gamma Q(df/2, x/2)), independently of Boost.
void ExpectRel(double actual, double expected, double rel = 1e-9) {
  EXPECT_NEAR(actual, expected, std::abs(expected) * rel) << "expected " << expected;
}

TEST(ChiSquare, TwoByTwoDocumentedExample) {
  const ConversionCounts t[] = {{850, 1000}, {800, 1000}};
  ChiSquareResult r = ChiSquareTest(t, {});
  ASSERT_TRUE(r.valid);
  EXPECT_EQ(r.df, 1);
  EXPECT_FALSE(r.yates);
  ExpectRel(r.statistic, 8.6580086580086580087);
  ExpectRel(r.p_value, 0.0032562696284120737043);
  ChiSquareResult y = ChiSquareTest(t, {.yates = true});
  EXPECT_TRUE(y.yates);
  ExpectRel(y.statistic, 8.3151515151515151515);
  ExpectRel(y.p_value, 0.0039315724322352459102);
}

TEST(ChiSquare, SmallCounts) {
  const ConversionCounts t[] = {{3, 10}, {8, 10}};
  ChiSquareResult r = ChiSquareTest(t, {});
  ExpectRel(r.statistic, 5.0505050505050505051);
  ExpectRel(r.p_value, 0.024618761380815178079);
  ChiSquareResult y = ChiSquareTest(t, {.yates = true});
  ExpectRel(y.statistic, 3.2323232323232323232);
  ExpectRel(y.p_value, 0.072198197701657619459);
}

TEST(ChiSquare, ThreeAndFourRows) {
  const ConversionCounts t3[] = {{120, 1000}, {150, 1000}, {135, 1000}};
  ChiSquareResult r = ChiSquareTest(t3, {.yates = true});  // Yates ignored beyond 2x2
  EXPECT_FALSE(r.yates);
  EXPECT_EQ(r.df, 2);
  ExpectRel(r.statistic, 3.8535645472061657033);
  ExpectRel(r.p_value, 0.14561599789498302903);
  const ConversionCounts small[] = {{1, 5}, {4, 5}, {2, 5}};
  ChiSquareResult s = ChiSquareTest(small, {});
  ExpectRel(s.statistic, 3.75);
  ExpectRel(s.p_value, 0.1533549668449284633);
  const ConversionCounts t4[] = {{5, 100}, {12, 100}, {9, 100}, {20, 100}};
  ChiSquareResult f = ChiSquareTest(t4, {});
  EXPECT_EQ(f.df, 3);
  ExpectRel(f.statistic, 11.888970768852861705);
  ExpectRel(f.p_value, 0.0077733406025185485305);
}

TEST(ChiSquare, DegenerateTables) {
  const ConversionCounts equal[] = {{10, 1000}, {10, 1000}};
  ChiSquareResult e = ChiSquareTest(equal, {});
  EXPECT_TRUE(e.valid);
  EXPECT_EQ(e.statistic, 0);
  EXPECT_EQ(e.p_value, 1);
  const ConversionCounts none[] = {{0, 10}, {0, 10}};
  EXPECT_FALSE(ChiSquareTest(none, {}).valid);
  const ConversionCounts one[] = {{3, 10}, {0, 0}};
  ChiSquareResult o = ChiSquareTest(one, {});
  EXPECT_FALSE(o.valid);
  EXPECT_EQ(o.p_value, 1);
}

TEST(GoodnessOfFit, SampleRatioMismatch) {
  const uint64_t even[] = {5000, 5000};
  const double half[] = {0.5, 0.5};
  EXPECT_EQ(GoodnessOfFit(even, half).p_value, 1);
  const uint64_t slight[] = {5100, 4900};
  GoodnessOfFitResult s = GoodnessOfFit(slight, half);
  ExpectRel(s.statistic, 4.0);
  ExpectRel(s.p_value, 0.045500263896358414401);
  EXPECT_GE(s.p_value, kSrmThreshold);
  const uint64_t bad[] = {5200, 4800};
  GoodnessOfFitResult b = GoodnessOfFit(bad, half);
  ExpectRel(b.statistic, 16.0);
  ExpectRel(b.p_value, 0.000063342483666239842508);
  EXPECT_LT(b.p_value, kSrmThreshold);
  const uint64_t uneven[] = {2950, 7050};
  const double split[] = {0.3, 0.7};
  GoodnessOfFitResult u = GoodnessOfFit(uneven, split);
  ExpectRel(u.statistic, 1.1904761904761904762);
  ExpectRel(u.p_value, 0.27523352407483430776);
}

TEST(Wilson, Intervals) {
  Interval a = WilsonInterval(850, 1000);
  ExpectRel(a.low, 0.82653134157319968718);
  ExpectRel(a.high, 0.87078992748691172593);
  Interval z = WilsonInterval(0, 10);
  EXPECT_NEAR(z.low, 0, 1e-15);
  ExpectRel(z.high, 0.27753279986288925272);
  Interval f = WilsonInterval(10, 10);
  ExpectRel(f.low, 0.72246720013711074728);
  EXPECT_NEAR(f.high, 1, 1e-15);
  Interval s = WilsonInterval(3, 7);
  ExpectRel(s.low, 0.15821985525146968843);
  ExpectRel(s.high, 0.74954163547234280525);
  Interval none = WilsonInterval(0, 0);
  EXPECT_EQ(none.low, 0);
  EXPECT_EQ(none.high, 1);
}

TEST(RunningMoments, MeanAndStandardError) {
  RunningMoments m;
  for (double x : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) m.add(x);
  EXPECT_EQ(m.count(), 8u);
  EXPECT_DOUBLE_EQ(m.mean(), 5.0);
  EXPECT_NEAR(m.variance(), 32.0 / 7.0, 1e-12);
  EXPECT_NEAR(m.standard_error(), std::sqrt(32.0 / 7.0 / 8.0), 1e-12);
  RunningMoments r;
  r.restore(m.count(), m.mean(), m.m2());
  EXPECT_DOUBLE_EQ(r.standard_error(), m.standard_error());
}

TEST(Msprt, LikelihoodRatioReferences) {
  ExpectRel(MsprtLikelihoodRatio({850, 1000}, {800, 1000}, {.tau = 0.02}), 8.0001776447007714023);
  ExpectRel(MsprtLikelihoodRatio({50, 1000}, {60, 1000}, {.tau = 0.02}), 0.66531196213753409983);
  ExpectRel(MsprtLikelihoodRatio({500, 10000}, {600, 10000}, {.tau = 0.01}), 23.943952477549215284);
  EXPECT_EQ(MsprtLikelihoodRatio({0, 0}, {1, 10}, {}), 1);
  EXPECT_EQ(MsprtLikelihoodRatio({0, 10}, {0, 10}, {}), 1);
  SequentialTest t({.tau = 0.02});
  EXPECT_NEAR(t.look({850, 1000}, {800, 1000}), 1 / 8.0001776447007714023, 1e-12);
  // The always-valid p-value never goes back up.
  EXPECT_NEAR(t.look({10, 1000}, {10, 1000}), 1 / 8.0001776447007714023, 1e-12);
}

// A/A test under continuous peeking: both arms convert at 10 %; after every
// 20 users per arm (from 100 on) the analyst looks and stops at the first
// p < alpha. The fixed-horizon chi-square inflates the false-positive rate far
// above alpha; the mSPRT keeps it at or below alpha.
TEST(Msprt, AaSimulationKeepsFalsePositivesUnderAlphaWhileChiSquareDoesNot) {
  constexpr double kAlpha = 0.05;
  constexpr int kExperiments = 400;
  constexpr int kUsersPerArm = 2000;
  std::mt19937_64 rng(20261128);
  std::bernoulli_distribution convert(0.10);
  int chi_false = 0, msprt_false = 0;
  for (int e = 0; e < kExperiments; ++e) {
    ConversionCounts a, b;
    SequentialTest seq({.tau = 0.02});
    bool chi_rejected = false, msprt_rejected = false;
    for (int n = 1; n <= kUsersPerArm; ++n) {
      ++a.trials;
      a.conversions += convert(rng) ? 1 : 0;
      ++b.trials;
      b.conversions += convert(rng) ? 1 : 0;
      if (n < 100 || n % 20 != 0) continue;
      const ConversionCounts t[] = {a, b};
      if (!chi_rejected && ChiSquareTest(t, {}).p_value < kAlpha) chi_rejected = true;
      if (!msprt_rejected && seq.look(a, b) < kAlpha) msprt_rejected = true;
    }
    chi_false += chi_rejected ? 1 : 0;
    msprt_false += msprt_rejected ? 1 : 0;
  }
  const double chi_rate = static_cast<double>(chi_false) / kExperiments;
  const double msprt_rate = static_cast<double>(msprt_false) / kExperiments;
  std::printf(
      "[ A/A ] peeking false-positive rate over %d experiments: chi-square %.4f, mSPRT %.4f (alpha "
      "%.2f)\n",
      kExperiments, chi_rate, msprt_rate, kAlpha);
  EXPECT_LE(msprt_rate, kAlpha);
  EXPECT_GT(chi_rate, kAlpha);
}

}  // namespace
}  // namespace agentgate
