// BatchNorm: PyTorch semantics against hand-computed double statistics, and the stability
// of pure fp16 statistics (large mean / small variance, activations near the fp16 limit,
// constant channels) under both accumulation policies.
#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

TEST_CASE("BatchNorm2d training and eval follow PyTorch's definitions (double)") {
  Rng rng(40);
  const std::size_t N = 3, C = 2, H = 3, W = 2, M = N * H * W;
  nn::BatchNorm<double> bn(C, 1e-5, 0.1);
  randomize_params<double>(bn, rng, 0.5, 1.0);
  auto x = randn<double>({N, C, H, W}, rng, 2.0, 1.0);
  auto y = bn.forward(x, nn::Mode::Train);
  for (std::size_t c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t q = 0; q < H * W; ++q) mean += x[(n * C + c) * H * W + q];
    mean /= M;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t q = 0; q < H * W; ++q) {
        const double d = x[(n * C + c) * H * W + q] - mean;
        var += d * d;
      }
    var /= M;
    const double g = bn.weight().value[c], b = bn.bias().value[c];
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t q = 0; q < H * W; ++q) {
        const std::size_t i = (n * C + c) * H * W + q;
        CHECK(y[i] ==
              doctest::Approx(g * (x[i] - mean) / std::sqrt(var + 1e-5) + b).epsilon(1e-12));
      }
    CHECK(bn.running_mean()[c] == doctest::Approx(0.1 * mean).epsilon(1e-12));
    CHECK(bn.running_var()[c] == doctest::Approx(0.9 + 0.1 * var * M / (M - 1)).epsilon(1e-12));
  }
  auto ye = bn.forward(x, nn::Mode::Eval);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = (i / (H * W)) % C;
    const double ref = bn.weight().value[c] * (x[i] - bn.running_mean()[c]) /
                           std::sqrt(bn.running_var()[c] + 1e-5) +
                       bn.bias().value[c];
    CHECK(ye[i] == doctest::Approx(ref).epsilon(1e-12));
  }
  auto names = bn.buffers();
  REQUIRE(names.size() == 2);
  CHECK(names[0].name == "running_mean");
  CHECK(names[1].name == "running_var");
  CHECK_THROWS_WITH_AS(bn.forward(Tensor<double>({1, C}), nn::Mode::Train),
                       doctest::Contains("more than one value per channel"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(bn.forward(Tensor<double>({4, 3}), nn::Mode::Train),
                       doctest::Contains("BatchNorm(2)"), pure16::InvalidArgument);
}

namespace {

/// fp16 BatchNorm forward on x (given in double, rounded to half) against the double layer
/// on the same half values; returns the largest error relative to (1 + |y|).
double fp16_vs_double(const Tensor<double>& x_in, Accumulate acc, bool& finite,
                      Tensor<double>* running_var_out = nullptr) {
  const std::size_t C = x_in.dim(1);
  nn::BatchNorm<half> bh(C);
  nn::BatchNorm<double> bd(C);
  bh.set_accumulate(acc);
  auto xh = pure16::cast<half>(x_in);
  auto xd = to_double(xh);
  auto yh = to_double(bh.forward(xh, nn::Mode::Train));
  auto yd = bd.forward(xd, nn::Mode::Train);
  finite = true;
  double worst = 0;
  for (std::size_t i = 0; i < yd.size(); ++i) {
    finite = finite && std::isfinite(yh[i]);
    worst = std::max(worst, std::fabs(yh[i] - yd[i]) / (1 + std::fabs(yd[i])));
  }
  // running mean = 0.1 mean: one rounding, plus (Native) the running-mean error of the
  // shifted values, a few unit roundoffs of their spread
  double spread = 0;
  for (auto v : xd) spread = std::max(spread, std::fabs(v - xd[0]));
  const double u = unit_roundoff<half>();
  for (std::size_t c = 0; c < C; ++c) {
    finite = finite && std::isfinite(static_cast<double>(bh.running_mean()[c]));
    const double rm = static_cast<double>(bh.running_mean()[c]);
    const double stat = acc == Accumulate::Float ? 1e-6 : 0.1 * 8 * u * spread;
    CHECK(std::fabs(rm - bd.running_mean()[c]) <= 2 * u * std::fabs(bd.running_mean()[c]) + stat);
  }
  if (running_var_out) *running_var_out = to_double(bh.running_var());
  return worst;
}

}  // namespace

TEST_CASE("fp16 BatchNorm: mean 1000, std 0.1 stays finite and close to double") {
  Rng rng(41);
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    for (Shape s : {Shape{256, 3}, Shape{16, 2, 6, 6}}) {
      Tensor<double> x(s);
      for (auto& v : x) v = rng.normal(1000.0, 0.1);
      bool finite = false;
      const double err = fp16_vs_double(x, acc, finite);
      INFO("shape " << shape_str(s) << (acc == Accumulate::Native ? " native" : " float"));
      CHECK(finite);
      // fp16 x_hat/inv_std carry one rounding each; Native statistics a few more.
      CHECK(err <= (acc == Accumulate::Float ? 4 : 16) * unit_roundoff<half>());
    }
  }
  // a second distribution with more distinct fp16 values: mean 100, std 0.1
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    Tensor<double> x({512, 2});
    for (auto& v : x) v = rng.normal(100.0, 0.1);
    bool finite = false;
    const double err = fp16_vs_double(x, acc, finite);
    CHECK(finite);
    CHECK(err <= (acc == Accumulate::Float ? 4 : 16) * unit_roundoff<half>());
  }
}

