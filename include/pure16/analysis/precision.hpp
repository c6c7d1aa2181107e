// pure16/analysis/precision.hpp — how far a low-precision twin of a classifier is from its
// reference, and when their predictions provably agree.
//
// The theory. For an input x let pR and pL be the output probabilities of a reference model
// R (e.g. fp32) and of its low-precision twin L (e.g. fp16), a = argmax pR, and
//     delta = max_i |pR_i - pL_i|,     Gamma = pR_a - max_{j != a} pR_j   (top-1 minus top-2).
// For every j != a:  pL_a - pL_j >= (pR_a - delta) - (pR_j + delta) >= Gamma - 2 delta.
// So Gamma > 2 delta forces pL_a > pL_j for all j != a: L predicts a too. With equality,
// Gamma = 2 delta, only pL_a >= pL_j follows: L may have a tie at the top that an argmax
// (first index wins) resolves to another class. Hence the report distinguishes
//  * guaranteed — Gamma >= 2 delta as computed (the paper's statement);
//  * strict     — Gamma > 2 delta proven despite rounding (see below): here disagreement is
//                 impossible, and a disagreeing sample is a VIOLATION, i.e. a bug;
//  * boundary   — guaranteed but not strict: Gamma equals 2 delta to within one rounding
//                 of the two subtractions. A disagreement there is reported separately
//                 (boundary_disagreements) and is not a violation.
// A top-1 tie in R gives Gamma = 0, which can only be guaranteed when delta = 0 (pL = pR).
//
// Contract:
//  * Probabilities are the softmax of each model's logits computed in double from the
//    logits' exact values (every T converts to double exactly), so the analysis adds no
//    rounding of its own beyond double's. Predictions are argmax of those probabilities,
//    first index on ties. The theorem is applied to exactly these double vectors; the only
//    rounding left is in the subtractions forming delta and Gamma, so `strict` uses a
//    downward bound of Gamma and an upward bound of delta (one ulp each way).
//  * A sample whose logits (in either model) are not all finite is `finite = false`: delta
//    and Gamma are NaN, it is never guaranteed, summaries leave it out (and count it), and
//    its predictions are the argmax of the logits with NaN counted as largest.
//  * Per-layer error: the outputs of each layer of both models (Sequential::forward_trace in
//    Mode::Eval) compared in double: max and mean absolute difference, and the max |output|
//    of the reference for scale. Shapes must match layer by layer.
//  * Twins: rounded_twin<L>(ref) is the theorem's setting (R's weights rounded to L);
//    trained_twin<L>(ref, seed, train) builds the same architecture in L, initialises it
//    from the same seed and hands it to a training callable. TwinKind names which one a
//    report is about.
//  * Bad input (models of different depth or layer types, logits of different shapes,
//    fewer than two classes, a label count that does not match) throws
//    pure16::InvalidArgument naming what is wrong. With AnalysisOptions::throw_on_violation a
//    theorem violation throws TheoremViolation (a pure16::LogicError) carrying the message.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <pure16/analysis/statistics.hpp>
#include <pure16/data/dataset.hpp>
#include <pure16/error.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pure16::analysis {

/// Which sense of "twin" a comparison is about.
enum class TwinKind {
  Rounded,  // L = R's weights rounded to L (the theorem's setting)
  Trained,  // L trained on its own in L from the same seed as R
  Other,    // any other pair of models
};

inline std::string_view twin_kind_name(TwinKind k) {
  switch (k) {
    case TwinKind::Rounded:
      return "rounded";
    case TwinKind::Trained:
      return "trained";
    default:
      return "other";
  }
}

inline std::string_view accumulate_name(Accumulate a) {
  return a == Accumulate::Native ? "native" : "float";
}

/// What was compared with what.
struct TwinDescription {
  TwinKind kind = TwinKind::Other;
  std::string reference_type = "?";  // scalar_traits<R>::name, e.g. "fp32"
  std::string low_type = "?";        // scalar_traits<L>::name, e.g. "fp16"
  Accumulate reference_accumulate = Accumulate::Float;
  Accumulate low_accumulate = Accumulate::Float;

  /// e.g. "fp16 rounded (acc float) vs fp32".
  std::string label() const {
    return low_type + " " + std::string(twin_kind_name(kind)) + " (acc " +
           std::string(accumulate_name(low_accumulate)) + ") vs " + reference_type;
  }
};

