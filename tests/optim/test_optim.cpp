// Optimizers: single and double steps against updates computed by hand in double, the
// per-type epsilon policy and its errors, constants formed in the accumulator type, the
// fp16-safe squared gradient, and seeded stochastic rounding of the weight update.
#include <pure16/optim/optim.hpp>

#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

namespace {

template <Scalar T>
nn::Parameter<T> make_param(std::vector<double> w, std::vector<double> g) {
  nn::Parameter<T> p{"weight", Tensor<T>({w.size()}), Tensor<T>({g.size()})};
  for (std::size_t i = 0; i < w.size(); ++i) {
    p.value[i] = round_to<T>(w[i]);
    p.grad[i] = round_to<T>(g[i]);
  }
  return p;
}

const std::vector<double> W0{0.5, -1.25, 2.0, 0.03125};
const std::vector<double> G1{0.1, -0.3, 0.05, 2.5};
const std::vector<double> G2{-0.2, 0.4, 0.125, -1.5};

void set_grad(nn::Parameter<double>& p, const std::vector<double>& g) {
  for (std::size_t i = 0; i < g.size(); ++i) p.grad[i] = g[i];
}

}  // namespace

TEST_CASE("SGD, momentum and Nesterov steps equal hand-computed double updates") {
  for (bool nesterov : {false, true}) {
    for (double mom : {0.0, 0.9}) {
      if (nesterov && mom == 0.0) continue;
      const double lr = 0.1, wd = 0.01;
      auto p = make_param<double>(W0, G1);
      optim::SGD<double> opt({&p},
                             {.lr = lr, .momentum = mom, .nesterov = nesterov, .weight_decay = wd});
      std::vector<double> w = W0, b(W0.size(), 0.0);
      for (const auto* g : {&G1, &G2}) {
        set_grad(p, *g);
        opt.step();
        for (std::size_t i = 0; i < w.size(); ++i) {
          double d = (*g)[i] + wd * w[i];
          if (mom > 0) {
            b[i] = mom * b[i] + d;
            d = nesterov ? d + mom * b[i] : b[i];
          }
          w[i] -= lr * d;
          CHECK(p.value[i] == doctest::Approx(w[i]).epsilon(1e-14));
        }
      }
      CHECK(opt.steps() == 2);
      if (mom > 0) {
        auto st = opt.state();
        REQUIRE(st.size() == 1);
        CHECK(st[0].name == "0.momentum_buffer");
        for (std::size_t i = 0; i < b.size(); ++i)
          CHECK((*st[0].tensor)[i] == doctest::Approx(b[i]).epsilon(1e-14));
      }
    }
  }
}

