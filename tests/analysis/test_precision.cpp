// Tests of pure16/analysis/precision.hpp: delta, Gamma and the theorem check against values
// computed independently in the test (by hand or in double), on hand-set and random models.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <pure16/analysis/precision.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/random.hpp>
#include <vector>

using namespace pure16;
using namespace pure16::analysis;

namespace {

// Reference softmax written differently from the library's: p_i = 1 / sum_j exp(z_j - z_i).
std::vector<double> naive_softmax(const std::vector<double>& z) {
  std::vector<double> p(z.size());
  for (std::size_t i = 0; i < z.size(); ++i) {
    double s = 0;
    for (double zj : z) s += std::exp(zj - z[i]);
    p[i] = 1.0 / s;
  }
  return p;
}

struct Expected {
  double delta, gamma;
  int pred_ref, pred_low;
};

Expected naive_expected(const std::vector<double>& zr, const std::vector<double>& zl) {
  const auto pr = naive_softmax(zr), pl = naive_softmax(zl);
  Expected e{};
  e.pred_ref = static_cast<int>(std::max_element(pr.begin(), pr.end()) - pr.begin());
  e.pred_low = static_cast<int>(std::max_element(pl.begin(), pl.end()) - pl.begin());
  e.delta = 0;
  for (std::size_t i = 0; i < pr.size(); ++i) e.delta = std::max(e.delta, std::fabs(pr[i] - pl[i]));
  std::vector<double> s = pr;
  std::sort(s.begin(), s.end(), std::greater<>());
  e.gamma = s[0] - s[1];
  return e;
}

template <Scalar T>
std::vector<double> row(const Tensor<T>& t, std::size_t i) {
  const std::size_t c = t.dim(1);
  std::vector<double> r(c);
  for (std::size_t j = 0; j < c; ++j) r[j] = static_cast<double>(t[i * c + j]);
  return r;
}

nn::Dense<float>& dense_at(nn::Sequential<float>& m, std::size_t i) {
  return dynamic_cast<nn::Dense<float>&>(m[i]);
}

}  // namespace

TEST_CASE("delta and Gamma of hand-computed probabilities") {
  // pR = (1, 2, 5)/8 and pL = (1, 3, 4)/8: delta = 1/8, Gamma = 5/8 - 2/8 = 3/8 >= 2/8.
  const std::vector<double> zr{0.0, std::log(2.0), std::log(5.0)};
  const std::vector<double> zl{0.0, std::log(3.0), std::log(4.0)};
  const SampleResult s = analyze_sample(zr, zl);
  CHECK(s.finite);
  CHECK(s.delta == doctest::Approx(0.125).epsilon(1e-14));
  CHECK(s.gamma == doctest::Approx(0.375).epsilon(1e-14));
  CHECK(s.p_ref_top1 == doctest::Approx(0.625).epsilon(1e-14));
  CHECK(s.pred_ref == 2);
  CHECK(s.pred_low == 2);
  CHECK(s.guaranteed);
  CHECK(s.strict);
  CHECK(s.agree);

  // Swapping L's top two: delta = 1/8, Gamma = 1/8 < 2/8; predictions differ, no guarantee.
  const std::vector<double> zl2{0.0, std::log(4.0), std::log(3.0)};
  const SampleResult t =
      analyze_sample(std::vector<double>{0.0, std::log(3.0), std::log(4.0)}, zl2);
  CHECK(t.delta == doctest::Approx(0.125).epsilon(1e-14));
  CHECK(t.gamma == doctest::Approx(0.125).epsilon(1e-14));
  CHECK_FALSE(t.guaranteed);
  CHECK_FALSE(t.strict);
  CHECK(t.pred_ref == 2);
  CHECK(t.pred_low == 1);
  CHECK_FALSE(t.agree);

  // Shifting all logits changes nothing (softmax is shift invariant, computed stably).
  const SampleResult u =
      analyze_sample(std::vector<double>{1000.0, 1000.0 + std::log(2.0), 1000.0 + std::log(5.0)},
                     std::vector<double>{-500.0, -500.0 + std::log(3.0), -500.0 + std::log(4.0)});
  CHECK(u.delta == doctest::Approx(0.125).epsilon(1e-12));
  CHECK(u.gamma == doctest::Approx(0.375).epsilon(1e-12));
}

