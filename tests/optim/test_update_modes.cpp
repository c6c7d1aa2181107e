// Tests of the update modes of pure16/optim: compensated (Kahan) 16-bit updates against
// an independent double-precision trajectory where round-to-nearest fp16 stalls, and
// mixed precision (fp32 masters, dynamic loss scaling) against a float computation of the
// same steps, with exact skip / growth / backoff counts; optim::make by name.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <pure16/optim/optim.hpp>
#include <string>
#include <vector>

using namespace pure16;

namespace {

// ---- the stall problem --------------------------------------------------------------------
// Minimize f(w) = sum_j (w_j - t_j)^2 / 2 (gradient w - t) from w0_j = 1.25 + j/1024 (exact
// in fp16; ulp there 2^-10, half an ulp 4.9e-4) towards t_j = w0_j - 0.2. Each optimizer
// below takes steps of lr * (something of order 1 or less) < 4.9e-4, so round-to-nearest
// fp16 never moves a weight, while the double-precision trajectory moves by > 0.1.

constexpr std::size_t kN = 256;

double w0(std::size_t j) {
  return 1.25 + double(j) / 1024.0;
}
double target(std::size_t j) {
  return w0(j) - 0.2;
}

/// The optimizer's update rule in double (PyTorch semantics, written from the formulas).
struct Reference {
  std::string kind;  // sgd, momentum, nesterov, adam, adamw, rmsprop
  double lr, eps;
  std::vector<double> w, m, v;
  int t = 0;
  Reference(std::string k, double lr_, double eps_)
      : kind(std::move(k)), lr(lr_), eps(eps_), w(kN), m(kN, 0.0), v(kN, 0.0) {
    for (std::size_t j = 0; j < kN; ++j) w[j] = w0(j);
  }
  void step() {
    ++t;
    const double mom = 0.9, b1 = 0.9, b2 = 0.999, alpha = 0.99, wd = 0.01;
    for (std::size_t j = 0; j < kN; ++j) {
      const double g = w[j] - target(j);
      if (kind == "sgd") {
        w[j] -= lr * g;
      } else if (kind == "momentum" || kind == "nesterov") {
        m[j] = mom * m[j] + g;
        w[j] -= lr * (kind == "nesterov" ? g + mom * m[j] : m[j]);
      } else if (kind == "adam" || kind == "adamw") {
        if (kind == "adamw") w[j] *= 1 - lr * wd;
        m[j] = b1 * m[j] + (1 - b1) * g;
        v[j] = b2 * v[j] + (1 - b2) * g * g;
        const double mh = m[j] / (1 - std::pow(b1, t)), vh = v[j] / (1 - std::pow(b2, t));
        w[j] -= lr * mh / (std::sqrt(vh) + eps);
      } else {  // rmsprop
        v[j] = alpha * v[j] + (1 - alpha) * g * g;
        w[j] -= lr * g / (std::sqrt(v[j]) + eps);
      }
    }
  }
};

struct Distances {
  double max_abs = 0, rms = 0, mean = 0;  // of w_T - w_double over the elements
  double moved = 0;                       // mean |w_double - w0| (how far the truth went)
  bool stalled = true;                    // every w_T still at w0
};

struct Case {
  const char* kind;
  double lr;
  int steps;
};

template <Scalar T>
Distances run(const Case& c, Rounding rounding) {
  Parameter<T> p{"w", Tensor<T>({kN}), Tensor<T>({kN})};
  for (std::size_t j = 0; j < kN; ++j) p.value[j] = round_to<T>(w0(j));
  optim::MakeOptions o;
  o.lr = c.lr;
  o.rounding = rounding;
  o.seed = 1234;
  auto opt = optim::make<T>(c.kind, {&p}, o);
  double eps = 0;  // the epsilon the optimizer uses, for the reference
  if (auto* a = dynamic_cast<optim::Adam<T>*>(opt.get())) eps = double(a->epsilon());
  if (auto* r = dynamic_cast<optim::RMSProp<T>*>(opt.get())) eps = double(r->epsilon());
  Reference ref(c.kind, c.lr, eps);
  for (int s = 0; s < c.steps; ++s) {
    for (std::size_t j = 0; j < kN; ++j)  // the gradient of the stored weight, rounded to T
      p.grad[j] = round_to<T>(float(p.value[j]) - float(target(j)));
    opt->step();
    ref.step();
  }
  Distances d;
  for (std::size_t j = 0; j < kN; ++j) {
    const double e = double(p.value[j]) - ref.w[j];
    d.max_abs = std::max(d.max_abs, std::abs(e));
    d.rms += e * e;
    d.mean += e;
    d.moved += std::abs(ref.w[j] - w0(j));
    d.stalled = d.stalled && double(p.value[j]) == w0(j);
  }
  d.rms = std::sqrt(d.rms / kN);
  d.mean /= kN;
  d.moved /= kN;
  return d;
}

}  // namespace

