// Finite-difference gradient checks, in double through the same templated code as every
// other precision, for every layer and loss at several shapes.
#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

TEST_CASE("gradcheck: Dense with and without bias, odd sizes") {
  Rng rng(1);
  for (auto [n, in, out] : {std::tuple{3, 5, 4}, {1, 7, 1}, {4, 1, 3}}) {
    for (bool bias : {true, false}) {
      nn::Dense<double> l(in, out, bias);
      randomize_params<double>(l, rng);
      check_gradients(l, randn<double>({std::size_t(n), std::size_t(in)}, rng), 11);
    }
  }
}

TEST_CASE("gradcheck: Conv2D over stride/padding/kernel combinations") {
  Rng rng(2);
  struct Case {
    std::size_t n, c, h, w, o, k, s, p;
    bool bias;
  };
  for (Case cs : {Case{2, 3, 7, 6, 4, 3, 2, 1, true}, Case{1, 2, 5, 5, 3, 2, 1, 0, true},
                  Case{2, 1, 6, 7, 2, 3, 3, 2, false}, Case{1, 3, 4, 5, 2, 1, 1, 0, true},
                  Case{1, 2, 3, 3, 2, 5, 1, 1, true}}) {
    INFO("conv n=" << cs.n << " c=" << cs.c << " h=" << cs.h << " w=" << cs.w << " o=" << cs.o
                   << " k=" << cs.k << " s=" << cs.s << " p=" << cs.p);
    nn::Conv2D<double> l(cs.c, cs.o, cs.k, cs.s, cs.p, cs.bias);
    randomize_params<double>(l, rng);
    check_gradients(l, randn<double>({cs.n, cs.c, cs.h, cs.w}, rng), 12);
  }
}

TEST_CASE("gradcheck: MaxPool2D and AvgPool2D, overlapping and strided windows") {
  Rng rng(3);
  for (auto ks : {std::pair{2, 2}, {3, 1}, {2, 3}, {3, 2}}) {
    const int k = ks.first, s = ks.second;  // not a structured binding: clang 14 cannot
                                            // capture one in INFO's lambda
    INFO("pool k=" << k << " s=" << s);
    nn::MaxPool2D<double> mp(k, s);
    check_gradients(mp, randn<double>({2, 3, 7, 6}, rng), 13);
    nn::AvgPool2D<double> ap(k, s);
    check_gradients(ap, randn<double>({2, 3, 7, 6}, rng), 14);
  }
}

TEST_CASE("gradcheck: activations, Flatten, Dropout") {
  Rng rng(4);
  auto x = randn<double>({3, 2, 3, 5}, rng, 1.5);
  nn::ReLU<double> relu;
  check_gradients(relu, x, 21);
  nn::LeakyReLU<double> leaky(0.2);
  check_gradients(leaky, x, 22);
  nn::Tanh<double> tanh_;
  check_gradients(tanh_, x, 23);
  nn::Sigmoid<double> sig;
  check_gradients(sig, x, 24);
  nn::Flatten<double> flat;
  check_gradients(flat, x, 25);
  nn::Dropout<double> drop(0.3);
  drop.set_seed(99);
  check_gradients(drop, x, 26);
}

TEST_CASE("gradcheck: BatchNorm 1d and 2d, both accumulation policies") {
  Rng rng(5);
  for (auto acc : {Accumulate::Float, Accumulate::Native}) {
    nn::BatchNorm<double> bn1(4);
    bn1.set_accumulate(acc);
    randomize_params<double>(bn1, rng, 0.5, 1.0);
    check_gradients(bn1, randn<double>({5, 4}, rng, 2.0, 3.0), 31, 1e-5);
    nn::BatchNorm<double> bn2(3);
    bn2.set_accumulate(acc);
    randomize_params<double>(bn2, rng, 0.5, 1.0);
    check_gradients(bn2, randn<double>({2, 3, 3, 4}, rng, 0.7, -1.0), 32, 1e-5);
  }
}

