// Conv2D and pooling against naive direct-loop references (double), forward and backward,
// and the layers' fp16/bf16 outputs against the double output within a bound derived
// from the unit roundoff.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

namespace {

struct ConvCase {
  std::size_t n, c, h, w, o, k, s, p;
};

// y[n,o,oy,ox] = b[o] + sum_{c,i,j} w[o,c,i,j] x[n,c,oy*s+i-p,ox*s+j-p]; and its adjoints.
struct ConvRef {
  Tensor<double> y, dx, dw, db;
};

ConvRef conv_reference(const ConvCase& cs, const Tensor<double>& x, const Tensor<double>& w,
                       const Tensor<double>& b, const Tensor<double>& dy) {
  const std::size_t oh = (cs.h + 2 * cs.p - cs.k) / cs.s + 1,
                    ow = (cs.w + 2 * cs.p - cs.k) / cs.s + 1;
  ConvRef r{Tensor<double>({cs.n, cs.o, oh, ow}), Tensor<double>(x.shape()),
            Tensor<double>(w.shape()), Tensor<double>({cs.o})};
  for (std::size_t n = 0; n < cs.n; ++n)
    for (std::size_t o = 0; o < cs.o; ++o)
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) {
          double s = b[o];
          const double g = dy(n, o, oy, ox);
          r.db[o] += g;
          for (std::size_t c = 0; c < cs.c; ++c)
            for (std::size_t i = 0; i < cs.k; ++i)
              for (std::size_t j = 0; j < cs.k; ++j) {
                const long iy = long(oy * cs.s + i) - long(cs.p),
                           ix = long(ox * cs.s + j) - long(cs.p);
                if (iy < 0 || ix < 0 || iy >= long(cs.h) || ix >= long(cs.w)) continue;
                s += w(o, c, i, j) * x(n, c, std::size_t(iy), std::size_t(ix));
                r.dw(o, c, i, j) += g * x(n, c, std::size_t(iy), std::size_t(ix));
                r.dx(n, c, std::size_t(iy), std::size_t(ix)) += g * w(o, c, i, j);
              }
          r.y(n, o, oy, ox) = s;
        }
  return r;
}

void check_close(const Tensor<double>& a, const Tensor<double>& b, double tol, const char* what) {
  REQUIRE(a.shape() == b.shape());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(what << "[" << i << "] " << a[i] << " vs " << b[i]);
    CHECK(std::fabs(a[i] - b[i]) <= tol * (1 + std::fabs(b[i])));
  }
}

}  // namespace

TEST_CASE("Conv2D forward/backward equal a direct-loop convolution") {
  Rng rng(10);
  for (ConvCase cs : {ConvCase{2, 3, 7, 6, 4, 3, 2, 1}, ConvCase{1, 2, 5, 5, 3, 2, 1, 0},
                      ConvCase{3, 1, 6, 7, 2, 3, 3, 2}, ConvCase{2, 4, 9, 8, 5, 5, 1, 2},
                      ConvCase{1, 1, 4, 4, 1, 1, 2, 0}}) {
    INFO("c=" << cs.c << " h=" << cs.h << " w=" << cs.w << " o=" << cs.o << " k=" << cs.k
              << " s=" << cs.s << " p=" << cs.p);
    for (auto acc : {Accumulate::Float, Accumulate::Native}) {
      nn::Conv2D<double> l(cs.c, cs.o, cs.k, cs.s, cs.p);
      l.set_accumulate(acc);
      randomize_params<double>(l, rng);
      auto x = randn<double>({cs.n, cs.c, cs.h, cs.w}, rng);
      auto y = l.forward(x, nn::Mode::Train);
      auto dy = randn<double>(y.shape(), rng);
      auto dx = l.backward(dy);
      auto ref = conv_reference(cs, x, l.weight().value, l.bias().value, dy);
      check_close(y, ref.y, 1e-12, "y");
      check_close(dx, ref.dx, 1e-12, "dx");
      check_close(l.weight().grad, ref.dw, 1e-12, "dw");
      check_close(l.bias().grad, ref.db, 1e-12, "db");
    }
  }
}