/// Per-sample outcome (see the header comment for the definitions).
struct SampleResult {
  std::size_t index = 0;    // position among the compared inputs
  std::int32_t label = -1;  // true class when known, else -1
  std::int32_t pred_ref = -1;
  std::int32_t pred_low = -1;
  double p_ref_top1 = std::numeric_limits<double>::quiet_NaN();  // pR_a (R's confidence)
  double delta = std::numeric_limits<double>::quiet_NaN();
  double gamma = std::numeric_limits<double>::quiet_NaN();
  bool finite = false;      // both models' logits finite
  bool guaranteed = false;  // Gamma >= 2 delta (as computed)
  bool strict = false;      // Gamma > 2 delta, proven despite rounding
  bool agree = false;       // pred_ref == pred_low
};

/// Difference between the twins' outputs of one layer, over all compared inputs.
struct LayerError {
  std::size_t index = 0;
  std::string type;
  Shape shape;                // output shape of the last batch
  std::size_t elements = 0;   // elements compared (finite in both)
  std::size_t nonfinite = 0;  // elements where either output is NaN or infinite
  double max_abs = 0.0;       // max |ref - low|
  double mean_abs = 0.0;      // mean |ref - low|
  double ref_max_abs = 0.0;   // max |ref|, for scale
  double relative() const { return ref_max_abs > 0.0 ? max_abs / ref_max_abs : max_abs; }
};

/// Thrown when AnalysisOptions::throw_on_violation is set and the theorem fails.
class TheoremViolation : public pure16::LogicError {
 public:
  using pure16::LogicError::LogicError;
};

struct HistogramRange {
  double lo;
  double hi;
  std::size_t bins;
};

struct AnalysisOptions {
  HistogramRange delta_bins{1e-8, 1.0, 40};  // log10-spaced: 5 bins per decade
  HistogramRange gamma_bins{0.0, 1.0, 20};   // linear
  bool throw_on_violation = false;
  std::size_t max_listed_violations = 20;  // indices quoted in the message
};

/// Everything measured for one pair of twins.
struct PrecisionReport {
  TwinDescription twin;
  std::size_t classes = 0;
  std::vector<SampleResult> samples;
  Summary delta, gamma;
  Histogram delta_hist, gamma_hist;
  std::size_t finite = 0;                  // samples with finite logits in both models
  std::size_t guaranteed = 0;              // Gamma >= 2 delta
  std::size_t strict = 0;                  // Gamma > 2 delta (proven)
  std::size_t agree = 0;                   // equal predictions
  std::size_t violations = 0;              // strict but predictions differ: a bug
  std::size_t boundary_disagreements = 0;  // guaranteed, not strict, predictions differ
  std::size_t labelled = 0;                // samples with a known label
  std::size_t correct_ref = 0, correct_low = 0;
  std::vector<std::size_t> violation_indices;
  std::vector<LayerError> layers;  // empty unless layerwise errors were computed

  std::size_t size() const { return samples.size(); }
  bool theorem_holds() const { return violations == 0; }
  double guaranteed_fraction() const { return ratio(guaranteed, size()); }
  double strict_fraction() const { return ratio(strict, size()); }
  double agreement() const { return ratio(agree, size()); }
  double accuracy_ref() const { return ratio(correct_ref, labelled); }
  double accuracy_low() const { return ratio(correct_low, labelled); }

  /// Empty when the theorem holds; otherwise a loud explanation naming the samples.
  std::string violation_message(std::size_t max_listed = 20) const {
    if (violations == 0) return {};
    std::ostringstream os;
    os << "pure16::analysis: THEOREM VIOLATION for " << twin.label() << ": " << violations
       << " sample(s) with Gamma > 2*delta whose predictions differ. This cannot happen "
          "for correct arithmetic; it is a bug in pure16 (or in the models compared). Samples:";
    for (std::size_t i = 0; i < violation_indices.size() && i < max_listed; ++i) {
      const auto& s = samples[violation_indices[i]];
      os << (i ? "," : "") << " #" << s.index << " (Gamma=" << s.gamma << ", delta=" << s.delta
         << ", ref=" << s.pred_ref << ", low=" << s.pred_low << ")";
    }
    if (violation_indices.size() > max_listed) os << ", ...";
    return os.str();
  }

 private:
  static double ratio(std::size_t a, std::size_t b) {
    return b ? static_cast<double>(a) / static_cast<double>(b)
             : std::numeric_limits<double>::quiet_NaN();
  }
};

