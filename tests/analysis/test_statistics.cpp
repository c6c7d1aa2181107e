// Tests of pure16/analysis/statistics.hpp against known values and naive double/long double
// computations.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <pure16/analysis/statistics.hpp>
#include <pure16/random.hpp>
#include <vector>

using namespace pure16;
using namespace pure16::analysis;

TEST_CASE("quantiles interpolate linearly like numpy.quantile") {
  const std::vector<double> v{1, 2, 3, 4, 5};
  CHECK(quantile_sorted(v, 0.0) == 1.0);
  CHECK(quantile_sorted(v, 0.05) == doctest::Approx(1.2).epsilon(1e-15));
  CHECK(quantile_sorted(v, 0.25) == 2.0);
  CHECK(quantile_sorted(v, 0.5) == 3.0);
  CHECK(quantile_sorted(v, 0.95) == doctest::Approx(4.8).epsilon(1e-15));
  CHECK(quantile_sorted(v, 1.0) == 5.0);
  // numpy.quantile([0, 10], 0.3) == 3.0; a single value is every quantile.
  CHECK(quantile_sorted(std::vector<double>{0, 10}, 0.3) == doctest::Approx(3.0));
  CHECK(quantile_sorted(std::vector<double>{7}, 0.9) == 7.0);
  CHECK(std::isnan(quantile_sorted(std::vector<double>{}, 0.5)));
  CHECK_THROWS_AS(quantile_sorted(v, 1.5), pure16::InvalidArgument);
}

TEST_CASE("summarize matches a naive computation and skips non-finite values") {
  Rng rng(42);
  std::vector<double> v;
  for (int i = 0; i < 1001; ++i) v.push_back(rng.normal(1e-3, 3e-3));
  std::vector<double> with_bad = v;
  with_bad.push_back(std::numeric_limits<double>::quiet_NaN());
  with_bad.push_back(std::numeric_limits<double>::infinity());

  const Summary s = summarize(with_bad);
  CHECK(s.count == v.size());
  CHECK(s.nonfinite == 2);

  long double sum = 0;
  for (double x : v) sum += x;
  const long double mean = sum / v.size();
  long double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  const long double var = sq / v.size();
  CHECK(s.mean == doctest::Approx(static_cast<double>(mean)).epsilon(1e-13));
  CHECK(s.variance == doctest::Approx(static_cast<double>(var)).epsilon(1e-13));
  CHECK(s.stddev == doctest::Approx(std::sqrt(static_cast<double>(var))).epsilon(1e-13));

  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  // 1001 values: quantile q sits exactly on order statistic q * 1000 for these q.
  CHECK(s.min == sorted[0]);
  CHECK(s.q05 == sorted[50]);
  CHECK(s.q25 == sorted[250]);
  CHECK(s.median == sorted[500]);
  CHECK(s.q75 == sorted[750]);
  CHECK(s.q95 == sorted[950]);
  CHECK(s.max == sorted[1000]);
}

TEST_CASE("variance is computed without cancellation") {
  // Values 1e8 + {0, 1, 2}: sum of squares minus n*mean^2 loses the answer in double.
  const std::vector<double> v{1e8, 1e8 + 1, 1e8 + 2};
  const Summary s = summarize(v);
  CHECK(s.mean == 1e8 + 1);
  CHECK(s.variance == doctest::Approx(2.0 / 3.0).epsilon(1e-15));
}

TEST_CASE("an empty sample summarizes to NaN") {
  const Summary s = summarize(std::vector<double>{std::numeric_limits<double>::quiet_NaN()});
  CHECK(s.count == 0);
  CHECK(s.nonfinite == 1);
  CHECK(std::isnan(s.mean));
  CHECK(std::isnan(s.variance));
  CHECK(std::isnan(s.median));
}

TEST_CASE("linear histogram counts values per bin, top edge inclusive") {
  const std::vector<double> v{-0.1, 0.0,  0.1, 0.24999, 0.25,
                              0.5,  0.99, 1.0, 1.01,    std::numeric_limits<double>::quiet_NaN()};
  const Histogram h = histogram_linear(v, 0.0, 1.0, 4);
  REQUIRE(h.bins() == 4);
  CHECK(h.edges == std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0});
  CHECK(h.counts == std::vector<std::size_t>{3, 1, 1, 2});
  CHECK(h.below == 1);
  CHECK(h.above == 1);
  CHECK(h.nonfinite == 1);
  CHECK(h.total() == v.size());
  CHECK_THROWS_AS(histogram_linear(v, 1.0, 0.0, 4), pure16::InvalidArgument);
  CHECK_THROWS_AS(histogram_linear(v, 0.0, 1.0, 0), pure16::InvalidArgument);
}

TEST_CASE("log histogram has log-spaced edges and sends zero below the range") {
  const std::vector<double> v{0.0, 5e-7, 1e-6, 3e-6, 2e-5, 2e-3, 0.5, 1.0, 2.0};
  const Histogram h = histogram_log(v, 1e-6, 1.0, 6);  // one bin per decade
  REQUIRE(h.edges.size() == 7);
  CHECK(h.log_scale);
  for (int k = 0; k <= 6; ++k) CHECK(h.edges[k] == doctest::Approx(std::pow(10.0, k - 6)));
  CHECK(h.edges.front() == 1e-6);
  CHECK(h.edges.back() == 1.0);
  // [1e-6,1e-5): 1e-6, 3e-6; [1e-5,1e-4): 2e-5; [1e-3,1e-2): 2e-3; [0.1,1]: 0.5, 1.0
  CHECK(h.counts == std::vector<std::size_t>{2, 1, 0, 1, 0, 2});
  CHECK(h.below == 2);
  CHECK(h.above == 1);
  CHECK(h.total() == v.size());
  CHECK_THROWS_AS(histogram_log(v, 0.0, 1.0, 6), pure16::InvalidArgument);
}
