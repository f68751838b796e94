#include "agentgate/experiments/statistics.h"

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <vector>

namespace agentgate {

namespace {

double ChiSquareSurvival(double statistic, int df) {
  if (df <= 0) return 1;
  if (statistic <= 0) return 1;
  boost::math::chi_squared_distribution<double> dist(static_cast<double>(df));
  return boost::math::cdf(boost::math::complement(dist, statistic));
}

}  // namespace

ChiSquareResult ChiSquareTest(std::span<const ConversionCounts> rows, ChiSquareOptions options) {
  ChiSquareResult r;
  std::vector<ConversionCounts> used;
  used.reserve(rows.size());
  double conv = 0, total = 0;
  for (const ConversionCounts& c : rows) {
    if (c.trials == 0) continue;
    used.push_back({std::min(c.conversions, c.trials), c.trials});
    conv += static_cast<double>(used.back().conversions);
    total += static_cast<double>(c.trials);
  }
  r.df = used.size() >= 2 ? static_cast<int>(used.size()) - 1 : 0;
  const double nonconv = total - conv;
  if (used.size() < 2 || conv == 0 || nonconv == 0) return r;
  r.valid = true;
  r.yates = options.yates && used.size() == 2;
  double x = 0;
  for (const ConversionCounts& c : used) {
    const double n = static_cast<double>(c.trials);
    const double observed[2] = {static_cast<double>(c.conversions),
                                n - static_cast<double>(c.conversions)};
    const double expected[2] = {n * conv / total, n * nonconv / total};
    for (int j = 0; j < 2; ++j) {
      double d = std::abs(observed[j] - expected[j]);
      if (r.yates) d = std::max(0.0, d - 0.5);
      x += d * d / expected[j];
    }
  }
  r.statistic = x;
  r.p_value = ChiSquareSurvival(x, r.df);
  return r;
}

GoodnessOfFitResult GoodnessOfFit(std::span<const uint64_t> observed,
                                  std::span<const double> expected) {
  GoodnessOfFitResult r;
  double n = 0;
  for (uint64_t o : observed) n += static_cast<double>(o);
  if (n == 0 || observed.size() != expected.size()) return r;
  int categories = 0;
  double x = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected[i] <= 0) continue;
    ++categories;
    const double e = n * expected[i];
    const double d = static_cast<double>(observed[i]) - e;
    x += d * d / e;
  }
  r.df = std::max(0, categories - 1);
  r.statistic = x;
  r.p_value = ChiSquareSurvival(x, r.df);
  return r;
}

Interval WilsonInterval(uint64_t successes, uint64_t trials, double level) {
  if (trials == 0) return {0, 1};
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + level / 2);
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(std::min(successes, trials)) / n;
  const double z2 = z * z;
  const double den = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / den;
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

void RunningMoments::add(double x) {
  ++count_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (x - mean_);
}

void RunningMoments::restore(uint64_t count, double mean, double m2) {
  count_ = count;
  mean_ = mean;
  m2_ = m2;
}

double RunningMoments::variance() const {
  return count_ < 2 ? 0 : m2_ / static_cast<double>(count_ - 1);
}

double RunningMoments::standard_error() const {
  return count_ < 2 ? 0 : std::sqrt(variance() / static_cast<double>(count_));
}

double MsprtLikelihoodRatio(ConversionCounts a, ConversionCounts b, MsprtOptions options) {
  if (a.trials == 0 || b.trials == 0) return 1;
  const double na = static_cast<double>(a.trials), nb = static_cast<double>(b.trials);
  const double ca = static_cast<double>(std::min(a.conversions, a.trials));
  const double cb = static_cast<double>(std::min(b.conversions, b.trials));
  const double pooled = (ca + cb) / (na + nb);
  const double v = pooled * (1 - pooled) * (1 / na + 1 / nb);
  if (v <= 0) return 1;
  const double d = cb / nb - ca / na;
  const double t2 = options.tau * options.tau;
  return std::sqrt(v / (v + t2)) * std::exp(t2 * d * d / (2 * v * (v + t2)));
}

double SequentialTest::look(ConversionCounts a, ConversionCounts b) {
  const double lambda = MsprtLikelihoodRatio(a, b, options_);
  p_value_ = std::min(p_value_, std::min(1.0, 1.0 / lambda));
  return p_value_;
}

}  // namespace agentgate