TEST_CASE("equality Gamma == 2 delta is guaranteed but not strict, and may disagree") {
  // pR = (1/4, 3/4), pL = (1/2, 1/2): delta = 1/4, Gamma = 1/2 = 2 delta exactly. L ties,
  // argmax picks class 0 while R picks class 1: the non-strict theorem allows this.
  const std::vector<double> pr{0.25, 0.75}, pl{0.5, 0.5};
  const SampleResult s = analyze_probabilities(pr, pl);
  CHECK(s.delta == 0.25);
  CHECK(s.gamma == 0.5);
  CHECK(s.guaranteed);
  CHECK_FALSE(s.strict);
  CHECK(s.pred_ref == 1);
  CHECK(s.pred_low == 0);
  CHECK_FALSE(s.agree);

  PrecisionAnalyzer an;
  an.add_sample(s);
  const auto r = an.report();
  CHECK(r.guaranteed == 1);
  CHECK(r.strict == 0);
  CHECK(r.boundary_disagreements == 1);
  CHECK(r.violations == 0);
  CHECK(r.theorem_holds());
  CHECK(r.violation_message().empty());
}

TEST_CASE("a tie at R's top gives Gamma = 0, guaranteed only when delta = 0") {
  const std::vector<double> tie{0.5, 0.5, 0.0};
  const SampleResult same = analyze_probabilities(tie, tie);
  CHECK(same.gamma == 0.0);
  CHECK(same.delta == 0.0);
  CHECK(same.guaranteed);
  CHECK_FALSE(same.strict);
  CHECK(same.agree);

  const std::vector<double> moved{0.499, 0.501, 0.0};
  const SampleResult d = analyze_probabilities(tie, moved);
  CHECK(d.delta == doctest::Approx(1e-3));
  CHECK_FALSE(d.guaranteed);
  CHECK(d.pred_ref == 0);
  CHECK(d.pred_low == 1);

  // Equal vectors with a clear top: delta = 0 < Gamma is a strict guarantee.
  const std::vector<double> p{0.2, 0.7, 0.1};
  const SampleResult e = analyze_probabilities(p, p);
  CHECK(e.delta == 0.0);
  CHECK(e.strict);
}

TEST_CASE("a violation is counted, listed and reported loudly") {
  SampleResult bad;
  bad.finite = true;
  bad.delta = 0.01;
  bad.gamma = 0.5;
  bad.guaranteed = bad.strict = true;
  bad.pred_ref = 3;
  bad.pred_low = 4;
  bad.agree = false;
  SampleResult good = bad;
  good.pred_low = 3;
  good.agree = true;

  AnalysisOptions opts;
  PrecisionAnalyzer an(TwinDescription{TwinKind::Rounded, "fp32", "fp16"}, opts);
  an.add_sample(good);
  an.add_sample(bad);
  const auto r = an.report();
  CHECK(r.violations == 1);
  CHECK(r.violation_indices == std::vector<std::size_t>{1});
  CHECK_FALSE(r.theorem_holds());
  const std::string msg = r.violation_message();
  CHECK(msg.find("THEOREM VIOLATION") != std::string::npos);
  CHECK(msg.find("#1") != std::string::npos);
  CHECK(msg.find("fp16 rounded") != std::string::npos);

  opts.throw_on_violation = true;
  PrecisionAnalyzer loud(TwinDescription{}, opts);
  loud.add_sample(bad);
  CHECK_THROWS_AS(loud.report(), TheoremViolation);
}

TEST_CASE("non-finite logits are flagged, never guaranteed, and left out of summaries") {
  const double inf = std::numeric_limits<double>::infinity();
  const SampleResult s =
      analyze_sample(std::vector<double>{1.0, 2.0, 0.0}, std::vector<double>{1.0, inf, 0.0});
  CHECK_FALSE(s.finite);
  CHECK(std::isnan(s.delta));
  CHECK_FALSE(s.guaranteed);
  CHECK(s.pred_ref == 1);
  CHECK(s.pred_low == 1);

  Tensor<float> ref = Tensor<float>::from<float>({2, 2}, {1.0f, 2.0f, 3.0f, 0.0f});
  Tensor<half> low = Tensor<half>::from<float>({2, 2}, {1.0f, 2.0f, 3.0f, 0.0f});
  low[1] = half(std::numeric_limits<float>::quiet_NaN());
  PrecisionAnalyzer an;
  const std::vector<std::int32_t> labels{1, 1};
  an.add_logits(ref, low, labels);
  const auto r = an.report();
  CHECK(r.finite == 1);
  CHECK(r.delta.count == 1);
  CHECK(r.delta.nonfinite == 1);
  CHECK(r.delta_hist.nonfinite == 1);
  CHECK(r.samples[0].pred_low == 1);  // NaN counts as largest
  CHECK(r.samples[1].delta == 0.0);
  CHECK(r.labelled == 2);
  CHECK(r.correct_ref == 1);
}

