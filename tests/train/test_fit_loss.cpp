// Tests of train/fit.hpp with a chosen loss (a regression trained through fit against the
// closed-form solution), mixed precision through fit (loss scaling, skip counts), and
// train/divergence.hpp (the fp32 shadow is exactly an fp32 run of the same steps).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optim.hpp>
#include <pure16/random.hpp>
#include <pure16/train/divergence.hpp>
#include <pure16/train/fit.hpp>
#include <string>
#include <vector>

using namespace pure16;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kIn = 4, kOut = 2;
// y = A x + b, noise-free: the least-squares solution is A, b exactly.
const double kA[kOut][kIn] = {{0.5, -1.0, 0.25, 2.0}, {-0.75, 0.3, 1.5, -0.5}};
const double kB[kOut] = {0.1, -0.4};

data::Dataset regression_set(std::size_t n, std::uint64_t seed) {
  Rng r(seed);
  std::vector<float> x, y;
  for (std::size_t i = 0; i < n; ++i) {
    double xi[kIn];
    for (auto& v : xi) {
      v = double(float(r.normal()));
      x.push_back(float(v));
    }
    for (std::size_t o = 0; o < kOut; ++o) {
      double s = kB[o];
      for (std::size_t j = 0; j < kIn; ++j) s += kA[o][j] * xi[j];
      y.push_back(float(s));
    }
  }
  auto d = data::Dataset::from_float("regression", {n, kIn, 1, 1}, std::move(x),
                                     std::vector<std::int32_t>(n, 0), 1);
  d.set_targets(std::move(y), kOut);
  return d;
}

data::Dataset classification_set(std::size_t n, std::uint64_t seed) {
  Rng r(seed);
  std::vector<float> x;
  std::vector<std::int32_t> y;
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0, t = 0;
    for (std::size_t j = 0; j < 8; ++j) {
      const double v = r.normal();
      x.push_back(float(v));
      s += v * (j % 2 ? 1.0 : -1.0);
      t += v * double(j) / 8.0;
    }
    y.push_back(s > 0.3 ? 0 : (t > 0 ? 1 : 2));
  }
  return data::Dataset::from_float("classes", {n, 8, 1, 1}, std::move(x), std::move(y), 3);
}

template <Scalar T>
nn::Sequential<T> mlp(std::uint64_t seed) {
  nn::Sequential<T> m;
  m.template add<nn::Dense>(8, 32);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(32, 3);
  m.init(seed);
  return m;
}

}  // namespace

TEST_CASE("fit trains a linear regression under MSE to the closed-form solution") {
  const auto train_set = regression_set(512, 1), test_set = regression_set(128, 2);
  auto run = [&]<class T>(T, double tol) {
    CAPTURE(scalar_traits<T>::name);
    nn::Sequential<T> m;
    m.template add<nn::Dense>(kIn, kOut);
    m.init(3);
    auto opt = optim::make<T>("momentum", m.parameters(), {.lr = 0.05});
    train::FitOptions fo;
    fo.epochs = 30;
    fo.batch_size = 32;
    fo.layout = data::Layout::Flat;
    fo.quiet = true;
    const auto r = train::fit(m, *opt, train::mse<T>(), train_set, &test_set, fo);
    // The weights reach A and b (Dense weight is [out, in], PyTorch's layout).
    const auto ps = m.parameters();
    double worst = 0;
    for (std::size_t o = 0; o < kOut; ++o) {
      for (std::size_t j = 0; j < kIn; ++j)
        worst = std::max(worst, std::abs(double(ps[0]->value[o * kIn + j]) - kA[o][j]));
      worst = std::max(worst, std::abs(double(ps[1]->value[o]) - kB[o]));
    }
    MESSAGE(scalar_traits<T>::name << ": max |w - w*| = " << worst << ", test mse " << r.test.loss);
    CHECK(worst < tol);
    // Regression metrics: losses, no accuracy.
    CHECK(std::isnan(r.epochs.back().train_accuracy));
    CHECK(std::isnan(r.epochs.back().test_accuracy));
    CHECK(std::isnan(r.test.accuracy));
    CHECK(r.test.predictions.empty());
    CHECK(r.epochs.back().test_loss == r.test.loss);
    CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss / 10);
    // The test loss is the mean squared error of the model's predictions, by hand in double.
    double se = 0;
    std::vector<std::size_t> idx(test_set.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    const auto pred = m.forward(test_set.batch<T>(idx, data::Layout::Flat), nn::Mode::Eval);
    const auto tgt = test_set.batch_targets<T>(idx);
    for (std::size_t k = 0; k < pred.size(); ++k) {
      const double d = double(pred[k]) - double(tgt[k]);
      se += d * d;
    }
    CHECK(r.test.loss == doctest::Approx(se / double(pred.size())).epsilon(1e-6));
  };
  run(float{}, 1e-3);
  run(half{}, 2e-2);  // fp16 weights: a few ulps of values up to 2 (ulp 2^-9)
}