TEST_CASE("compensated and stochastic fp16 track double where round-to-nearest fp16 stalls") {
  // lr * |update direction| stays below half an ulp (4.9e-4) of the weights for every
  // optimizer: sgd lr*g <= 2e-4; momentum/nesterov lr*10g <= 2e-4 (lr 1e-4 with a
  // velocity of up to g/(1-0.9)); adam(w) ~lr = 2e-4; rmsprop lr*g/sqrt(s) <= 10 lr = 4e-4.
  const Case cases[] = {{"sgd", 1e-3, 3000},  {"momentum", 1e-4, 3000}, {"nesterov", 1e-4, 3000},
                        {"adam", 2e-4, 1000}, {"adamw", 2e-4, 1000},    {"rmsprop", 4e-5, 3000}};
  const double ulp = 1.0 / 1024;
  for (const Case& c : cases) {
    const std::string kind = c.kind;
    CAPTURE(kind);
    const Distances nearest = run<half>(c, Rounding::NearestEven);
    const Distances fp32 = run<float>(c, Rounding::NearestEven);
    const Distances comp = run<half>(c, Rounding::Compensated);
    const Distances sr = run<half>(c, Rounding::Stochastic);
    MESSAGE(c.kind << ": double moved " << nearest.moved << "; max |w - w_double|: fp16 nearest "
                   << nearest.max_abs << ", fp32 " << fp32.max_abs << ", fp16 compensated "
                   << comp.max_abs << ", fp16 stochastic " << sr.max_abs << " (rms " << sr.rms
                   << ", mean " << sr.mean << ")");
    CHECK(nearest.moved > 0.1);  // the truth moves far ...
    CHECK(nearest.stalled);      // ... fp16 round-to-nearest not at all
    CHECK(nearest.max_abs > 0.1);
    CHECK(fp32.max_abs < 1e-4);     // fp32 follows double
    CHECK(comp.max_abs < 2 * ulp);  // compensated: within two ulps
    CHECK(comp.rms < ulp);
    CHECK(sr.rms < 0.03);             // stochastic: unbiased noise ...
    CHECK(std::abs(sr.mean) < 4e-3);  // ... that averages out
    CHECK(sr.rms < nearest.rms / 5);
  }
}

TEST_CASE("compensated updates: a compensation tensor in T per parameter, 2 bytes each") {
  Parameter<half> p{"w", Tensor<half>({3, 5}), Tensor<half>({3, 5})};
  optim::MakeOptions o;
  o.rounding = Rounding::Compensated;
  auto opt = optim::make<half>("adam", {&p}, o);
  const auto st = opt->state();
  REQUIRE(st.size() == 3);
  CHECK(st[0].name == "0.compensation");
  CHECK(opt->state_bytes() == 3 * 15 * sizeof(half));
  CHECK(opt->precision_label() == "fp16+compensated");
  // Steps of exactly 1/4 ulp of 1.5 (2^-12): the weight stays and the compensation holds
  // the dropped part until it passes half an ulp (3rd step); after 4 steps the weight has
  // moved by exactly one ulp and nothing is left over.
  Parameter<half> q{"w", Tensor<half>({1}), Tensor<half>({1})};
  q.value[0] = half(1.5f);
  optim::SGDOptions so;
  so.lr = 1.0 / 4096;
  so.rounding = Rounding::Compensated;
  optim::SGD<half> sgd({&q}, so);
  q.grad[0] = half(1.0f);
  auto c = [&] { return float(sgd.state()[0].tensor->data()[0]); };
  sgd.step();
  CHECK(float(q.value[0]) == 1.5f);
  CHECK(c() == -1.0f / 4096);
  sgd.step();
  CHECK(float(q.value[0]) == 1.5f);
  CHECK(c() == -2.0f / 4096);
  sgd.step();  // -3/4096 is more than half an ulp: the weight moves by a whole ulp
  CHECK(float(q.value[0]) == 1.5f - 1.0f / 1024);
  CHECK(c() == 1.0f / 4096);
  sgd.step();
  CHECK(float(q.value[0]) == 1.5f - 1.0f / 1024);
  CHECK(c() == 0.0f);
  // Round-to-nearest never moves it.
  Parameter<half> r{"w", Tensor<half>({1}), Tensor<half>({1})};
  r.value[0] = half(1.5f);
  r.grad[0] = half(1.0f);
  so.rounding = Rounding::NearestEven;
  optim::SGD<half> plain({&r}, so);
  for (int s = 0; s < 100; ++s) plain.step();
  CHECK(float(r.value[0]) == 1.5f);
}