TEST_CASE("analyzer input errors name the problem") {
  PrecisionAnalyzer an;
  CHECK_THROWS_AS(an.add_logits(Tensor<float>({2, 3}), Tensor<half>({2, 4})),
                  pure16::InvalidArgument);
  CHECK_THROWS_AS(an.add_logits(Tensor<float>({2, 1}), Tensor<half>({2, 1})),
                  pure16::InvalidArgument);
  const std::vector<std::int32_t> three{0, 1, 2};
  CHECK_THROWS_AS(an.add_logits(Tensor<float>({2, 3}), Tensor<half>({2, 3}), three),
                  pure16::InvalidArgument);
  an.add_logits(Tensor<float>({2, 3}), Tensor<half>({2, 3}));
  CHECK_THROWS_AS(an.add_logits(Tensor<float>({2, 4}), Tensor<half>({2, 4})),
                  pure16::InvalidArgument);

  nn::Sequential<float> a;
  a.add<nn::Dense>(2, 3);
  nn::Sequential<half> b;
  b.add<nn::Dense>(2, 3);
  b.add<nn::ReLU>();
  CHECK_THROWS_AS(compare(a, b, Tensor<float>({1, 2}), {}, TwinKind::Other),
                  pure16::InvalidArgument);
}

TEST_CASE("Dense twin with hand-set weights: delta, Gamma and layer error by hand") {
  // Weights k / 2^14 need up to 14 significant bits: exact in float, rounded in fp16.
  // Inputs have at most 3 significant bits, so every product and sum is exact in float
  // and the fp16 model's only roundings are its weights and its single output rounding.
  const std::vector<double> w{1001.0 / 16384,  -3333.0 / 16384, 2047.0 / 16384,  777.0 / 16384,
                              5001.0 / 16384,  -123.0 / 16384,  4097.0 / 16384,  65.0 / 16384,
                              -2049.0 / 16384, 3.0 / 16384,     12345.0 / 16384, 999.0 / 16384};
  const std::vector<double> b{0.125, -0.25, 0.0, 0.5};
  nn::Sequential<float> ref;
  auto& d = ref.add<nn::Dense>(3, 4);
  for (std::size_t i = 0; i < w.size(); ++i) d.weight().value[i] = static_cast<float>(w[i]);
  for (std::size_t i = 0; i < b.size(); ++i) d.bias().value[i] = static_cast<float>(b[i]);
  auto low = rounded_twin<half>(ref);

  const std::vector<double> xs{1.0, -0.5, 2.0, 0.75, 3.0, -1.5, -2.0, 0.25, 1.25,
                               6.0, -7.0, 0.5, 0.0,  0.0, 0.0,  -3.5, 1.75, 2.5};
  const std::size_t n = xs.size() / 3;
  const Tensor<float> x = Tensor<float>::from<double>({n, 3}, xs);
  const std::vector<std::int32_t> labels{0, 1, 2, 3, 0, 1};

  CompareOptions opt;
  opt.batch_size = 4;  // two batches: exercises accumulation across batches
  const auto rep = compare(ref, low, x, labels, TwinKind::Rounded, opt);
  REQUIRE(rep.size() == n);
  CHECK(rep.twin.label() == "fp16 rounded (acc float) vs fp32");

  double max_diff = 0, sum_diff = 0, max_ref = 0;
  std::size_t correct = 0;
  for (std::size_t s = 0; s < n; ++s) {
    std::vector<double> zr(4), zl(4);
    for (std::size_t o = 0; o < 4; ++o) {
      double r = b[o], l = static_cast<double>(half(static_cast<float>(b[o])));
      for (std::size_t k = 0; k < 3; ++k) {
        r += w[o * 3 + k] * xs[s * 3 + k];
        l += static_cast<double>(half(static_cast<float>(w[o * 3 + k]))) * xs[s * 3 + k];
      }
      zr[o] = r;                                                 // exact in float
      zl[o] = static_cast<double>(half(static_cast<float>(l)));  // one rounding to fp16
      max_diff = std::max(max_diff, std::fabs(zr[o] - zl[o]));
      max_ref = std::max(max_ref, std::fabs(zr[o]));
      sum_diff += std::fabs(zr[o] - zl[o]);
    }
    const Expected e = naive_expected(zr, zl);
    const auto& got = rep.samples[s];
    CAPTURE(s);
    CHECK(got.index == s);
    CHECK(got.label == labels[s]);
    CHECK(std::fabs(got.delta - e.delta) <= 1e-15);
    CHECK(std::fabs(got.gamma - e.gamma) <= 1e-15);
    CHECK(got.pred_ref == e.pred_ref);
    CHECK(got.pred_low == e.pred_low);
    CHECK(got.guaranteed == (e.gamma >= 2 * e.delta));
    correct += got.pred_ref == labels[s];
  }
  CHECK(max_diff > 0.0);  // the fp16 twin really differs
  CHECK(rep.correct_ref == correct);
  REQUIRE(rep.layers.size() == 1);
  CHECK(rep.layers[0].type == "Dense");
  CHECK(rep.layers[0].elements == n * 4);
  CHECK(rep.layers[0].max_abs == max_diff);
  CHECK(rep.layers[0].ref_max_abs == max_ref);
  CHECK(rep.layers[0].mean_abs == doctest::Approx(sum_diff / double(n * 4)).epsilon(1e-14));
  CHECK(rep.violations == 0);
}

