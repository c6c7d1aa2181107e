// pure16/analysis/statistics.hpp — descriptive statistics of a sample of doubles: mean,
// variance, quantiles and histograms, as used by the precision analysis.
//
// Contract:
//  * summarize(values) ignores non-finite values (it counts them in Summary::nonfinite) and
//    returns count, mean, population variance (divisor n, numpy.var's default), standard
//    deviation, min, the 5/25/50/75/95 % quantiles and max. All of it is computed in double:
//    the mean by compensated (Neumaier) summation, the variance by the two-pass formula
//    sum((x - mean)^2) / n (no cancellation from sum(x^2) - n mean^2).
//  * quantile_sorted(sorted, q) interpolates linearly between order statistics at position
//    q (n - 1) — numpy.quantile's default ("linear", Hyndman-Fan type 7).
//  * An empty sample has count 0 and NaN for every statistic.
//  * Histogram: bins [edges[k], edges[k+1]) with the last bin closed on the right, so a
//    value equal to the top edge is counted in the last bin. Values below the first edge
//    (including 0 on a log scale) go to `below`, above the last edge to `above`, NaN and
//    infinities to `nonfinite`. histogram_log() spaces the edges evenly in log10 (lo > 0),
//    histogram_linear() evenly in value. Bin membership is decided by comparing against the
//    stored edges, so it agrees exactly with what a reader of `edges` would compute.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <pure16/error.hpp>
#include <span>
#include <string>
#include <vector>

namespace pure16::analysis {

/// Descriptive statistics of a sample (see the header comment).
struct Summary {
  std::size_t count = 0;      // finite values summarized
  std::size_t nonfinite = 0;  // NaN / infinite values left out
  double mean = std::numeric_limits<double>::quiet_NaN();
  double variance = std::numeric_limits<double>::quiet_NaN();  // population (divisor n)
  double stddev = std::numeric_limits<double>::quiet_NaN();
  double min = std::numeric_limits<double>::quiet_NaN();
  double q05 = std::numeric_limits<double>::quiet_NaN();
  double q25 = std::numeric_limits<double>::quiet_NaN();
  double median = std::numeric_limits<double>::quiet_NaN();
  double q75 = std::numeric_limits<double>::quiet_NaN();
  double q95 = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
};

/// Quantile q in [0, 1] of an ascending sample, linear interpolation (numpy default).
inline double quantile_sorted(std::span<const double> sorted, double q) {
  if (!(q >= 0.0 && q <= 1.0)) {
    throw pure16::InvalidArgument("pure16::analysis::quantile_sorted: q = " + std::to_string(q) +
                                  " is outside [0, 1]");
  }
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  if (frac == 0.0) return sorted[lo];
  return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

/// Sum by Neumaier's compensated summation (error independent of n to first order).
inline double compensated_sum(std::span<const double> v) {
  double s = 0.0, c = 0.0;
  for (double x : v) {
    const double t = s + x;
    c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  return s + c;
}

inline Summary summarize(std::span<const double> values) {
  Summary out;
  std::vector<double> v;
  v.reserve(values.size());
  for (double x : values) {
    if (std::isfinite(x)) {
      v.push_back(x);
    } else {
      ++out.nonfinite;
    }
  }
  out.count = v.size();
  if (v.empty()) return out;
  const double n = static_cast<double>(v.size());
  out.mean = compensated_sum(v) / n;
  std::vector<double> sq(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) sq[i] = (v[i] - out.mean) * (v[i] - out.mean);
  out.variance = compensated_sum(sq) / n;
  out.stddev = std::sqrt(out.variance);
  std::sort(v.begin(), v.end());
  out.min = v.front();
  out.max = v.back();
  out.q05 = quantile_sorted(v, 0.05);
  out.q25 = quantile_sorted(v, 0.25);
  out.median = quantile_sorted(v, 0.50);
  out.q75 = quantile_sorted(v, 0.75);
  out.q95 = quantile_sorted(v, 0.95);
  return out;
}

/// Counts of a sample in contiguous bins (see the header comment).
struct Histogram {
  bool log_scale = false;
  std::vector<double> edges;        // bins + 1 ascending edges
  std::vector<std::size_t> counts;  // one per bin
  std::size_t below = 0;            // < edges.front() (incl. 0 and negatives on a log scale)
  std::size_t above = 0;            // > edges.back()
  std::size_t nonfinite = 0;        // NaN or infinite

  std::size_t bins() const { return counts.size(); }
  std::size_t total() const {
    std::size_t t = below + above + nonfinite;
    for (auto c : counts) t += c;
    return t;
  }
};

namespace detail {
inline void fill_histogram(Histogram& h, std::span<const double> values) {
  h.counts.assign(h.edges.size() - 1, 0);
  for (double x : values) {
    if (!std::isfinite(x)) {
      ++h.nonfinite;
    } else if (x < h.edges.front()) {
      ++h.below;
    } else if (x > h.edges.back()) {
      ++h.above;
    } else {
      // First edge strictly greater than x; x == top edge falls into the last bin.
      auto it = std::upper_bound(h.edges.begin(), h.edges.end(), x);
      const auto k = static_cast<std::size_t>(it - h.edges.begin());
      ++h.counts[std::min(k, h.edges.size() - 1) - 1];
    }
  }
}
inline void check_bins(double lo, double hi, std::size_t bins, const char* who) {
  if (bins == 0 || !(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi)) {
    throw pure16::InvalidArgument(
        std::string("pure16::analysis::") + who + ": need finite lo < hi and bins > 0 (got lo=" +
        std::to_string(lo) + ", hi=" + std::to_string(hi) + ", bins=" + std::to_string(bins) + ")");
  }
}
}  // namespace detail

/// `bins` equal-width bins over [lo, hi].
inline Histogram histogram_linear(std::span<const double> values, double lo, double hi,
                                  std::size_t bins) {
  detail::check_bins(lo, hi, bins, "histogram_linear");
  Histogram h;
  h.log_scale = false;
  h.edges.resize(bins + 1);
  for (std::size_t k = 0; k <= bins; ++k) {
    h.edges[k] = lo + (hi - lo) * static_cast<double>(k) / static_cast<double>(bins);
  }
  h.edges.back() = hi;
  detail::fill_histogram(h, values);
  return h;
}

/// `bins` bins over [lo, hi] whose edges are evenly spaced in log10 (requires lo > 0).
inline Histogram histogram_log(std::span<const double> values, double lo, double hi,
                               std::size_t bins) {
  detail::check_bins(lo, hi, bins, "histogram_log");
  if (!(lo > 0.0)) {
    throw pure16::InvalidArgument("pure16::analysis::histogram_log: lower edge must be > 0, got " +
                                  std::to_string(lo));
  }
  Histogram h;
  h.log_scale = true;
  h.edges.resize(bins + 1);
  const double a = std::log10(lo), b = std::log10(hi);
  for (std::size_t k = 0; k <= bins; ++k) {
    h.edges[k] = std::pow(10.0, a + (b - a) * static_cast<double>(k) / static_cast<double>(bins));
  }
  h.edges.front() = lo;
  h.edges.back() = hi;
  detail::fill_histogram(h, values);
  return h;
}

}  // namespace pure16::analysis