TEST_CASE("gradcheck: softmax cross-entropy and MSE") {
  Rng rng(6);
  for (auto [n, c] : {std::pair{4, 5}, {1, 3}, {7, 2}}) {
    auto logits = randn<double>({std::size_t(n), std::size_t(c)}, rng, 2.0);
    std::vector<std::int32_t> labels;
    for (int i = 0; i < n; ++i) labels.push_back(static_cast<std::int32_t>(rng.below(c)));
    auto out = nn::softmax_cross_entropy(logits, labels);
    const double h = 1e-6;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      auto lp = logits.clone(), lm = logits.clone();
      lp[i] += h;
      lm[i] -= h;
      const double num = (nn::softmax_cross_entropy(lp, labels).loss -
                          nn::softmax_cross_entropy(lm, labels).loss) /
                         (2 * h);
      CHECK(out.grad[i] == doctest::Approx(num).epsilon(1e-6));
    }
    // the loss itself against a direct double evaluation
    double ref = 0;
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int j = 0; j < c; ++j) s += std::exp(logits[i * c + j]);
      ref += std::log(s) - logits[i * c + labels[i]];
    }
    CHECK(out.loss == doctest::Approx(ref / n).epsilon(1e-12));

    auto pred = randn<double>({std::size_t(n), std::size_t(c)}, rng);
    auto target = randn<double>({std::size_t(n), std::size_t(c)}, rng);
    auto m = nn::mse(pred, target);
    double mref = 0;
    for (std::size_t i = 0; i < pred.size(); ++i)
      mref += (pred[i] - target[i]) * (pred[i] - target[i]);
    CHECK(m.loss == doctest::Approx(mref / pred.size()).epsilon(1e-12));
    for (std::size_t i = 0; i < pred.size(); ++i) {
      auto pp = pred.clone(), pm = pred.clone();
      pp[i] += h;
      pm[i] -= h;
      const double num = (nn::mse(pp, target).loss - nn::mse(pm, target).loss) / (2 * h);
      CHECK(m.grad[i] == doctest::Approx(num).epsilon(1e-6));
    }
  }
}

TEST_CASE("gradcheck: a whole Sequential CNN through Sequential::backward") {
  Rng rng(7);
  nn::Sequential<double> m;
  m.add<nn::Conv2D>(2, 3, 3, 1, 1);
  m.add<nn::BatchNorm>(3);
  m.add<nn::Tanh>();
  m.add<nn::AvgPool2D>(2);
  m.add<nn::Flatten>();
  m.add<nn::Dense>(18, 3);
  m.init(5);
  m.set_input_grad(true);
  auto x = randn<double>({2, 2, 4, 6}, rng);
  std::vector<std::int32_t> labels{2, 0};
  auto out = nn::softmax_cross_entropy(m.forward(x, nn::Mode::Train), labels);
  auto dx = m.backward(out.grad).clone();
  const double h = 1e-6;
  for (std::size_t i = 0; i < x.size(); i += 5) {
    auto xp = x.clone(), xm = x.clone();
    xp[i] += h;
    xm[i] -= h;
    const double num = (nn::softmax_cross_entropy(m.forward(xp, nn::Mode::Train), labels).loss -
                        nn::softmax_cross_entropy(m.forward(xm, nn::Mode::Train), labels).loss) /
                       (2 * h);
    CHECK(std::fabs(num - dx[i]) <= 1e-6 * (1 + std::fabs(num)));
  }
}

TEST_CASE("Sequential skips the first layer's input gradient unless asked, same weight gradients") {
  Rng rng(11);
  nn::Sequential<double> a, b;
  for (auto* m : {&a, &b}) {
    m->add<nn::Conv2D>(2, 3, 3, 1, 1);
    m->add<nn::ReLU>();
    m->add<nn::Flatten>();
    m->add<nn::Dense>(3 * 4 * 6, 3);
    m->init(3);
  }
  CHECK_FALSE(a.input_grad());
  CHECK_FALSE(a[0].needs_input_grad());
  CHECK(a[1].needs_input_grad());
  b.set_input_grad(true);
  CHECK(b[0].needs_input_grad());
  auto x = randn<double>({2, 2, 4, 6}, rng);
  std::vector<std::int32_t> labels{1, 2};
  auto la = nn::softmax_cross_entropy(a.forward(x, nn::Mode::Train), labels);
  auto lb = nn::softmax_cross_entropy(b.forward(x, nn::Mode::Train), labels);
  CHECK(a.backward(la.grad).size() == 0);
  auto dx = b.backward(lb.grad);
  CHECK(dx.shape() == x.shape());
  auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    for (std::size_t j = 0; j < pa[i]->grad.size(); ++j) CHECK(pa[i]->grad[j] == pb[i]->grad[j]);
  // a Dense first layer too; the twin keeps the setting
  nn::Sequential<float> d;
  d.add<nn::Dense>(4, 2);
  d.init(1);
  auto dh = d.cast<half>();
  CHECK_FALSE(dh[0].needs_input_grad());
  Tensor<float> xd({3, 4}, 0.5f);
  d.forward(xd, nn::Mode::Train);
  CHECK(d.backward(Tensor<float>({3, 2}, 1.0f)).size() == 0);
  CHECK(d[0].parameters()[0]->grad[0] == doctest::Approx(1.5));  // sum over the batch of 0.5
}