TEST_CASE("fp16 BatchNorm: activations near the fp16 limit do not overflow the statistics") {
  Rng rng(42);
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    // all values near 60000 (a naive fp16 sum overflows after two of them, x^2 at once)
    Tensor<double> x({128, 2});
    for (auto& v : x) v = std::min(65000.0, rng.normal(60000.0, 400.0));
    bool finite = false;
    Tensor<double> rv;
    double err = fp16_vs_double(x, acc, finite, &rv);
    CHECK(finite);
    CHECK(err <= (acc == Accumulate::Float ? 4 : 16) * unit_roundoff<half>());
    // unbiased variance ~ 400^2 = 160000 exceeds fp16: running_var (0.9 + 0.1 var) overflows
    // only if 0.1 var > 65504 — here ~16000, finite
    for (auto v : rv) CHECK(std::isfinite(v));
    // values spread over the whole fp16 range, both signs
    Tensor<double> y({64, 3});
    for (auto& v : y) v = rng.uniform(-60000.0, 60000.0);
    err = fp16_vs_double(y, acc, finite, &rv);
    CHECK(finite);
    CHECK(err <= (acc == Accumulate::Float ? 4 : 16) * unit_roundoff<half>());
  }
}

TEST_CASE("fp16 BatchNorm: a constant channel has variance 0, never negative, output beta") {
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    nn::BatchNorm<half> bn(2);
    bn.set_accumulate(acc);
    bn.bias().value[0] = half(0.5f);
    bn.bias().value[1] = half(-2.0f);
    Tensor<half> x({7, 2}, half(1000.0f));
    auto y = bn.forward(x, nn::Mode::Train);
    for (std::size_t i = 0; i < y.size(); ++i)
      CHECK(static_cast<float>(y[i]) == (i % 2 == 0 ? 0.5f : -2.0f));
    CHECK(static_cast<float>(bn.running_var()[0]) == static_cast<float>(round_to<half>(0.9)));
    CHECK(static_cast<float>(bn.running_mean()[0]) == 100.0f);
    // the backward pass is finite too
    Tensor<half> dy({7, 2}, half(1.0f));
    auto dx = bn.backward(dy);
    for (auto v : dx) CHECK(std::isfinite(static_cast<float>(v)));
  }
}
