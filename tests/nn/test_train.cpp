// A small MLP and a small CNN on synthetic learnable problems, generated with pure16::Rng,
// reach the same high accuracy in fp16 and fp32 from the same seed.
#include <pure16/optim/optim.hpp>

#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

namespace {

struct Data {
  Tensor<double> x;
  std::vector<std::int32_t> y;
};

// Gaussian blobs: `classes` centres in `dim` dimensions, unit-variance points around them.
Data blobs(std::size_t n, std::size_t dim, std::size_t classes, std::uint64_t seed) {
  Rng centres(1234);  // same centres for train and test
  std::vector<double> c(classes * dim);
  for (auto& v : c) v = centres.normal(0.0, 2.0);
  Rng rng(seed);
  Data d{Tensor<double>({n, dim}), std::vector<std::int32_t>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = rng.below(classes);
    d.y[i] = static_cast<std::int32_t>(k);
    for (std::size_t j = 0; j < dim; ++j) d.x(i, j) = c[k * dim + j] + rng.normal();
  }
  return d;
}

// 10x10 images of four patterns at random positions with noise: horizontal bar, vertical
// bar, diagonal, hollow square.
Data patterns(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  Data d{Tensor<double>({n, 1, 10, 10}), std::vector<std::int32_t>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = rng.below(4);
    d.y[i] = static_cast<std::int32_t>(k);
    for (std::size_t q = 0; q < 100; ++q) d.x[i * 100 + q] = rng.normal(0.0, 0.3);
    const std::size_t r = 1 + rng.below(5), c = 1 + rng.below(5);
    auto px = [&](std::size_t y, std::size_t x) { d.x(i, 0, y, x) += 1.0; };
    for (std::size_t t = 0; t < 4; ++t) {
      if (k == 0) px(r + 1, c + t);
      if (k == 1) px(r + t, c + 1);
      if (k == 2) px(r + t, c + t);
    }
    if (k == 3)
      for (std::size_t t = 0; t < 4; ++t) {
        px(r, c + t);
        px(r + 3, c + t);
        if (t > 0 && t < 3) {
          px(r + t, c);
          px(r + t, c + 3);
        }
      }
  }
  return d;
}

template <Scalar T>
double train_and_score(nn::Sequential<T>& m, const Data& train, const Data& test, int epochs,
                       std::size_t batch, double lr) {
  auto xt = pure16::cast<T>(train.x);
  optim::SGD<T> opt(m.parameters(), {.lr = lr, .momentum = 0.9});
  const std::size_t n = train.y.size();
  for (int e = 0; e < epochs; ++e) {
    for (std::size_t b = 0; b + batch <= n; b += batch) {
      auto out =
          nn::softmax_cross_entropy(m.forward(xt.slice(b, b + batch), nn::Mode::Train),
                                    std::span<const std::int32_t>(train.y.data() + b, batch));
      m.backward(out.grad);
      opt.step();
      nn::require_finite(m, out.loss, opt.steps());
    }
  }
  auto pred = nn::argmax_rows(m.forward(pure16::cast<T>(test.x), nn::Mode::Eval));
  std::size_t ok = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) ok += pred[i] == test.y[i];
  return double(ok) / pred.size();
}

}  // namespace

TEST_CASE("an MLP on Gaussian blobs reaches >= 95% in fp16, bf16 and fp32 from one seed") {
  const auto train = blobs(768, 12, 5, 1), test = blobs(400, 12, 5, 2);
  auto build = [](auto& m) {
    m.template add<nn::Dense>(12, 32);
    m.template add<nn::ReLU>();
    m.template add<nn::Dense>(32, 5);
    m.init(7);
  };
  nn::Sequential<float> m32;
  nn::Sequential<half> m16;
  nn::Sequential<bfloat16> mb16;
  build(m32);
  build(m16);
  build(mb16);
  const double a32 = train_and_score(m32, train, test, 4, 32, 0.05);
  const double a16 = train_and_score(m16, train, test, 4, 32, 0.05);
  const double ab16 = train_and_score(mb16, train, test, 4, 32, 0.05);
  MESSAGE("MLP accuracy fp32 " << a32 << " fp16 " << a16 << " bf16 " << ab16);
  CHECK(a32 >= 0.95);
  CHECK(a16 >= 0.95);
  CHECK(ab16 >= 0.95);
  CHECK(std::fabs(a32 - a16) <= 0.03);
}

TEST_CASE("a CNN on synthetic image patterns reaches >= 95% in fp16 and fp32 from one seed") {
  const auto train = patterns(1280, 3), test = patterns(300, 4);
  auto build = [](auto& m) {
    m.template add<nn::Conv2D>(1, 8, 3, 1, 1);
    m.template add<nn::BatchNorm>(8);
    m.template add<nn::ReLU>();
    m.template add<nn::MaxPool2D>(2);
    m.template add<nn::Flatten>();
    m.template add<nn::Dense>(200, 4);
    m.init(11);
  };
  nn::Sequential<float> m32;
  nn::Sequential<half> m16;
  build(m32);
  build(m16);
  const double a32 = train_and_score(m32, train, test, 4, 32, 0.05);
  const double a16 = train_and_score(m16, train, test, 4, 32, 0.05);
  MESSAGE("CNN accuracy fp32 " << a32 << " fp16 " << a16);
  CHECK(a32 >= 0.95);
  CHECK(a16 >= 0.95);
  CHECK(std::fabs(a32 - a16) <= 0.03);
}
