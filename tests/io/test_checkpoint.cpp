// Tests of pure16/io/checkpoint.hpp: training resumed from a checkpoint continues bit for
// bit like the uninterrupted run (SGD with momentum and stochastic rounding, Adam; fp16 and
// fp32; with dropout and batch norm), and mismatching checkpoints are refused by name.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <pure16/io/io.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optim.hpp>
#include <span>
#include <string>
#include <vector>

#include "io/io_test_util.hpp"

using namespace pure16;
using namespace io_test;

namespace {

constexpr std::size_t kSamples = 64, kFeatures = 6, kClasses = 3, kBatch = 16;

template <Scalar T>
nn::Sequential<T> make_net(std::uint64_t seed) {
  nn::Sequential<T> m;
  m.template add<nn::Dense>(kFeatures, 8);
  m.template add<nn::BatchNorm>(8);
  m.template add<nn::ReLU>();
  m.template add<nn::Dropout>(0.25);
  m.template add<nn::Dense>(8, kClasses);
  m.init(seed);
  return m;
}

/// A fixed synthetic classification set (inputs in double, labels from a linear rule).
struct Data {
  std::vector<double> x;
  std::vector<std::int32_t> y;
  Data() {
    Rng r(2024);
    for (std::size_t i = 0; i < kSamples; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < kFeatures; ++j) {
        x.push_back(r.normal());
        s += x.back() * double(j % 3 + 1) * (j % 2 ? -1 : 1);
      }
      y.push_back(s > 0.5 ? 0 : (s < -0.5 ? 1 : 2));
    }
  }
};

/// `steps` SGD/Adam steps on batches drawn with `data_rng`.
template <Scalar T>
void train(nn::Sequential<T>& m, optim::Optimizer<T>& opt, Rng& data_rng, const Data& d,
           int steps) {
  for (int s = 0; s < steps; ++s) {
    Tensor<T> x({kBatch, kFeatures});
    std::vector<std::int32_t> y(kBatch);
    for (std::size_t b = 0; b < kBatch; ++b) {
      const std::size_t i = data_rng.below(kSamples);
      for (std::size_t j = 0; j < kFeatures; ++j)
        x[b * kFeatures + j] = round_to<T>(d.x[i * kFeatures + j]);
      y[b] = d.y[i];
    }
    const auto logits = m.forward(x, nn::Mode::Train);
    const auto loss = nn::softmax_cross_entropy<T>(logits, std::span<const std::int32_t>(y),
                                                   Accumulate::Float, opt.loss_scale());
    m.backward(loss.grad);
    opt.step();
  }
}

template <class T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.bytes()) == 0);
}

template <Scalar T, class MakeOpt>
void check_resume(MakeOpt make_opt) {
  CAPTURE(scalar_traits<T>::name);
  ScratchDir dir("resume");
  const auto path = dir / "ckpt.safetensors";
  const Data d;
  const int k = 5, m_steps = 7;

  // Uninterrupted run, with a checkpoint after k steps.
  auto a = make_net<T>(11);
  auto opt_a = make_opt(a);
  Rng rng_a(77);
  train(a, *opt_a, rng_a, d, k);
  opt_a->set_lr(opt_a->lr() * 0.5);  // a schedule changed the rate
  io::save_checkpoint(path, a, *opt_a, io::TrainState{1, k, rng_a.state()});
  const std::int64_t saved_steps = opt_a->steps();  // < k when a loss scaler skipped steps
  train(a, *opt_a, rng_a, d, m_steps);

  // Fresh objects (other seed, other generators), restored from the checkpoint.
  auto b = make_net<T>(999);
  auto opt_b = make_opt(b);
  const auto ts = io::load_checkpoint(path, b, *opt_b);
  CHECK(ts.epoch == 1);
  CHECK(ts.step == k);
  CHECK(opt_b->steps() == saved_steps);
  CHECK(opt_b->lr() == opt_a->lr());
  Rng rng_b(0);
  rng_b.set_state(ts.data_rng);
  train(b, *opt_b, rng_b, d, m_steps);

  CHECK(opt_b->steps() == opt_a->steps());
  const auto sa = a.state(), sb = b.state();
  REQUIRE(sa.size() == sb.size());
  REQUIRE(sa.size() == 8);  // Dense w,b; BatchNorm w,b,running_mean,running_var; Dense w,b
  for (std::size_t i = 0; i < sa.size(); ++i) {
    CAPTURE(sa[i].name);
    CHECK(same_bits(*sa[i].tensor, *sb[i].tensor));
  }
  const auto oa = opt_a->state(), ob = opt_b->state();
  REQUIRE(oa.size() == ob.size());
  for (std::size_t i = 0; i < oa.size(); ++i) {
    CAPTURE(oa[i].name);
    CHECK(same_bits(*oa[i].tensor, *ob[i].tensor));
  }
  const auto fa = opt_a->fp32_state(), fb = opt_b->fp32_state();
  REQUIRE(fa.size() == fb.size());
  for (std::size_t i = 0; i < fa.size(); ++i) {
    CAPTURE(fa[i].name);
    CHECK(same_bits(*fa[i].tensor, *fb[i].tensor));
  }
  CHECK(opt_a->scalars() == opt_b->scalars());
  CHECK(rng_a.state().s == rng_b.state().s);

  // And the run really depends on what was restored: a model merely loaded with the
  // weights (fresh optimizer state and dropout generator) ends elsewhere.
  auto c = make_net<T>(999);
  auto opt_c = make_opt(c);
  auto cp = io::load_checkpoint(path, c, *opt_c);
  for (auto& t : opt_c->state()) t.tensor->zero();
  for (auto& t : opt_c->fp32_state())
    if (!t.name.ends_with(".master")) t.tensor->zero();
  c[3].set_seed(12345);
  Rng rng_c(0);
  rng_c.set_state(cp.data_rng);
  train(c, *opt_c, rng_c, d, m_steps);
  CHECK_FALSE(same_bits(*a.state()[0].tensor, *c.state()[0].tensor));
}