TEST_CASE_TEMPLATE(
    "Conv2D inference on a batch built in image groups equals the direct loop and "
    "the training forward bit for bit",
    T, half, float) {
  // 3 -> 8 channels, 3x3, 40x40: 27 * 1600 im2col elements per image, so an inference batch of
  // 100 images is built in groups of 48, 48 and 4 images (2^21 elements per group).
  Rng rng(11);
  const ConvCase cs{100, 3, 40, 40, 8, 3, 1, 1};
  nn::Conv2D<double> ld(cs.c, cs.o, cs.k, cs.s, cs.p);
  randomize_params<T>(ld, rng);
  nn::Conv2D<T> l(cs.c, cs.o, cs.k, cs.s, cs.p);
  copy_state(ld, l);
  const auto xd = randn<double>({cs.n, cs.c, cs.h, cs.w}, rng);
  const auto x = pure16::cast<T>(xd);
  const auto y_eval = l.forward(x, nn::Mode::Eval);
  const auto y_train = l.forward(x, nn::Mode::Train);
  REQUIRE(y_eval.shape() == y_train.shape());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < y_eval.size(); ++i)
    differ += std::memcmp(&y_eval[i], &y_train[i], sizeof(T)) != 0;
  CHECK(differ == 0);
  // Against the double loop on the inputs as rounded to T: 27 products and the bias summed in
  // float, then one rounding to T, so |error| <= u_T |y| + 28 u_float S (1 + u_T) + eta_T, where
  // S = |b| + sum |w x| is the same loop over absolute values and eta_T the absolute error of
  // a subnormal result (2^-25 in fp16).
  const Tensor<double> none({cs.n, cs.o, cs.h, cs.w});
  const auto xr = pure16::cast<double>(x);
  const auto ref = conv_reference(cs, xr, ld.weight().value, ld.bias().value, none);
  auto abs_of = [](Tensor<double> t) {
    for (auto& v : t) v = std::fabs(v);
    return t;
  };
  const auto mag =
      conv_reference(cs, abs_of(xr), abs_of(ld.weight().value), abs_of(ld.bias().value), none);
  const double u = std::is_same_v<T, half> ? std::ldexp(1.0, -11) : std::ldexp(1.0, -24);
  const double eta = std::is_same_v<T, half> ? std::ldexp(1.0, -25) : 0.0;
  std::size_t outside = 0;
  for (std::size_t i = 0; i < ref.y.size(); ++i) {
    const double bound =
        u * std::fabs(ref.y[i]) + 28 * std::ldexp(1.0, -24) * mag.y[i] * (1 + u) + eta;
    outside += std::fabs(double(y_eval[i]) - ref.y[i]) > bound;
  }
  CHECK(outside == 0);
}

TEST_CASE("MaxPool2D and AvgPool2D equal direct loops, forward and backward") {
  Rng rng(11);
  for (auto [k, s] : {std::pair<std::size_t, std::size_t>{2, 2}, {3, 1}, {2, 3}, {3, 2}}) {
    const std::size_t N = 2, C = 3, H = 7, W = 8, OH = (H - k) / s + 1, OW = (W - k) / s + 1;
    auto x = randn<double>({N, C, H, W}, rng);
    nn::MaxPool2D<double> mp(k, s);
    nn::AvgPool2D<double> ap(k, s);
    auto ym = mp.forward(x, nn::Mode::Train);
    auto ya = ap.forward(x, nn::Mode::Train);
    REQUIRE(ym.shape() == Shape{N, C, OH, OW});
    auto dy = randn<double>(ym.shape(), rng);
    auto dxm = mp.backward(dy);
    auto dxa = ap.backward(dy);
    Tensor<double> rdm({N, C, H, W}), rda({N, C, H, W});
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t oy = 0; oy < OH; ++oy)
          for (std::size_t ox = 0; ox < OW; ++ox) {
            double best = -1e300, sum = 0;
            std::size_t by = 0, bx = 0;
            for (std::size_t i = 0; i < k; ++i)
              for (std::size_t j = 0; j < k; ++j) {
                const double v = x(n, c, oy * s + i, ox * s + j);
                sum += v;
                if (v > best) {
                  best = v;
                  by = oy * s + i;
                  bx = ox * s + j;
                }
              }
            CHECK(ym(n, c, oy, ox) == best);
            CHECK(ya(n, c, oy, ox) == doctest::Approx(sum / double(k * k)).epsilon(1e-14));
            rdm(n, c, by, bx) += dy(n, c, oy, ox);
            for (std::size_t i = 0; i < k; ++i)
              for (std::size_t j = 0; j < k; ++j)
                rda(n, c, oy * s + i, ox * s + j) += dy(n, c, oy, ox) / double(k * k);
          }
    check_close(dxm, rdm, 1e-14, "maxpool dx");
    check_close(dxa, rda, 1e-14, "avgpool dx");
  }
  nn::MaxPool2D<double> mp(3);
  CHECK_THROWS_WITH_AS(mp.forward(Tensor<double>({1, 1, 2, 5}), nn::Mode::Eval),
                       doctest::Contains("MaxPool2D(kernel=3)"), pure16::InvalidArgument);
}