TEST_CASE("RMSProp (plain, momentum, centered) equals hand-computed double updates") {
  for (int variant = 0; variant < 3; ++variant) {
    const double lr = 0.01, alpha = 0.9, eps = 1e-8, wd = 0.001;
    const double mom = variant == 1 ? 0.5 : 0.0;
    const bool centered = variant == 2;
    auto p = make_param<double>(W0, G1);
    optim::RMSProp<double> opt({&p}, {.lr = lr,
                                      .alpha = alpha,
                                      .eps = eps,
                                      .momentum = mom,
                                      .weight_decay = wd,
                                      .centered = centered});
    std::vector<double> w = W0, s(W0.size(), 0.0), b(W0.size(), 0.0), a(W0.size(), 0.0);
    for (const auto* g : {&G1, &G2}) {
      set_grad(p, *g);
      opt.step();
      for (std::size_t i = 0; i < w.size(); ++i) {
        const double d = (*g)[i] + wd * w[i];
        s[i] = alpha * s[i] + (1 - alpha) * d * d;
        double var = s[i];
        if (centered) {
          a[i] = alpha * a[i] + (1 - alpha) * d;
          var = s[i] - a[i] * a[i];
        }
        const double den = std::sqrt(var) + eps;
        if (mom > 0) {
          b[i] = mom * b[i] + d / den;
          w[i] -= lr * b[i];
        } else {
          w[i] -= lr * d / den;
        }
        CHECK(p.value[i] == doctest::Approx(w[i]).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("Adam and AdamW equal hand-computed double updates with bias correction") {
  for (bool decoupled : {false, true}) {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
    auto p = make_param<double>(W0, G1);
    std::unique_ptr<optim::Optimizer<double>> opt;
    if (decoupled)
      opt = std::make_unique<optim::AdamW<double>>(
          std::vector<nn::Parameter<double>*>{&p},
          optim::AdamWOptions{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd});
    else
      opt = std::make_unique<optim::Adam<double>>(
          std::vector<nn::Parameter<double>*>{&p},
          optim::AdamOptions{.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd});
    CHECK(opt->name() == (decoupled ? "AdamW" : "Adam"));
    std::vector<double> w = W0, m(W0.size(), 0.0), v(W0.size(), 0.0);
    int t = 0;
    for (const auto* g : {&G1, &G2}) {
      set_grad(p, *g);
      opt->step();
      ++t;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const double d = (*g)[i] + (decoupled ? 0.0 : wd * w[i]);
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        if (decoupled) w[i] *= 1 - lr * wd;
        const double mh = m[i] / (1 - std::pow(b1, t)), vh = v[i] / (1 - std::pow(b2, t));
        w[i] -= lr * mh / (std::sqrt(vh) + eps);
        CHECK(p.value[i] == doctest::Approx(w[i]).epsilon(1e-12));
      }
    }
    auto st = opt->state();
    REQUIRE(st.size() == 2);
    CHECK(st[0].name == "0.exp_avg");
    CHECK(st[1].name == "0.exp_avg_sq");
    for (std::size_t i = 0; i < m.size(); ++i) {
      CHECK((*st[0].tensor)[i] == doctest::Approx(m[i]).epsilon(1e-12));
      CHECK((*st[1].tensor)[i] == doctest::Approx(v[i]).epsilon(1e-12));
    }
  }
}

TEST_CASE_TEMPLATE("a 16-bit optimizer step is the double update rounded once", T, half, bfloat16,
                   float) {
  // Parameters and gradients exactly representable in T; each stored value of one step is
  // the double formula rounded to T, up to one unit in the last place (float evaluation).
  auto p = make_param<T>(W0, G1);
  auto pd = make_param<double>(W0, G1);
  for (std::size_t i = 0; i < W0.size(); ++i) {
    pd.value[i] = static_cast<double>(p.value[i]);
    pd.grad[i] = static_cast<double>(p.grad[i]);
  }
  const optim::AdamOptions o{.lr = 0.01, .weight_decay = 0.01};
  optim::Adam<T> a(std::vector<nn::Parameter<T>*>{&p}, o);
  auto od = o;
  od.eps = static_cast<double>(a.epsilon());
  optim::Adam<double> ad(std::vector<nn::Parameter<double>*>{&pd}, od);
  a.step();
  ad.step();
  for (std::size_t i = 0; i < W0.size(); ++i) {
    // one rounding to T (u), plus a few float roundings of the evaluation in acc_t<T>
    const double rel = 2 * unit_roundoff<T>() + 8 * unit_roundoff<float>();
    const double expect = static_cast<double>(round_to<T>(pd.value[i]));
    CHECK(std::fabs(static_cast<double>(p.value[i]) - expect) <= rel * std::fabs(expect));
    const double m = static_cast<double>(round_to<T>((*ad.state()[0].tensor)[i]));
    CHECK(std::fabs(static_cast<double>((*a.state()[0].tensor)[i]) - m) <= rel * std::fabs(m));
  }
}

TEST_CASE("default epsilons are normal numbers of their type") {
  CHECK(optim::default_epsilon<half>() == 1e-4);
  CHECK(optim::default_epsilon<bfloat16>() == 1e-8);
  CHECK(optim::default_epsilon<float>() == 1e-8);
  CHECK(optim::default_epsilon<double>() == 1e-8);
  CHECK(static_cast<float>(round_to<half>(1e-4)) >=
        static_cast<float>(scalar_traits<half>::min_normal()));
  CHECK(static_cast<float>(round_to<bfloat16>(1e-8)) >=
        static_cast<float>(scalar_traits<bfloat16>::min_normal()));
  nn::Parameter<half> p{"w", Tensor<half>({2}), Tensor<half>({2})};
  optim::Adam<half> a({&p});
  CHECK(static_cast<float>(a.epsilon()) == static_cast<float>(round_to<half>(1e-4)));
  optim::RMSProp<half> r({&p});
  CHECK(static_cast<float>(r.epsilon()) == static_cast<float>(round_to<half>(1e-4)));
}

TEST_CASE("an epsilon that rounds to zero or to a subnormal is an error naming it and T") {
  nn::Parameter<half> p{"w", Tensor<half>({2}), Tensor<half>({2})};
  using V = std::vector<nn::Parameter<half>*>;
  CHECK_THROWS_WITH_AS(optim::Adam<half>(V{&p}, {.eps = 1e-8}),
                       doctest::Contains("epsilon 1e-08 rounds to 0 in fp16"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::AdamW<half>(V{&p}, {.eps = 1e-8}),
                       doctest::Contains("AdamW: epsilon 1e-08 rounds to 0 in fp16"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::RMSProp<half>(V{&p}, {.eps = 1e-8}),
                       doctest::Contains("RMSProp: epsilon 1e-08 rounds to 0 in fp16"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::Adam<half>(V{&p}, {.eps = 1e-7}),
                       doctest::Contains("epsilon 1e-07 rounds to the subnormal"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::Adam<half>(V{&p}, {.eps = 1e-7}), doctest::Contains("fp16"),
                       pure16::InvalidArgument);
  optim::Adam<half> allowed(V{&p}, {.eps = 1e-7, .allow_subnormal_eps = true});
  CHECK(static_cast<float>(allowed.epsilon()) == static_cast<float>(round_to<half>(1e-7)));
  CHECK(static_cast<float>(allowed.epsilon()) > 0.0f);
  CHECK_THROWS_AS(optim::Adam<half>(V{&p}, {.eps = 0.0}), pure16::InvalidArgument);
  CHECK_THROWS_AS(optim::Adam<half>(V{&p}, {.eps = -1e-3}), pure16::InvalidArgument);
  nn::Parameter<float> pf{"w", Tensor<float>({2}), Tensor<float>({2})};
  CHECK_THROWS_WITH_AS(optim::Adam<float>({&pf}, {.eps = 1e-46}),
                       doctest::Contains("rounds to 0 in fp32"), pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::Adam<float>({&pf}, {.eps = 1e-40}), doctest::Contains("subnormal"),
                       pure16::InvalidArgument);
  nn::Parameter<bfloat16> pb{"w", Tensor<bfloat16>({2}), Tensor<bfloat16>({2})};
  CHECK_NOTHROW(optim::Adam<bfloat16>({&pb}, {.eps = 1e-8}));
  // other bad hyper-parameters
  CHECK_THROWS_AS(optim::Adam<half>(V{&p}, {.beta2 = 1.0}), pure16::InvalidArgument);
  CHECK_THROWS_AS(optim::SGD<half>(V{&p}, {.lr = -1}), pure16::InvalidArgument);
  CHECK_THROWS_AS(optim::SGD<half>(V{&p}, {.lr = 0.1, .nesterov = true}), pure16::InvalidArgument);
  nn::Parameter<half> bad{"w", Tensor<half>({2}), Tensor<half>({3})};
  CHECK_THROWS_WITH_AS(optim::SGD<half>(V{&bad}), doctest::Contains("parameter 0 (w)"),
                       pure16::InvalidArgument);
}

TEST_CASE("bf16 Adam forms 1 - beta2 in float (0.999 is 1.0 in bf16)") {
  CHECK(static_cast<float>(round_to<bfloat16>(0.999)) == 1.0f);
  auto p = make_param<bfloat16>({1.0}, {1.0});
  optim::Adam<bfloat16> a({&p}, {.lr = 0.01});
  a.step();
  const float v = static_cast<float>((*a.state()[1].tensor)[0]);
  CHECK(v == static_cast<float>(round_to<bfloat16>(0.001)));
  // first Adam step moves by lr * sign(g) (bias-corrected m / sqrt(v) = 1)
  CHECK(static_cast<float>(p.value[0]) == static_cast<float>(round_to<bfloat16>(1.0 - 0.01)));
}

TEST_CASE("fp16 Adam and RMSProp survive gradients whose square overflows fp16") {
  auto p = make_param<half>({1.0, -2.0}, {300.0, -1000.0});
  optim::Adam<half> a({&p}, {.lr = 0.01});
  a.step();
  const Tensor<half>& v = *a.state()[1].tensor;
  CHECK(static_cast<float>(v[0]) == static_cast<float>(round_to<half>(0.001 * 300.0 * 300.0)));
  CHECK(static_cast<float>(v[1]) == static_cast<float>(round_to<half>(0.001 * 1e6)));
  CHECK(static_cast<float>(p.value[0]) == static_cast<float>(round_to<half>(0.99)));
  CHECK(static_cast<float>(p.value[1]) == static_cast<float>(round_to<half>(-1.99)));
  auto q = make_param<half>({1.0}, {300.0});
  optim::RMSProp<half> r({&q}, {.lr = 0.01});
  r.step();
  const float s = static_cast<float>((*r.state()[0].tensor)[0]);
  CHECK(s == static_cast<float>(round_to<half>(0.01 * 90000.0)));
  CHECK(std::isfinite(static_cast<float>(q.value[0])));
  CHECK(static_cast<float>(q.value[0]) == doctest::Approx(1.0 - 0.01 * 300.0 / 30.0).epsilon(2e-3));
}

TEST_CASE("stochastic rounding of fp16 weight updates: unbiased where nearest stalls") {
  // An update of 1e-4 is 0.2 ulp of fp16 just below 1: nearest rounding never moves the
  // weight; stochastic rounding moves it by the right amount on average.
  auto pn = make_param<half>({1.0}, {1.0});
  auto ps = make_param<half>({1.0}, {1.0});
  optim::SGD<half> nearest({&pn}, {.lr = 1e-4});
  optim::SGD<half> stoch({&ps}, {.lr = 1e-4, .rounding = Rounding::Stochastic, .seed = 7});
  for (int i = 0; i < 1000; ++i) {
    nearest.step();
    stoch.step();
  }
  CHECK(static_cast<float>(pn.value[0]) == 1.0f);
  CHECK(static_cast<float>(ps.value[0]) == doctest::Approx(0.9).epsilon(0.03));
  // reproducible from the seed
  auto p2 = make_param<half>({1.0}, {1.0});
  optim::SGD<half> again({&p2}, {.lr = 1e-4, .rounding = Rounding::Stochastic, .seed = 7});
  for (int i = 0; i < 1000; ++i) again.step();
  CHECK(static_cast<float>(p2.value[0]) == static_cast<float>(ps.value[0]));
}

TEST_CASE("optimizers train a model end to end in every type; set_lr and state names") {
  nn::Sequential<half> m;
  m.add<nn::Dense>(3, 4);
  m.add<nn::ReLU>();
  m.add<nn::Dense>(4, 2);
  m.init(3);
  optim::SGD<half> sgd(m.parameters(), {.lr = 0.1, .momentum = 0.9});
  auto names = sgd.state();
  REQUIRE(names.size() == 4);
  CHECK(names[3].name == "3.momentum_buffer");
  sgd.set_lr(0.05);
  CHECK(sgd.lr() == 0.05);
  CHECK_THROWS_AS(sgd.set_lr(-1.0), pure16::InvalidArgument);
}