template <Scalar T>
auto sgd_maker(Rounding rounding) {
  return [rounding](nn::Sequential<T>& m) {
    optim::SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 1e-3;
    o.rounding = rounding;
    o.seed = 31;
    return std::make_unique<optim::SGD<T>>(m.parameters(), o);
  };
}

/// Optimizers built by name through optim::make (compensated or mixed precision).
template <Scalar T>
auto made(std::string name, optim::MakeOptions o) {
  return [name, o](nn::Sequential<T>& m) { return optim::make<T>(name, m.parameters(), o); };
}

template <Scalar T>
auto adam_maker() {
  return [](nn::Sequential<T>& m) {
    optim::AdamOptions o;
    o.lr = 0.01;
    return std::make_unique<optim::Adam<T>>(m.parameters(), o);
  };
}

}  // namespace

TEST_CASE("checkpoint: resume equals the uninterrupted run, SGD momentum") {
  check_resume<float>(sgd_maker<float>(Rounding::NearestEven));
  check_resume<half>(sgd_maker<half>(Rounding::NearestEven));
  check_resume<half>(sgd_maker<half>(Rounding::Stochastic));
  check_resume<bfloat16>(sgd_maker<bfloat16>(Rounding::Stochastic));
}

TEST_CASE("checkpoint: resume equals the uninterrupted run, compensated 16-bit updates") {
  optim::MakeOptions o;
  o.lr = 0.05;
  o.rounding = Rounding::Compensated;
  check_resume<half>(made<half>("nesterov", o));
  check_resume<bfloat16>(made<bfloat16>("adamw", o));
  check_resume<half>(made<half>("rmsprop", o));
}

TEST_CASE("checkpoint: resume equals the uninterrupted run, mixed precision") {
  optim::MakeOptions o;
  o.lr = 0.05;
  o.update = optim::Update::Mixed;
  o.loss_scale.growth_interval = 3;  // the scale changes within the run
  check_resume<half>(made<half>("momentum", o));
  check_resume<half>(made<half>("adam", o));
  o.loss_scale.init_scale = 1e30;  // overflows: steps are skipped before and after the save
  check_resume<bfloat16>(made<bfloat16>("adamw", o));
}

TEST_CASE("checkpoint: resume equals the uninterrupted run, Adam") {
  check_resume<float>(adam_maker<float>());
  check_resume<half>(adam_maker<half>());
  check_resume<double>(adam_maker<double>());
}

TEST_CASE("checkpoint: the file is a safetensors file with named model and optimizer state") {
  ScratchDir dir("layout");
  auto m = make_net<half>(3);
  auto opt = adam_maker<half>()(m);
  Rng r(5);
  r.normal();  // leaves a Box-Muller spare in the state
  io::save_checkpoint(dir / "c.safetensors", m, *opt, io::TrainState{4, 321, r.state()});
  const auto f = io::SafetensorsReader::open(dir / "c.safetensors");
  CHECK(f.metadata("format") == "pure16-checkpoint");
  CHECK(f.metadata("scalar_type") == "fp16");
  CHECK(f.metadata("optimizer") == "Adam");
  CHECK(f.metadata("epoch") == "4");
  CHECK(f.metadata("step") == "321");
  CHECK(f.at("model.0.weight").dtype == "F16");
  CHECK(f.at("model.1.running_var").shape == Shape{8});
  CHECK(f.at("optim.0.exp_avg").shape == Shape{8, kFeatures});
  CHECK(f.at("optim.5.exp_avg_sq").shape == Shape{kClasses});
  CHECK(f.find("model.1.num_batches_tracked") == nullptr);
  CHECK(f.entries().size() == 8 + 2 * 6);  // 8 model tensors + 2 slots x 6 parameters

  auto m2 = make_net<half>(4);
  auto opt2 = adam_maker<half>()(m2);
  const auto ts = io::load_checkpoint(dir / "c.safetensors", m2, *opt2);
  CHECK(ts.data_rng.s == r.state().s);
  CHECK(ts.data_rng.has_spare);
  CHECK(std::bit_cast<std::uint64_t>(ts.data_rng.spare) ==
        std::bit_cast<std::uint64_t>(r.state().spare));
  Rng r2(0);
  r2.set_state(ts.data_rng);
  CHECK(r2.normal() == r.normal());
  CHECK(m2[3].rng_state()->s == m[3].rng_state()->s);
}