TEST_CASE("theorem holds on random models and inputs, for fp16, bf16 and native accumulation") {
  nn::Sequential<float> ref;
  ref.add<nn::Dense>(20, 64);
  ref.add<nn::Tanh>();
  ref.add<nn::Dense>(64, 64);
  ref.add<nn::ReLU>();
  ref.add<nn::Dense>(64, 10);
  ref.init(7);
  // Sharpen the output layer so that margins spread over (0, 1).
  for (auto& v : dense_at(ref, 4).weight().value) v *= 6.0f;

  const std::size_t n = 3000;
  Rng rng(11);
  Tensor<float> x({n, 20});
  for (auto& v : x) v = static_cast<float>(rng.normal(0.0, 1.5));

  auto check_twin = [&](auto& low, const std::string& name) {
    CAPTURE(name);
    CompareOptions opt;
    opt.batch_size = 500;
    opt.layerwise = false;
    const auto rep = compare(ref, low, x, {}, TwinKind::Rounded, opt);
    const auto zr = ref.forward(x, nn::Mode::Eval);
    using L = typename std::decay_t<decltype(low)>::scalar_type;
    const auto zl = low.forward(cast<L>(x), nn::Mode::Eval);
    std::size_t clear = 0, agree = 0, close_calls = 0;
    for (std::size_t s = 0; s < n; ++s) {
      const Expected e = naive_expected(row(zr, s), row(zl, s));
      const auto& got = rep.samples[s];
      REQUIRE(got.finite);
      CHECK(std::fabs(got.delta - e.delta) <= 1e-14);
      CHECK(std::fabs(got.gamma - e.gamma) <= 1e-14);
      agree += e.pred_ref == e.pred_low;
      // Independent statement of the theorem with a margin far above double rounding.
      if (e.gamma > 2 * e.delta + 1e-12) {
        ++clear;
        CHECK(e.pred_ref == e.pred_low);
        CHECK(got.strict);
      }
      if (e.gamma < 4 * e.delta) ++close_calls;
    }
    CHECK(rep.violations == 0);
    CHECK(rep.theorem_holds());
    CHECK(rep.agree == agree);
    CHECK(rep.guaranteed >= clear);
    CHECK(clear > n / 2);    // most samples are guaranteed
    CHECK(close_calls > 0);  // and some are not far from the boundary
    CHECK(rep.delta.count == n);
    CHECK(rep.delta.mean > 0.0);
  };
  auto h = rounded_twin<half>(ref);
  check_twin(h, "fp16");
  auto bf = rounded_twin<bfloat16>(ref);
  check_twin(bf, "bf16");
  auto hn = rounded_twin<half>(ref, Accumulate::Native);
  CHECK(hn.accumulate() == Accumulate::Native);
  check_twin(hn, "fp16 native");
}

