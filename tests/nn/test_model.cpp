// Sequential, factory, initializers, twins across precisions, Dropout and the non-finite
// guard.
#include <cstring>

#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

namespace {

std::vector<nn::LayerSpec> every_layer_specs() {
  return {
      {"Conv2D",
       {{"in_channels", 1},
        {"out_channels", 3},
        {"kernel", 3},
        {"stride", 1},
        {"padding", 1},
        {"bias", 1}}},
      {"BatchNorm", {{"num_features", 3}, {"eps", 1e-5}, {"momentum", 0.1}}},
      {"LeakyReLU", {{"slope", 0.05}}},
      {"MaxPool2D", {{"kernel", 2}, {"stride", 2}}},
      {"Conv2D",
       {{"in_channels", 3},
        {"out_channels", 4},
        {"kernel", 2},
        {"stride", 2},
        {"padding", 0},
        {"bias", 0},
        {"init", 4}}},
      {"AvgPool2D", {{"kernel", 1}, {"stride", 1}}},
      {"Sigmoid", {}},
      {"Flatten", {}},
      {"Dropout", {{"p", 0.25}}},
      {"Dense", {{"in", 16}, {"out", 8}, {"bias", 1}, {"init", 1}}},
      {"BatchNorm", {{"num_features", 8}, {"eps", 1e-3}, {"momentum", 0.2}}},
      {"Tanh", {}},
      {"Dense", {{"in", 8}, {"out", 6}, {"bias", 0}}},
      {"ReLU", {}},
      {"Dense", {{"in", 6}, {"out", 3}, {"bias", 1}, {"init", 3}}},
  };
}

template <Scalar T, Scalar U>
void check_rounded_equal(nn::Sequential<T>& t, nn::Sequential<U>& u) {
  auto st = t.state();
  auto su = u.state();
  REQUIRE(st.size() == su.size());
  for (std::size_t i = 0; i < st.size(); ++i) {
    CHECK(st[i].name == su[i].name);
    REQUIRE(st[i].tensor->size() == su[i].tensor->size());
    for (std::size_t k = 0; k < st[i].tensor->size(); ++k) {
      const T expect = round_to<T>(static_cast<double>((*su[i].tensor)[k]));
      const T got = (*st[i].tensor)[k];
      if (std::memcmp(&expect, &got, sizeof(T)) != 0) {
        INFO(st[i].name << "[" << k << "]");
        CHECK(static_cast<double>(got) == static_cast<double>(expect));
      }
    }
  }
}

}  // namespace

TEST_CASE_TEMPLATE("factory round-trips the spec of every layer", T, half, bfloat16, float,
                   double) {
  for (const auto& spec : every_layer_specs()) {
    auto l = nn::make_layer<T>(spec);
    CHECK(l->spec() == spec);
    CHECK(l->type() == spec.type);
  }
  auto m = nn::Sequential<T>::from_specs(every_layer_specs());
  CHECK(m.specs() == every_layer_specs());
  // defaults for optional arguments
  auto mp = nn::make_layer<T>({"MaxPool2D", {{"kernel", 3}}});
  CHECK(mp->spec().get("stride") == 3);
  auto cv = nn::make_layer<T>({"Conv2D", {{"in_channels", 2}, {"out_channels", 2}, {"kernel", 3}}});
  CHECK(cv->spec().get("stride") == 1);
  CHECK(cv->spec().get("padding") == 0);
  CHECK(cv->spec().get("bias") == 1);
}