TEST_CASE("checkpoint: mismatches are refused, naming the file and the difference") {
  ScratchDir dir("ckbad");
  const auto path = dir / "c.safetensors";
  const std::string file = path.string();
  auto m = make_net<float>(3);
  auto opt = adam_maker<float>()(m);
  io::save_checkpoint(path, m, *opt, io::TrainState{});
  auto expect = [&](auto&& call, const std::vector<std::string>& parts) {
    try {
      call();
      FAIL("no exception");
    } catch (const io::Error& e) {
      const std::string msg = e.what();
      CHECK_MESSAGE(msg.find(file) != std::string::npos, msg);
      for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, msg);
    }
  };

  SUBCASE("another optimizer") {
    auto m2 = make_net<float>(3);
    auto sgd = sgd_maker<float>(Rounding::NearestEven)(m2);
    expect([&] { io::load_checkpoint(path, m2, *sgd); }, {"Adam", "SGD"});
  }
  SUBCASE("another scalar type") {
    auto m2 = make_net<half>(3);
    auto o2 = adam_maker<half>()(m2);
    expect([&] { io::load_checkpoint(path, m2, *o2); }, {"fp32", "fp16"});
  }
  SUBCASE("another architecture") {
    nn::Sequential<float> m2;
    m2.add<nn::Dense>(kFeatures, 8);
    m2.add<nn::BatchNorm>(8);
    m2.add<nn::Tanh>();
    m2.add<nn::Dropout>(0.25);
    m2.add<nn::Dense>(8, kClasses);
    auto o2 = adam_maker<float>()(m2);
    const auto before = m2.state()[0].tensor->clone();
    expect([&] { io::load_checkpoint(path, m2, *o2); }, {"architecture", "Tanh"});
    CHECK(same_bits(before, *m2.state()[0].tensor));
  }
  SUBCASE("optimizer state that does not match") {
    auto m2 = make_net<float>(3);
    auto plain = std::make_unique<optim::SGD<float>>(m2.parameters(), optim::SGDOptions{});
    auto with_momentum = sgd_maker<float>(Rounding::NearestEven)(m2);
    io::save_checkpoint(path, m2, *plain, io::TrainState{});
    expect([&] { io::load_checkpoint(path, m2, *with_momentum); },
           {"missing optimizer tensors", "'optim.0.momentum_buffer'"});
    io::save_checkpoint(path, m2, *with_momentum, io::TrainState{});
    expect([&] { io::load_checkpoint(path, m2, *plain); },
           {"'optim.0.momentum_buffer'", "optimizer does not have"});
  }
  SUBCASE("another update mode") {
    auto m2 = make_net<half>(3);
    optim::MakeOptions o;
    o.rounding = Rounding::Stochastic;
    auto stoch = optim::make<half>("adam", m2.parameters(), o);
    auto nearest = optim::make<half>("adam", m2.parameters(), {});
    io::save_checkpoint(path, m2, *stoch, io::TrainState{});
    expect([&] { io::load_checkpoint(path, m2, *nearest); }, {"fp16+stochastic", "fp16 run"});
    o.rounding = Rounding::NearestEven;
    o.update = optim::Update::Mixed;
    auto mixed = optim::make<half>("adam", m2.parameters(), o);
    io::save_checkpoint(path, m2, *mixed, io::TrainState{});
    expect([&] { io::load_checkpoint(path, m2, *nearest); }, {"mixed(fp16/fp32)"});
  }
  SUBCASE("a weights file is not a checkpoint") {
    io::save_safetensors(path, m);
    expect([&] { io::load_checkpoint(path, m, *opt); }, {"not a pure16 checkpoint"});
  }
  SUBCASE("damaged metadata") {
    io::SafetensorsReader f = io::SafetensorsReader::open(path);
    io::SafetensorsWriter w;
    for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
    for (const auto& e : f.entries()) w.add(e.name, f.read<float>(e));
    w.set_metadata("data_rng", R"({"s": [1, 2, 3], "has_spare": false, "spare_bits": 0})");
    w.save(path);
    expect([&] { io::load_checkpoint(path, m, *opt); }, {"data_rng"});
    w.set_metadata("data_rng", f.metadata("data_rng").value());
    w.set_metadata("step", "12x");
    w.save(path);
    expect([&] { io::load_checkpoint(path, m, *opt); }, {"'step'", "12x"});
  }
}