TEST_CASE("layerwise error of a model cast to its own type is exactly zero") {
  nn::Sequential<float> m;
  m.add<nn::Conv2D>(2, 4, 3, 1, 1);
  m.add<nn::ReLU>();
  m.add<nn::MaxPool2D>(2);
  m.add<nn::Flatten>();
  m.add<nn::Dense>(4 * 3 * 3, 5);
  m.init(3);
  Rng rng(5);
  Tensor<float> x({7, 2, 6, 6});
  for (auto& v : x) v = static_cast<float>(rng.normal());

  auto same = m.cast<float>();
  const auto e32 = layerwise_error(m, same, x);
  REQUIRE(e32.size() == 5);
  for (const auto& e : e32) {
    CAPTURE(e.index);
    CHECK(e.max_abs == 0.0);
    CHECK(e.mean_abs == 0.0);
    CHECK(e.elements > 0);
    CHECK(e.nonfinite == 0);
  }
  CHECK(e32[0].type == "Conv2D");
  CHECK(e32[4].shape == Shape{7, 5});

  auto h = m.cast<half>();
  auto hh = h.cast<half>();
  for (const auto& e : layerwise_error(h, hh, x)) CHECK(e.max_abs == 0.0);

  // A real twin differs, and the reported figures match a naive comparison.
  const auto eh = layerwise_error(m, h, x);
  const auto tr = m.forward_trace(x);
  const auto tl = h.forward_trace(cast<half>(x));
  for (std::size_t l = 0; l < tr.size(); ++l) {
    double mx = 0, sum = 0;
    for (std::size_t k = 0; k < tr[l].size(); ++k) {
      const double d = std::fabs(double(tr[l][k]) - double(tl[l][k]));
      mx = std::max(mx, d);
      sum += d;
    }
    CAPTURE(l);
    CHECK(eh[l].max_abs == mx);
    CHECK(eh[l].mean_abs == doctest::Approx(sum / double(tr[l].size())).epsilon(1e-12));
    CHECK(eh[l].max_abs > 0.0);
  }
}

TEST_CASE("comparing on a Dataset equals comparing on its batch tensor") {
  const std::size_t n = 37;
  Rng rng(9);
  std::vector<float> values(n * 4);
  for (auto& v : values) v = static_cast<float>(rng.uniform(-2.0, 2.0));
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(3));
  auto ds = data::Dataset::from_float("tiny", {n, 1, 2, 2}, values, labels, 3);

  nn::Sequential<float> ref;
  ref.add<nn::Flatten>();
  ref.add<nn::Dense>(4, 8);
  ref.add<nn::Sigmoid>();
  ref.add<nn::Dense>(8, 3);
  ref.init(21);
  auto low = rounded_twin<bfloat16>(ref);

  CompareOptions opt;
  opt.batch_size = 10;
  const auto a = compare(ref, low, ds, TwinKind::Rounded, opt);
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  const auto b =
      compare(ref, low, ds.batch<float>(all, data::Layout::NCHW), labels, TwinKind::Rounded, opt);
  REQUIRE(a.size() == n);
  REQUIRE(b.size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(a.samples[i].delta == b.samples[i].delta);
    CHECK(a.samples[i].gamma == b.samples[i].gamma);
    CHECK(a.samples[i].label == labels[i]);
  }
  CHECK(a.layers.size() == 4);
  CHECK(a.correct_ref == b.correct_ref);
  CHECK(a.twin.low_type == "bf16");

  opt.limit = 5;
  CHECK(compare(ref, low, ds, TwinKind::Rounded, opt).size() == 5);
}

TEST_CASE("trained_twin starts from the reference's seed and runs the training callable") {
  nn::Sequential<float> ref;
  ref.add<nn::Dense>(6, 5);
  ref.add<nn::ReLU>();
  ref.add<nn::Dense>(5, 3);
  ref.init(1234);
  int calls = 0;
  std::vector<half> seen;
  auto twin = trained_twin<half>(ref, 1234, [&](nn::Sequential<half>& m) {
    ++calls;
    for (auto* p : m.parameters())
      for (half v : p->value) seen.push_back(v);
  });
  CHECK(calls == 1);
  // The same layers in double, from the same seed: the values every precision rounds from.
  nn::Sequential<double> exact;
  exact.add<nn::Dense>(6, 5);
  exact.add<nn::ReLU>();
  exact.add<nn::Dense>(5, 3);
  exact.init(1234);
  std::vector<half> expected;
  for (auto* p : exact.parameters())
    for (double v : p->value) expected.push_back(round_to<half>(v));
  REQUIRE(seen.size() == expected.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(Eigen::numext::bit_cast<std::uint16_t>(seen[i]) ==
          Eigen::numext::bit_cast<std::uint16_t>(expected[i]));
  }
  CHECK(describe_twins(ref, twin, TwinKind::Trained).label() == "fp16 trained (acc float) vs fp32");
}