// ---- the per-sample mathematics -------------------------------------------------------

/// Softmax of `z` in double: p_j = exp(z_j - max z) / sum_k exp(z_k - max z). Returns
/// false (and fills p with NaN) when some z_j is not finite.
inline bool softmax_double(std::span<const double> z, std::span<double> p) {
  if (z.size() != p.size() || z.empty()) {
    throw pure16::InvalidArgument("pure16::analysis::softmax_double: " + std::to_string(z.size()) +
                                  " logits for " + std::to_string(p.size()) + " probabilities");
  }
  double m = z[0];
  for (double v : z) {
    if (!std::isfinite(v)) {
      std::fill(p.begin(), p.end(), std::numeric_limits<double>::quiet_NaN());
      return false;
    }
    m = std::max(m, v);
  }
  double s = 0.0;
  for (std::size_t j = 0; j < z.size(); ++j) {
    p[j] = std::exp(z[j] - m);
    s += p[j];
  }
  for (double& v : p) v /= s;
  return true;
}

/// Index of the largest value, the first one on ties; a NaN counts as largest.
inline std::int32_t argmax_first(std::span<const double> v) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < v.size() && !std::isnan(v[best]); ++j) {
    if (v[j] > v[best] || std::isnan(v[j])) best = j;
  }
  return static_cast<std::int32_t>(best);
}

/// The comparison of one sample from both models' probability vectors (finite, same size
/// >= 2). Predictions are argmax_first of each vector.
inline SampleResult analyze_probabilities(std::span<const double> pr, std::span<const double> pl) {
  const std::size_t c = pr.size();
  if (c < 2 || pl.size() != c) {
    throw pure16::InvalidArgument(
        "pure16::analysis: need the same number (>= 2) of classes in both models, got " +
        std::to_string(c) + " and " + std::to_string(pl.size()));
  }
  SampleResult r;
  r.finite = true;
  r.pred_ref = argmax_first(pr);
  r.pred_low = argmax_first(pl);
  r.agree = r.pred_ref == r.pred_low;
  const auto a = static_cast<std::size_t>(r.pred_ref);
  double second = -std::numeric_limits<double>::infinity();
  double delta = 0.0;
  for (std::size_t j = 0; j < c; ++j) {
    if (j != a) second = std::max(second, pr[j]);
    delta = std::max(delta, std::fabs(pr[j] - pl[j]));
  }
  r.p_ref_top1 = pr[a];
  r.delta = delta;
  r.gamma = pr[a] - second;  // >= 0: a is the (first) maximum
  r.guaranteed = r.gamma >= 2.0 * r.delta;
  // Each computed difference is within half an ulp of the exact one, so one ulp down
  // (Gamma) and up (delta) bound the exact values; a zero difference is exact.
  const double gamma_lo =
      r.gamma > 0.0 ? std::nextafter(r.gamma, -std::numeric_limits<double>::infinity()) : 0.0;
  const double delta_hi =
      r.delta > 0.0 ? std::nextafter(r.delta, std::numeric_limits<double>::infinity()) : 0.0;
  r.strict = gamma_lo > 2.0 * delta_hi;
  return r;
}

/// The comparison of one sample from both models' logits (in double, exact copies).
inline SampleResult analyze_sample(std::span<const double> ref_logits,
                                   std::span<const double> low_logits) {
  const std::size_t c = ref_logits.size();
  if (c < 2 || low_logits.size() != c) {
    throw pure16::InvalidArgument(
        "pure16::analysis::analyze_sample: need the same number (>= 2) of classes in both "
        "models, got " +
        std::to_string(c) + " and " + std::to_string(low_logits.size()));
  }
  std::vector<double> pr(c), pl(c);
  const bool fr = softmax_double(ref_logits, pr);
  const bool fl = softmax_double(low_logits, pl);
  if (fr && fl) return analyze_probabilities(pr, pl);
  SampleResult r;
  r.pred_ref = argmax_first(ref_logits);
  r.pred_low = argmax_first(low_logits);
  r.agree = r.pred_ref == r.pred_low;
  if (fr) r.p_ref_top1 = pr[static_cast<std::size_t>(r.pred_ref)];
  return r;
}

// ---- accumulation over batches ---------------------------------------------------------

/// Collects per-sample results and per-layer errors batch by batch; report() summarises.
class PrecisionAnalyzer {
 public:
  explicit PrecisionAnalyzer(TwinDescription twin = {}, AnalysisOptions opts = {})
      : twin_(std::move(twin)), opts_(opts) {}