TEST_CASE("fit with a user loss: mean absolute error through value_loss") {
  const auto train_set = regression_set(256, 5);
  nn::Sequential<float> m;
  m.add<nn::Dense>(kIn, kOut);
  m.init(4);
  auto mae = [](const Tensor<float>& p, const Tensor<float>& t) {
    nn::LossOutput<float> out{0.0, Tensor<float>(p.shape())};
    for (std::size_t k = 0; k < p.size(); ++k) {
      const double d = double(p[k]) - double(t[k]);
      out.loss += std::abs(d) / double(p.size());
      out.grad[k] = float((d > 0) - (d < 0)) / float(p.size());
    }
    return out;
  };
  auto opt = optim::make<float>("sgd", m.parameters(), {});
  train::FitOptions fo;
  fo.lr = 0.05;  // fit sets the optimizer's rate from its schedule
  fo.epochs = 20;
  fo.batch_size = 16;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  const auto r = train::fit(m, *opt, train::value_loss<float>("mae", mae), train_set, nullptr, fo);
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss / 4);
  CHECK(std::isnan(r.epochs.back().train_accuracy));
  // A classification loss on a data set without targets and vice versa: clear errors.
  CHECK_THROWS_AS(train::fit(m, *opt, train::mse<float>(), classification_set(32, 1), nullptr, fo),
                  pure16::LogicError);
}

TEST_CASE("mixed precision through fit: scaled loss gradient, skipped overflow steps counted") {
  const auto train_set = classification_set(512, 7), test_set = classification_set(256, 8);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 32;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  fo.lr = 0.1;
  fo.csv_path = (fs::temp_directory_path() / "pure16_mixed_fit.csv").string();
  auto m = mlp<half>(11);
  optim::MakeOptions o;
  o.lr = 0.1;
  o.update = optim::Update::Mixed;
  o.loss_scale.init_scale = 16777216.0;  // 2^24: the loss gradient (<= 1/32 * 2^24) overflows
  o.loss_scale.growth_interval = 1000000;
  auto opt = optim::make<half>("momentum", m.parameters(), o);
  const auto r = train::fit(m, *opt, train_set, &test_set, fo);
  std::int64_t skipped = 0;
  for (const auto& e : r.epochs) skipped += e.overflow_skipped;
  const double halvings = std::log2(16777216.0 / opt->loss_scale());
  MESSAGE("mixed: " << skipped << " steps skipped, final scale " << opt->loss_scale()
                    << ", test accuracy " << r.test.accuracy);
  CHECK(skipped >= 4);  // 2^24 / 32 = 2^19 > 65504 needs at least 4 halvings
  CHECK(double(skipped) == halvings);
  CHECK(opt->steps() == r.steps - skipped);
  CHECK(r.skipped == 0);  // the guard left the gradients to the scaler
  CHECK(r.epochs.back().loss_scale == opt->loss_scale());
  // It trains like fp32 does on the same data.
  auto m32 = mlp<float>(11);
  auto opt32 = optim::make<float>("momentum", m32.parameters(), {.lr = 0.1});
  fo.csv_path.clear();
  const auto r32 = train::fit(m32, *opt32, train_set, &test_set, fo);
  CHECK(r.test.accuracy > 0.8);
  CHECK(std::abs(r.test.accuracy - r32.test.accuracy) < 0.05);
  std::ifstream csv(fs::temp_directory_path() / "pure16_mixed_fit.csv");
  std::string header, line;
  std::getline(csv, header);
  std::getline(csv, line);
  CHECK(line.find(",1,") == std::string::npos);  // the scale is not 1
  fs::remove(fs::temp_directory_path() / "pure16_mixed_fit.csv");
}

TEST_CASE("divergence watch: the shadow is an fp32 run of the same steps; records per epoch") {
  const auto train_set = classification_set(384, 3), probe = classification_set(200, 4);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 32;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  fo.lr = 0.2;
  fo.seed = 9;
  auto m = mlp<half>(21);
  auto opt = optim::make<half>("nesterov", m.parameters(), {.lr = 0.2});
  const fs::path csv = fs::temp_directory_path() / "pure16_divergence.csv";
  train::DivergenceOptions dopt;
  dopt.csv_path = csv.string();
  dopt.probe_size = 150;
  // The reference: the same fp32 model trained by fit on its own, from the fp16 initial
  // weights cast up, with the same seed (same batches) and the same optimizer in fp32.
  auto ref = m.cast<float>();
  train::DivergenceWatch<half> watch(m, *opt, train_set, probe, dopt);
  watch.attach(fo);
  train::fit(m, *opt, train_set, nullptr, fo);

  auto ref_opt = optim::make<float>("nesterov", ref.parameters(), {.lr = 0.2});
  train::FitOptions fr = fo;
  fr.on_batch = {};
  fr.on_epoch_end = {};
  train::fit(ref, *ref_opt, train_set, nullptr, fr);
  const auto a = watch.shadow().parameters(), b = ref.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    for (std::size_t k = 0; k < a[i]->value.size(); ++k)
      REQUIRE(a[i]->value[k] == b[i]->value[k]);  // bit-identical trajectories

  const auto& rec = watch.records();
  REQUIRE(rec.size() == 4);  // before training, then after each epoch
  for (std::size_t e = 0; e < rec.size(); ++e) {
    CAPTURE(e);
    CHECK(rec[e].epoch == int(e));
    CHECK(rec[e].probes == 150);
    CHECK(rec[e].violations == 0);
    CHECK(rec[e].delta_max >= rec[e].delta_mean);
    CHECK(rec[e].guaranteed >= 0.0);
    CHECK(rec[e].agreement >= rec[e].strict);  // strictly guaranteed samples agree
  }
  // At the start only the forward pass's rounding separates them: delta is small.
  CHECK(rec[0].delta_max < 0.01);
  CHECK(rec[0].agreement > 0.95);
  // The records' accuracies are those of the two models on the probe set.
  const auto ev = train::evaluate(watch.shadow(), probe.head(150), data::Layout::Flat);
  CHECK(rec.back().acc_shadow == doctest::Approx(ev.accuracy));
  std::ifstream in(csv);
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) ++lines;
  CHECK(lines == 5);
  fs::remove(csv);
}