// ---- mixed precision ----------------------------------------------------------------------

TEST_CASE("mixed precision: fp32 masters follow a float computation of the same steps") {
  // Quadratic as above, in fp16, with the gradient formed like fit() forms it: scaled by
  // the loss scale in float, rounded once to fp16. The reference repeats the same float
  // operations by hand (unscale, momentum SGD on the masters, refresh): bit-identical.
  const std::size_t n = 64;
  const double ulp_fp16 = 1.0 / 1024;
  Parameter<half> p{"w", Tensor<half>({n}), Tensor<half>({n})};
  for (std::size_t j = 0; j < n; ++j) p.value[j] = half(float(w0(j)));
  optim::MakeOptions o;
  o.lr = 1e-4;
  o.momentum = 0.9;
  o.update = optim::Update::Mixed;
  auto opt = optim::make<half>("momentum", {&p}, o);
  CHECK(opt->precision_label() == "mixed(fp16/fp32)");
  CHECK(opt->master_bytes() == n * 4);
  CHECK(opt->loss_scale() == 65536.0);
  std::vector<float> master(n), buf(n, 0.0f);
  for (std::size_t j = 0; j < n; ++j) master[j] = float(w0(j));
  double ref_double_moved = 0;
  Reference dref("momentum", o.lr, 0);
  for (int s = 0; s < 3000; ++s) {
    const float scale = float(opt->loss_scale());
    for (std::size_t j = 0; j < n; ++j)
      p.grad[j] = round_to<half>(scale * (float(p.value[j]) - float(target(j))));
    const std::vector<half> g16(p.grad.data(), p.grad.data() + n);
    opt->step();
    REQUIRE_FALSE(opt->last_step_skipped());
    dref.step();
    for (std::size_t j = 0; j < n; ++j) {  // the same step in float, by hand
      const float g = float(g16[j]) * (1.0f / scale);
      buf[j] = 0.9f * buf[j] + g;
      master[j] -= 1e-4f * buf[j];
    }
  }
  const auto& m = dynamic_cast<optim::MixedPrecision<half>&>(*opt).masters()[0].value;
  std::size_t same = 0;
  double worst_vs_double = 0;
  for (std::size_t j = 0; j < n; ++j) {
    same += m[j] == master[j];
    CHECK(p.value[j] == round_to<half>(m[j]));  // compute copy refreshed from the master
    worst_vs_double = std::max(worst_vs_double, std::abs(double(m[j]) - dref.w[j]));
    ref_double_moved += std::abs(dref.w[j] - w0(j)) / double(n);
  }
  CHECK(same == n);
  CHECK(ref_double_moved > 0.1);  // where fp16 round-to-nearest stalls ...
  // ... the fp32 masters follow double to within the fp16 rounding of the compute copy that
  // the gradient is formed from (half an ulp, 4.9e-4).
  CHECK(worst_vs_double < ulp_fp16);
  CHECK(opt->steps() == 3000);
  CHECK(opt->loss_scale() == 131072.0);  // 3000 clean steps: grown once, after 2000
}