TEST_CASE("factory errors name the unknown type or the missing/invalid argument") {
  CHECK_THROWS_WITH_AS(nn::make_layer<float>({"Bogus", {}}),
                       doctest::Contains("unknown layer type 'Bogus'"), pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(nn::make_layer<float>({"Dense", {{"in", 3}}}),
                       doctest::Contains("'Dense' has no argument 'out'"), pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(
      nn::make_layer<float>({"Conv2D", {{"in_channels", 1}, {"out_channels", 2}, {"kernel", -3}}}),
      doctest::Contains("'kernel'"), pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(nn::make_layer<float>({"Dense", {{"in", 2.5}, {"out", 2}}}),
                       doctest::Contains("'in'"), pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(nn::make_layer<float>({"Dense", {{"in", 2}, {"out", 2}, {"init", 9}}}),
                       doctest::Contains("initializer"), pure16::InvalidArgument);
  CHECK_THROWS_AS(nn::make_layer<float>({"Dropout", {{"p", 1.5}}}), pure16::InvalidArgument);
}

TEST_CASE_TEMPLATE("the same seed gives the same weights in every precision up to one rounding", T,
                   half, bfloat16, float) {
  auto md = nn::Sequential<double>::from_specs(every_layer_specs());
  auto mt = nn::Sequential<T>::from_specs(every_layer_specs());
  md.init(42);
  mt.init(42);
  check_rounded_equal(mt, md);
  // and the weights are not trivially zero
  double norm = 0;
  for (auto* p : md.parameters())
    for (auto v : p->value) norm += v * v;
  CHECK(norm > 1.0);
  // cast<U>() builds the twin with rounded weights; a round trip through a wider type is exact
  auto twin = md.cast<T>();
  check_rounded_equal(twin, md);
  CHECK(twin.specs() == md.specs());
  auto back = twin.template cast<double>();
  check_rounded_equal(twin, back);
}

TEST_CASE("initializer statistics and PyTorch's default bounds") {
  Rng rng(1);
  nn::Dense<double> d(400, 300);
  d.reset_parameters(rng);
  const double bound = 1.0 / std::sqrt(400.0);
  double mx = 0, s2 = 0;
  for (auto v : d.weight().value) {
    mx = std::max(mx, std::fabs(v));
    s2 += v * v;
  }
  CHECK(mx <= bound);
  CHECK(mx >= 0.99 * bound);
  CHECK(std::sqrt(s2 / 120000) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
  for (auto v : d.bias().value) CHECK(std::fabs(v) <= bound);
  struct Case {
    nn::Init init;
    double sd;
  };
  for (Case c : {Case{nn::Init::KaimingNormal, std::sqrt(2.0 / 400)},
                 Case{nn::Init::KaimingUniform, std::sqrt(2.0 / 400)},
                 Case{nn::Init::XavierNormal, std::sqrt(2.0 / 700)},
                 Case{nn::Init::XavierUniform, std::sqrt(2.0 / 700)}}) {
    nn::Dense<double> l(400, 300, true, c.init);
    l.reset_parameters(rng);
    double m = 0, q = 0;
    for (auto v : l.weight().value) {
      m += v;
      q += v * v;
    }
    INFO(nn::init_name(c.init));
    CHECK(std::fabs(m / 120000) < 0.01 * c.sd * 10);
    CHECK(std::sqrt(q / 120000) == doctest::Approx(c.sd).epsilon(0.02));
    for (auto v : l.bias().value) CHECK(v == 0.0);
  }
  // Conv2D fans: fan_in = in * k * k
  nn::Conv2D<double> conv(6, 16, 5);
  conv.reset_parameters(rng);
  for (auto v : conv.weight().value) CHECK(std::fabs(v) <= 1.0 / std::sqrt(150.0));
}

TEST_CASE("Sequential bookkeeping: counts, bytes, state names, accumulate policy") {
  nn::Sequential<half> m;
  m.add<nn::Flatten>();
  m.add<nn::Dense>(784, 512);
  m.add<nn::ReLU>();
  m.add<nn::Dense>(512, 512);
  m.add<nn::ReLU>();
  m.add<nn::Dense>(512, 10);
  CHECK(m.parameter_count() == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
  CHECK(m.model_bytes() == 2 * m.parameter_count());
  auto st = m.state();
  CHECK(st.front().name == "1.weight");
  CHECK(st.back().name == "5.bias");
  CHECK(st[0].tensor->shape() == Shape{512, 784});
  m.set_accumulate(Accumulate::Native);
  for (std::size_t i = 0; i < m.size(); ++i) CHECK(m[i].accumulate() == Accumulate::Native);
  auto f = m.cast<float>();
  CHECK(f.model_bytes() == 4 * m.parameter_count());
  CHECK(f[1].accumulate() == Accumulate::Native);
}

TEST_CASE("Dropout: seeded inverted dropout, identity in eval, resumable mask stream") {
  nn::Dropout<float> d(0.25);
  d.set_seed(9);
  Tensor<float> x({100, 100}, 2.0f);
  auto saved = *d.rng_state();
  auto y = d.forward(x, nn::Mode::Train);
  std::size_t zeros = 0;
  for (auto v : y) {
    if (v == 0.0f)
      ++zeros;
    else
      CHECK(v == doctest::Approx(2.0f / 0.75f));
  }
  CHECK(double(zeros) / y.size() == doctest::Approx(0.25).epsilon(0.05));
  auto dx = d.backward(Tensor<float>({100, 100}, 1.0f));
  for (std::size_t i = 0; i < dx.size(); ++i) CHECK((dx[i] == 0.0f) == (y[i] == 0.0f));
  d.set_rng_state(saved);
  auto y2 = d.forward(x, nn::Mode::Train);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y2[i] == y[i]);
  auto y3 = d.forward(x, nn::Mode::Train);
  std::size_t same = 0;
  for (std::size_t i = 0; i < y.size(); ++i) same += y3[i] == y[i];
  CHECK(same < y.size());
  auto ye = d.forward(x, nn::Mode::Eval);
  for (auto v : ye) CHECK(v == 2.0f);
  // the fp16 twin draws the same mask from the same seed
  nn::Dropout<half> dh(0.25);
  dh.set_seed(9);
  auto yh = dh.forward(pure16::cast<half>(x), nn::Mode::Train);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK((yh[i] == half(0.0f)) == (y[i] == 0.0f));
}

TEST_CASE("non-finite guard names the step, tensor and layer of the first offender") {
  nn::Sequential<half> m;
  m.add<nn::Dense>(3, 4);
  m.add<nn::ReLU>();
  m.add<nn::Dense>(4, 2);
  m.init(1);
  auto r = nn::check_finite(m, 0.5, 12);
  CHECK(r.ok);
  CHECK(r.what.empty());
  r = nn::check_finite(m, std::nan(""), 12);
  CHECK_FALSE(r.ok);
  CHECK(r.what.find("step 12: non-finite loss") != std::string::npos);
  CHECK(r.tensor == "loss");
  CHECK(r.layer == -1);
  m[2].parameters()[0]->grad[5] = half(std::numeric_limits<float>::infinity());
  m[2].parameters()[0]->grad[6] = half(std::nanf(""));
  r = nn::check_finite(m, 0.5, 12);
  CHECK_FALSE(r.ok);
  CHECK(r.what.find("step 12: non-finite gradient in 2.weight (layer 2 Dense)") !=
        std::string::npos);
  CHECK(r.what.find("2 of 8 values") != std::string::npos);
  CHECK(r.layer == 2);
  CHECK(r.tensor == "2.weight");
  m[0].parameters()[1]->value[0] = half(std::nanf(""));
  r = nn::check_finite(m, 0.5, 13);
  CHECK(r.what.find("step 13: non-finite value in 0.bias (layer 0 Dense)") != std::string::npos);
  try {
    nn::require_finite(m, 0.5, 13);
    FAIL("require_finite did not throw");
  } catch (const nn::NonFiniteError& e) {
    CHECK(e.step() == 13);
    CHECK(e.layer() == 0);
    CHECK(e.tensor() == "0.bias");
    CHECK(std::string(e.what()).find("0.bias") != std::string::npos);
  }
}

TEST_CASE("softmax cross-entropy in fp16 never produces NaN for finite logits") {
  Tensor<half> logits({3, 4});
  const float big = 60000.0f;
  const float vals[] = {big, -big, 0, big, -big, -big, -big, -big, 1, 2, 3, big};
  for (int i = 0; i < 12; ++i) logits[i] = half(vals[i]);
  std::vector<std::int32_t> labels{1, 2, 3};
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    auto out = nn::softmax_cross_entropy(logits, labels, acc);
    CHECK(std::isfinite(out.loss));
    // row 0: label 1 at -60000 against two maxima at 60000: loss = 120000 + log 2
    // row 1: all equal: log 4; row 2: label at the max: ~0
    CHECK(out.loss ==
          doctest::Approx((120000.0 + std::log(2.0) + std::log(4.0)) / 3).epsilon(1e-6));
    for (auto g : out.grad) CHECK(std::isfinite(static_cast<float>(g)));
    CHECK(static_cast<float>(out.grad[0]) == doctest::Approx(0.5f / 3).epsilon(1e-3));
    CHECK(static_cast<float>(out.grad[1]) == doctest::Approx(-1.0f / 3).epsilon(1e-3));
    auto p = nn::softmax(logits, acc);
    for (auto v : p) CHECK(std::isfinite(static_cast<float>(v)));
  }
  CHECK(nn::argmax_rows(logits) == std::vector<std::int32_t>{0, 0, 3});
  CHECK_THROWS_WITH_AS(nn::softmax_cross_entropy(logits, std::vector<std::int32_t>{1, 4, 0}),
                       doctest::Contains("label 4 of row 1 is outside [0, 4)"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(nn::softmax_cross_entropy(logits, std::vector<std::int32_t>{1, 2}),
                       doctest::Contains("2 labels for 3 rows"), pure16::InvalidArgument);
}