  /// Compare one batch of logits [N, C] of both models; labels (optional) has N entries.
  template <Scalar R, Scalar L>
  void add_logits(const Tensor<R>& ref, const Tensor<L>& low,
                  std::span<const std::int32_t> labels = {}) {
    if (ref.ndim() != 2 || ref.shape() != low.shape() || ref.dim(1) < 2) {
      throw pure16::InvalidArgument(
          "pure16::analysis::PrecisionAnalyzer: logits must be [N, C] with C >= 2 and equal "
          "shapes in both models, got " +
          shape_str(ref.shape()) + " (reference) and " + shape_str(low.shape()) + " (low)");
    }
    const std::size_t n = ref.dim(0), c = ref.dim(1);
    if (!labels.empty() && labels.size() != n) {
      throw pure16::InvalidArgument(
          "pure16::analysis::PrecisionAnalyzer: " + std::to_string(labels.size()) + " labels for " +
          std::to_string(n) + " samples");
    }
    if (classes_ != 0 && classes_ != c) {
      throw pure16::InvalidArgument("pure16::analysis::PrecisionAnalyzer: batch with " +
                                    std::to_string(c) + " classes after batches with " +
                                    std::to_string(classes_));
    }
    classes_ = c;
    std::vector<double> zr(c), zl(c);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < c; ++j) {
        zr[j] = static_cast<double>(ref[i * c + j]);
        zl[j] = static_cast<double>(low[i * c + j]);
      }
      SampleResult s = analyze_sample(zr, zl);
      s.index = samples_.size();
      s.label = labels.empty() ? -1 : labels[i];
      samples_.push_back(s);
    }
  }

  /// Compare the outputs of every layer (element i: output of layer i) of both models.
  template <Scalar R, Scalar L>
  void add_layer_outputs(std::span<const Tensor<R>> ref, std::span<const Tensor<L>> low,
                         std::span<const std::string> types) {
    if (ref.size() != low.size() || ref.size() != types.size()) {
      throw pure16::InvalidArgument(
          "pure16::analysis::PrecisionAnalyzer: " + std::to_string(ref.size()) +
          " reference layer outputs, " + std::to_string(low.size()) + " low-precision ones");
    }
    if (layers_.empty()) {
      layers_.resize(ref.size());
      sums_.assign(ref.size(), 0.0);
      for (std::size_t l = 0; l < ref.size(); ++l) {
        layers_[l].index = l;
        layers_[l].type = types[l];
      }
    } else if (layers_.size() != ref.size()) {
      throw pure16::InvalidArgument(
          "pure16::analysis::PrecisionAnalyzer: " + std::to_string(ref.size()) +
          " layers after batches with " + std::to_string(layers_.size()));
    }
    for (std::size_t l = 0; l < ref.size(); ++l) {
      const Tensor<R>& a = ref[l];
      const Tensor<L>& b = low[l];
      if (a.shape() != b.shape()) {
        throw pure16::InvalidArgument("pure16::analysis: output of layer " + std::to_string(l) +
                                      " (" + types[l] + ") has shape " + shape_str(a.shape()) +
                                      " in the reference and " + shape_str(b.shape()) +
                                      " in the low-precision model");
      }
      LayerError& e = layers_[l];
      e.shape = a.shape();
      double sum = 0.0;
      for (std::size_t k = 0; k < a.size(); ++k) {
        const double x = static_cast<double>(a[k]), y = static_cast<double>(b[k]);
        if (!std::isfinite(x) || !std::isfinite(y)) {
          ++e.nonfinite;
          continue;
        }
        const double d = std::fabs(x - y);
        e.max_abs = std::max(e.max_abs, d);
        e.ref_max_abs = std::max(e.ref_max_abs, std::fabs(x));
        sum += d;
        ++e.elements;
      }
      sums_[l] += sum;
    }
  }

  /// Append one already analysed sample (its index is set to its position here).
  void add_sample(SampleResult s) {
    s.index = samples_.size();
    samples_.push_back(s);
  }

  std::size_t size() const { return samples_.size(); }

  /// Summaries, counts and histograms of everything added so far.
  PrecisionReport report() const {
    PrecisionReport r;
    r.twin = twin_;
    r.classes = classes_;
    r.samples = samples_;
    std::vector<double> deltas, gammas;
    deltas.reserve(samples_.size());
    gammas.reserve(samples_.size());
    for (const auto& s : samples_) {
      deltas.push_back(s.delta);
      gammas.push_back(s.gamma);
      r.finite += s.finite;
      r.guaranteed += s.guaranteed;
      r.strict += s.strict;
      r.agree += s.agree;
      if (s.strict && !s.agree) {
        ++r.violations;
        r.violation_indices.push_back(s.index);
      }
      if (s.guaranteed && !s.strict && !s.agree) ++r.boundary_disagreements;
      if (s.label >= 0) {
        ++r.labelled;
        r.correct_ref += s.pred_ref == s.label;
        r.correct_low += s.pred_low == s.label;
      }
    }
    r.delta = summarize(deltas);
    r.gamma = summarize(gammas);
    r.delta_hist =
        histogram_log(deltas, opts_.delta_bins.lo, opts_.delta_bins.hi, opts_.delta_bins.bins);
    r.gamma_hist =
        histogram_linear(gammas, opts_.gamma_bins.lo, opts_.gamma_bins.hi, opts_.gamma_bins.bins);
    r.layers = layers_;
    for (std::size_t l = 0; l < r.layers.size(); ++l) {
      auto& e = r.layers[l];
      e.mean_abs = e.elements ? sums_[l] / static_cast<double>(e.elements) : 0.0;
    }
    if (r.violations && opts_.throw_on_violation) {
      throw TheoremViolation(r.violation_message(opts_.max_listed_violations));
    }
    return r;
  }

 private:
  TwinDescription twin_;
  AnalysisOptions opts_;
  std::size_t classes_ = 0;
  std::vector<SampleResult> samples_;
  std::vector<LayerError> layers_;
  std::vector<double> sums_;
};

