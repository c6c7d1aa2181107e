// Helpers shared by the nn tests: random tensors, parameter copies between scalar types and
// a central-difference gradient checker that runs a layer in double.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <pure16/nn/nn.hpp>
#include <pure16/random.hpp>
#include <string>
#include <vector>

namespace nn_test {

using namespace pure16;

/// A tensor of N(0, sd^2) values (drawn in double, rounded once to T).
template <Scalar T>
Tensor<T> randn(Shape s, Rng& rng, double sd = 1.0, double mean = 0.0) {
  Tensor<T> t(std::move(s));
  for (auto& v : t) v = round_to<T>(rng.normal(mean, sd));
  return t;
}

/// Values of t as doubles.
template <Scalar T>
Tensor<double> to_double(const Tensor<T>& t) {
  return pure16::cast<double>(t);
}

/// Copies every parameter and buffer of `src` into `dst` (same layer type), rounding to U.
template <Scalar T, Scalar U>
void copy_state(nn::Layer<T>& src, nn::Layer<U>& dst) {
  auto ps = src.parameters();
  auto pd = dst.parameters();
  REQUIRE(ps.size() == pd.size());
  for (std::size_t i = 0; i < ps.size(); ++i) pd[i]->value.copy_from(pure16::cast<U>(ps[i]->value));
  auto bs = src.buffers();
  auto bd = dst.buffers();
  REQUIRE(bs.size() == bd.size());
  for (std::size_t i = 0; i < bs.size(); ++i) bd[i].value->copy_from(pure16::cast<U>(*bs[i].value));
}

/// Fill every parameter of a double layer with N(mean, sd^2) values rounded to T (so the
/// same values are exactly representable in T).
template <Scalar T>
void randomize_params(nn::Layer<double>& l, Rng& rng, double sd = 0.5, double mean = 0.0) {
  for (auto* p : l.parameters())
    for (auto& v : p->value) v = static_cast<double>(round_to<T>(rng.normal(mean, sd)));
}

/// Central-difference check of a double layer's backward pass: loss = sum(r * forward(x)),
/// compared with backward(r) for dL/dx and with the parameter gradients.
inline void check_gradients(nn::Layer<double>& layer, const Tensor<double>& x0, std::uint64_t seed,
                            double tol = 1e-6, double h = 1e-6) {
  Rng rng(seed);
  const auto rng_state = layer.rng_state();
  auto f = [&](const Tensor<double>& x) {
    if (rng_state) layer.set_rng_state(*rng_state);
    auto y = layer.forward(x, nn::Mode::Train);
    return y;
  };
  Tensor<double> x = x0.clone();
  auto y = f(x);
  Tensor<double> r = randn<double>(y.shape(), rng);
  auto loss = [&](const Tensor<double>& xx) {
    auto yy = f(xx);
    double s = 0;
    for (std::size_t i = 0; i < yy.size(); ++i) s += yy[i] * r[i];
    return s;
  };
  f(x);
  Tensor<double> dx = layer.backward(r).clone();
  REQUIRE(dx.shape() == x.shape());
  std::vector<Tensor<double>> pgrads;
  for (auto* p : layer.parameters()) pgrads.push_back(p->grad.clone());

  for (std::size_t i = 0; i < x.size(); ++i) {
    const double old = x[i];
    x[i] = old + h;
    const double lp = loss(x);
    x[i] = old - h;
    const double lm = loss(x);
    x[i] = old;
    const double num = (lp - lm) / (2 * h);
    INFO(layer.type() << " dx[" << i << "] numeric " << num << " analytic " << dx[i]);
    CHECK(std::fabs(num - dx[i]) <= tol * (1 + std::fabs(num)));
  }
  auto params = layer.parameters();
  for (std::size_t pi = 0; pi < params.size(); ++pi) {
    auto& v = params[pi]->value;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double old = v[i];
      v[i] = old + h;
      const double lp = loss(x);
      v[i] = old - h;
      const double lm = loss(x);
      v[i] = old;
      const double num = (lp - lm) / (2 * h);
      INFO(layer.type() << " d" << params[pi]->name << "[" << i << "] numeric " << num
                        << " analytic " << pgrads[pi][i]);
      CHECK(std::fabs(num - pgrads[pi][i]) <= tol * (1 + std::fabs(num)));
    }
  }
}

}  // namespace nn_test