TEST_CASE("MaxPool2D 2x2/2 in fp16: ties go to the first maximum, a NaN wins, odd sizes") {
  // values with many ties (small integers) and NaNs; H, W odd so the last row/column drop
  const std::size_t N = 2, C = 3, H = 7, W = 9, OH = 3, OW = 4;
  Rng rng(5);
  Tensor<half> x({N, C, H, W});
  for (auto& v : x) v = half(float(rng.below(3)));
  x[10] = half(std::nanf(""));
  x[W + 3] = half(std::nanf(""));  // second row of the window at (0, 1), after a number
  x[2 * H * W + 4] = -half(std::numeric_limits<float>::infinity());
  nn::MaxPool2D<half> mp(2);
  auto y = mp.forward(x, nn::Mode::Train);
  REQUIRE(y.shape() == Shape{N, C, OH, OW});
  Tensor<half> dy(y.shape());
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = half(float(i % 7) + 1.0f);
  auto dx = mp.backward(dy);
  std::vector<float> rdx(x.size(), 0.0f);
  for (std::size_t nc = 0; nc < N * C; ++nc)
    for (std::size_t oy = 0; oy < OH; ++oy)
      for (std::size_t ox = 0; ox < OW; ++ox) {
        std::size_t best = nc * H * W + 2 * oy * W + 2 * ox;
        for (std::size_t i = 0; i < 2; ++i)
          for (std::size_t j = 0; j < 2; ++j) {
            const std::size_t at = nc * H * W + (2 * oy + i) * W + 2 * ox + j;
            const float v = float(x[at]), b = float(x[best]);
            if (!std::isnan(b) && (std::isnan(v) || v > b)) best = at;
          }
        const std::size_t o = (nc * OH + oy) * OW + ox;
        const float got = float(y[o]), want = float(x[best]);
        CHECK(((std::isnan(got) && std::isnan(want)) || got == want));
        rdx[best] += float(dy[o]);
      }
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(float(dx[i]) == rdx[i]);
}

// ---- fp16 / bf16 outputs against double ---------------------------------------------