// ---- models ------------------------------------------------------------------------------

struct CompareOptions {
  std::size_t batch_size = 256;
  bool layerwise = true;                     // also compare every layer's output
  data::Layout layout = data::Layout::NCHW;  // how a Dataset's samples are batched
  std::size_t limit = 0;                     // compare only the first `limit` samples (0: all)
  AnalysisOptions analysis;
};

template <Scalar R, Scalar L>
TwinDescription describe_twins(const nn::Sequential<R>& ref, const nn::Sequential<L>& low,
                               TwinKind kind) {
  return TwinDescription{kind, std::string(scalar_traits<R>::name),
                         std::string(scalar_traits<L>::name), ref.accumulate(), low.accumulate()};
}

namespace detail {
template <Scalar R, Scalar L>
std::vector<std::string> check_twins(const nn::Sequential<R>& ref, const nn::Sequential<L>& low) {
  if (ref.size() != low.size()) {
    throw pure16::InvalidArgument("pure16::analysis: the reference model has " +
                                  std::to_string(ref.size()) + " layers, the low-precision one " +
                                  std::to_string(low.size()));
  }
  std::vector<std::string> types;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    types.push_back(ref[i].type());
    if (types.back() != low[i].type()) {
      throw pure16::InvalidArgument("pure16::analysis: layer " + std::to_string(i) + " is " +
                                    types.back() + " in the reference model and " + low[i].type() +
                                    " in the low-precision one");
    }
  }
  if (ref.size() == 0) throw pure16::InvalidArgument("pure16::analysis: empty models");
  return types;
}

template <Scalar R, Scalar L>
void compare_batch(nn::Sequential<R>& ref, nn::Sequential<L>& low, const Tensor<R>& xr,
                   const Tensor<L>& xl, std::span<const std::int32_t> labels,
                   const std::vector<std::string>& types, bool layerwise, PrecisionAnalyzer& an) {
  if (layerwise) {
    const auto tr = ref.forward_trace(xr, nn::Mode::Eval);
    const auto tl = low.forward_trace(xl, nn::Mode::Eval);
    an.add_layer_outputs<R, L>(tr, tl, types);
    an.add_logits(tr.back(), tl.back(), labels);
  } else {
    an.add_logits(ref.forward(xr, nn::Mode::Eval), low.forward(xl, nn::Mode::Eval), labels);
  }
}
}  // namespace detail