TEST_CASE("mixed precision: skip on overflow, halve, grow after N clean steps, exact counts") {
  Parameter<half> p{"w", Tensor<half>({4}), Tensor<half>({4})};
  for (std::size_t j = 0; j < 4; ++j) p.value[j] = half(1.0f);
  optim::MakeOptions o;
  o.lr = 0.5;
  o.update = optim::Update::Mixed;
  o.loss_scale.init_scale = 1024;
  o.loss_scale.growth_interval = 3;
  auto opt = optim::make<half>("sgd", {&p}, o);
  auto& mp = dynamic_cast<optim::MixedPrecision<half>&>(*opt);
  auto set_grad = [&](float g) {  // dLoss/dw = g, scaled as fit() scales it
    for (std::size_t j = 0; j < 4; ++j) p.grad[j] = round_to<half>(g * float(opt->loss_scale()));
  };
  const float master_before = mp.masters()[0].value[0];
  set_grad(std::numeric_limits<float>::infinity());
  opt->step();
  CHECK(opt->last_step_skipped());
  CHECK(opt->loss_scale() == 512);
  CHECK(opt->steps() == 0);
  CHECK(mp.masters()[0].value[0] == master_before);  // nothing applied
  CHECK(float(p.value[0]) == 1.0f);
  set_grad(200.0f);  // 200 * 512 = 102400 > 65504: overflows fp16 at the loss gradient
  CHECK(std::isinf(float(p.grad[0])));
  opt->step();
  CHECK(opt->last_step_skipped());
  CHECK(opt->loss_scale() == 256);
  for (int s = 1; s <= 3; ++s) {
    set_grad(1.0f / 64);
    opt->step();
    CHECK_FALSE(opt->last_step_skipped());
    CHECK(mp.growth_tracker() == (s % 3));
  }
  CHECK(opt->loss_scale() == 512);  // grown after 3 clean steps
  CHECK(opt->steps() == 3);
  CHECK(mp.skipped_steps() == 2);
  CHECK(mp.masters()[0].value[0] == 1.0f - 3 * 0.5f / 64);  // each step unscaled exactly
  set_grad(1.0f / 64);
  opt->step();
  set_grad(std::nanf(""));
  opt->step();  // a NaN resets the tracker too
  CHECK(mp.growth_tracker() == 0);
  CHECK(opt->loss_scale() == 256);
  const auto sc = opt->scalars();
  CHECK(sc.at("loss_scale") == "256");
  CHECK(sc.at("growth_tracker") == "0");
  CHECK(sc.at("skipped_steps") == "3");
  // Restoring scalars is all-or-nothing.
  optim::Scalars bad = sc;
  bad["growth_tracker"] = "x";
  CHECK_THROWS_AS(opt->restore_scalars(bad), pure16::InvalidArgument);
  CHECK(opt->loss_scale() == 256);
}

TEST_CASE("optim::make: names, options and clear errors") {
  Parameter<half> p{"w", Tensor<half>({2}), Tensor<half>({2})};
  for (const auto& name : optim::optimizer_names()) {
    CAPTURE(name);
    auto o = optim::make<half>(name, {&p}, {});
    CHECK(o->precision_label() == "fp16");
    CHECK(o->fp32_twin({}) != nullptr);
  }
  CHECK(optim::make<half>("adamw", {&p}, {})->name() == "AdamW");
  CHECK(dynamic_cast<optim::AdamW<half>&>(*optim::make<half>("adamw", {&p}, {}))
            .options()
            .weight_decay == 0.01);
  CHECK(
      dynamic_cast<optim::SGD<half>&>(*optim::make<half>("nesterov", {&p}, {})).options().nesterov);
  CHECK_THROWS_WITH_AS(optim::make<half>("lamb", {&p}, {}),
                       doctest::Contains("unknown optimizer 'lamb'"), pure16::InvalidArgument);
  optim::MakeOptions mixed;
  mixed.update = optim::Update::Mixed;
  CHECK_THROWS_AS(optim::make<float>("sgd", {}, mixed), pure16::InvalidArgument);  // not 16-bit
  mixed.rounding = Rounding::Compensated;
  CHECK_THROWS_WITH_AS(optim::make<half>("sgd", {&p}, mixed), doctest::Contains("pure 16-bit"),
                       pure16::InvalidArgument);
  mixed.rounding = Rounding::NearestEven;
  mixed.loss_scale.backoff_factor = 1.5;
  CHECK_THROWS_AS(optim::make<half>("sgd", {&p}, mixed), pure16::InvalidArgument);
  CHECK(optim::parse_rounding("compensated") == Rounding::Compensated);
  CHECK_THROWS_AS(optim::parse_rounding("kahan"), pure16::InvalidArgument);
}