namespace {

/// Runs `spec` in double and in T on the same (T-representable) parameters and inputs, and
/// checks |y_T - y_d| <= bound(i, y_d[i], y_abs[i]) where y_abs is the double layer applied
/// to |x| with |parameters| (the sum of |terms| of each output of a linear layer).
template <Scalar T, class Bound>
void compare_with_double(const nn::LayerSpec& spec, const Shape& xshape, Accumulate acc,
                         Bound bound, double mean = 0.0, double sd = 1.0) {
  Rng rng(77);
  auto ld = nn::make_layer<double>(spec);
  auto lt = nn::make_layer<T>(spec);
  ld->set_accumulate(acc);
  lt->set_accumulate(acc);
  ld->set_seed(5);
  lt->set_seed(5);
  randomize_params<T>(*ld, rng, 0.5);
  copy_state(*ld, *lt);
  auto xt = randn<T>(xshape, rng, sd, mean);
  auto xd = to_double(xt);
  auto yd = ld->forward(xd, nn::Mode::Train);
  auto yt = to_double(lt->forward(xt, nn::Mode::Train));
  // |x|, |params|
  auto la = nn::make_layer<double>(spec);
  la->set_seed(5);
  copy_state(*ld, *la);
  for (auto* p : la->parameters())
    for (auto& v : p->value) v = std::fabs(v);
  Tensor<double> xa = xd.clone();
  for (auto& v : xa) v = std::fabs(v);
  auto ya = la->forward(xa, nn::Mode::Train);
  REQUIRE(yt.shape() == yd.shape());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < yd.size(); ++i) {
    const double err = std::fabs(yt[i] - yd[i]), b = bound(i, yd[i], ya[i]);
    if (!(err <= b)) {
      if (bad++ < 5) {
        INFO(spec.type << " " << scalar_traits<T>::name << " y[" << i << "] = " << yt[i]
                       << ", double " << yd[i] << ", error " << err << " > bound " << b);
        CHECK(err <= b);
      }
    }
  }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("fp16/bf16 layer outputs are within unit-roundoff bounds of double", T, half,
                   bfloat16) {
  const double u = unit_roundoff<T>();
  const double uf = unit_roundoff<float>();
  const double tiny = static_cast<double>(scalar_traits<T>::min_subnormal());
  // One rounding of an exactly computed value (float evaluation adds a few float ulps).
  auto one_rounding = [&](std::size_t, double y, double) {
    return u * std::fabs(y) + 8 * uf * std::fabs(y) + tiny;
  };
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    // Dense / Conv2D: a K-term dot product plus bias. Float: float sums (gamma_K in float),
    // one rounding to T. Native: every partial sum rounded to T: gamma_{K+1} in T.
    auto dot_bound = [&](std::size_t K) {
      return [&, K](std::size_t, double y, double yabs) {
        const double g = acc == Accumulate::Float ? (K + 2) * uf : (K + 2) * u * (1 + (K + 2) * u);
        return u * std::fabs(y) + g * yabs + tiny;
      };
    };
    compare_with_double<T>({"Dense", {{"in", 37}, {"out", 9}, {"bias", 1}}}, {6, 37}, acc,
                           dot_bound(37));
    compare_with_double<T>({"Conv2D",
                            {{"in_channels", 3},
                             {"out_channels", 4},
                             {"kernel", 3},
                             {"stride", 2},
                             {"padding", 1},
                             {"bias", 1}}},
                           {2, 3, 9, 7}, acc, dot_bound(27));
    compare_with_double<T>({"AvgPool2D", {{"kernel", 3}, {"stride", 2}}}, {2, 3, 9, 7}, acc,
                           [&](std::size_t, double y, double yabs) {
                             const double g = acc == Accumulate::Float ? 11 * uf : 11 * u * 1.1;
                             return u * std::fabs(y) + g * yabs + tiny;
                           });
    compare_with_double<T>({"MaxPool2D", {{"kernel", 2}, {"stride", 2}}}, {2, 3, 9, 7}, acc,
                           [](std::size_t, double, double) { return 0.0; });
  }
  for (const char* act : {"ReLU", "Tanh", "Sigmoid"})
    compare_with_double<T>({act, {}}, {4, 3, 5}, Accumulate::Float, one_rounding, 0.0, 3.0);
  compare_with_double<T>({"LeakyReLU", {{"slope", 0.1}}}, {4, 3, 5}, Accumulate::Float,
                         one_rounding);
  compare_with_double<T>({"Dropout", {{"p", 0.3}}}, {4, 30}, Accumulate::Float, one_rounding);
  compare_with_double<T>({"Flatten", {}}, {4, 3, 5}, Accumulate::Float,
                         [](std::size_t, double, double) { return 0.0; });
  // BatchNorm: y = g x_hat + b with inv_std rounded to T once and y rounded once:
  // |error| <= u |y| + (u + statistics error) |g x_hat|, and |g x_hat| <= |y| + |b| with
  // |b| < 2.5 for these N(0, 0.5^2) parameters. Native statistics carry a few more T
  // roundings of the (shifted, scaled) mean and variance.
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    compare_with_double<T>(
        {"BatchNorm", {{"num_features", 3}, {"eps", 1e-5}, {"momentum", 0.1}}}, {8, 3, 4, 4}, acc,
        [&](std::size_t, double y, double) {
          const double stat = acc == Accumulate::Float ? 1.5 * u : 6 * u;
          return u * std::fabs(y) + stat * (std::fabs(y) + 2.5) + tiny;
        },
        2.0, 1.5);
  }
}

TEST_CASE_TEMPLATE("softmax probabilities and the loss in fp16/bf16 track double", T, half,
                   bfloat16) {
  Rng rng(12);
  auto lt = randn<T>({5, 10}, rng, 4.0);
  auto ld = to_double(lt);
  auto pt = to_double(nn::softmax(lt));
  auto pd = nn::softmax(ld);
  const double u = unit_roundoff<T>();
  for (std::size_t i = 0; i < pd.size(); ++i)
    CHECK(std::fabs(pt[i] - pd[i]) <= 2 * u * pd[i] + 1e-7);
  std::vector<std::int32_t> labels{0, 3, 9, 5, 1};
  auto ct = nn::softmax_cross_entropy(lt, labels);
  auto cd = nn::softmax_cross_entropy(ld, labels);
  CHECK(std::fabs(ct.loss - cd.loss) <= 1e-5 * (1 + cd.loss));
  for (std::size_t i = 0; i < cd.grad.size(); ++i)
    CHECK(std::fabs(double(ct.grad[i]) - cd.grad[i]) <= 2 * u * std::fabs(cd.grad[i]) + 1e-7);
}