/// Compare the twins on a batch of inputs (first dimension = samples), fed to each model
/// rounded once to its own scalar type. `labels` may be empty.
template <Scalar R, Scalar L, Scalar X>
PrecisionReport compare(nn::Sequential<R>& ref, nn::Sequential<L>& low, const Tensor<X>& inputs,
                        std::span<const std::int32_t> labels, TwinKind kind,
                        const CompareOptions& opt = {}) {
  const auto types = detail::check_twins(ref, low);
  if (inputs.ndim() == 0) throw pure16::InvalidArgument("pure16::analysis::compare: no inputs");
  std::size_t n = inputs.dim(0);
  if (!labels.empty() && labels.size() != n) {
    throw pure16::InvalidArgument("pure16::analysis::compare: " + std::to_string(labels.size()) +
                                  " labels for " + std::to_string(n) + " inputs");
  }
  if (opt.limit) n = std::min(n, opt.limit);
  const std::size_t bs = std::max<std::size_t>(opt.batch_size, 1);
  PrecisionAnalyzer an(describe_twins(ref, low, kind), opt.analysis);
  for (std::size_t lo = 0; lo < n; lo += bs) {
    const std::size_t hi = std::min(lo + bs, n);
    const Tensor<X> x = inputs.slice(lo, hi);
    detail::compare_batch(ref, low, pure16::cast<R>(x), pure16::cast<L>(x),
                          labels.empty() ? labels : labels.subspan(lo, hi - lo), types,
                          opt.layerwise, an);
  }
  return an.report();
}

/// Compare the twins on a data set (in order; labels taken from the data set). Each model
/// receives the normalized samples rounded once to its own scalar type.
template <Scalar R, Scalar L>
PrecisionReport compare(nn::Sequential<R>& ref, nn::Sequential<L>& low, const data::Dataset& data,
                        TwinKind kind, const CompareOptions& opt = {}) {
  const auto types = detail::check_twins(ref, low);
  std::size_t n = data.size();
  if (opt.limit) n = std::min(n, opt.limit);
  const std::size_t bs = std::max<std::size_t>(opt.batch_size, 1);
  PrecisionAnalyzer an(describe_twins(ref, low, kind), opt.analysis);
  std::vector<std::size_t> idx;
  for (std::size_t lo = 0; lo < n; lo += bs) {
    const std::size_t hi = std::min(lo + bs, n);
    idx.resize(hi - lo);
    for (std::size_t i = lo; i < hi; ++i) idx[i - lo] = i;
    const auto labels = data.batch_labels(idx);
    detail::compare_batch(ref, low, data.batch<R>(idx, opt.layout), data.batch<L>(idx, opt.layout),
                          labels, types, opt.layerwise, an);
  }
  return an.report();
}

/// Per-layer error of the twins on one batch of inputs (no probability analysis).
template <Scalar R, Scalar L, Scalar X>
std::vector<LayerError> layerwise_error(nn::Sequential<R>& ref, nn::Sequential<L>& low,
                                        const Tensor<X>& inputs) {
  const auto types = detail::check_twins(ref, low);
  PrecisionAnalyzer an;
  const auto tr = ref.forward_trace(pure16::cast<R>(inputs), nn::Mode::Eval);
  const auto tl = low.forward_trace(pure16::cast<L>(inputs), nn::Mode::Eval);
  an.add_layer_outputs<R, L>(tr, tl, types);
  return an.report().layers;
}

// ---- twins -------------------------------------------------------------------------------

/// The theorem's twin: R's weights and buffers rounded to L (nearest-even). Its reduction
/// policy is `acc` when given, else the reference's.
template <Scalar L, Scalar R>
nn::Sequential<L> rounded_twin(nn::Sequential<R>& ref, std::optional<Accumulate> acc = {}) {
  nn::Sequential<L> m = ref.template cast<L>();
  m.set_accumulate(acc.value_or(ref.accumulate()));
  return m;
}

/// An independently trained twin: the same layers as `ref` in L, initialised with
/// init(seed) (the seed the reference was initialised with), with the reduction policy `acc`
/// (else the reference's), then passed to train(model) — e.g. a train::fit call.
template <Scalar L, Scalar R, class TrainFn>
nn::Sequential<L> trained_twin(const nn::Sequential<R>& ref, std::uint64_t seed, TrainFn&& train,
                               std::optional<Accumulate> acc = {}) {
  nn::Sequential<L> m = nn::Sequential<L>::from_specs(ref.specs());
  m.set_accumulate(acc.value_or(ref.accumulate()));
  m.init(seed);
  std::forward<TrainFn>(train)(m);
  return m;
}

}  // namespace pure16::analysis
