// pure16/nn/init.hpp — weight initializers driven by pure16::Rng.
//
// Contract:
//  * Every value is drawn in double from the caller's Rng and rounded once to T
//    (round_to<T>), so tensors of different scalar types filled from generators in the same
//    state hold the same values up to one rounding: a half tensor equals, bit for bit,
//    round_to<half> of the double tensor drawn from the same seed.
//  * The draw order is the tensor's row-major element order; each uniform value consumes
//    one Rng draw, each normal value one Box-Muller half-pair.
//  * fan_in / fan_out follow PyTorch: for a weight [out, in, k...] fan_in = in * prod(k),
//    fan_out = out * prod(k).
//  * Init::Default is PyTorch's default for Linear and Conv2d: kaiming_uniform with
//    a = sqrt(5), i.e. weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias
//    U(-1/sqrt(fan_in), 1/sqrt(fan_in)). The Glorot (Xavier) and He (Kaiming, gain sqrt(2)
//    for ReLU) choices draw the weight as named and set the bias to zero.
#pragma once

#include <cmath>
#include <cstddef>
#include <pure16/error.hpp>
#include <pure16/random.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <string>
#include <string_view>

namespace pure16::nn {

enum class Init {
  Default = 0,         // PyTorch default (kaiming_uniform a=sqrt(5)), bias U(+-1/sqrt(fan_in))
  XavierUniform = 1,   // Glorot uniform, bound sqrt(6/(fan_in+fan_out)), bias 0
  XavierNormal = 2,    // Glorot normal, std sqrt(2/(fan_in+fan_out)), bias 0
  KaimingUniform = 3,  // He uniform (ReLU gain), bound sqrt(6/fan_in), bias 0
  KaimingNormal = 4,   // He normal (ReLU gain), std sqrt(2/fan_in), bias 0
};

inline std::string_view init_name(Init i) {
  switch (i) {
    case Init::Default:
      return "default";
    case Init::XavierUniform:
      return "xavier_uniform";
    case Init::XavierNormal:
      return "xavier_normal";
    case Init::KaimingUniform:
      return "kaiming_uniform";
    case Init::KaimingNormal:
      return "kaiming_normal";
  }
  return "?";
}

/// Init from its numeric code in a LayerSpec ("init" argument).
inline Init init_from_code(double code) {
  // Range first: converting a double outside int's range (1e300, NaN) is undefined.
  if (!(code >= 0.0 && code <= 4.0) || code != std::floor(code)) {
    throw pure16::InvalidArgument("pure16: unknown initializer code " + std::to_string(code));
  }
  return static_cast<Init>(static_cast<int>(code));
}

struct Fans {
  double fan_in;
  double fan_out;
};

/// PyTorch's fans of a weight tensor of shape [out, in, k...] (at least 2-d).
inline Fans compute_fans(const Shape& s) {
  if (s.size() < 2) {
    throw pure16::InvalidArgument("pure16::nn::compute_fans: weight shape " + shape_str(s) +
                                  " has fewer than 2 dimensions");
  }
  double receptive = 1;
  for (std::size_t i = 2; i < s.size(); ++i) receptive *= static_cast<double>(s[i]);
  return {static_cast<double>(s[1]) * receptive, static_cast<double>(s[0]) * receptive};
}

/// t[i] = round_to<T>(U[lo, hi)) in row-major order.
template <Scalar T>
void uniform_(Tensor<T>& t, Rng& rng, double lo, double hi) {
  for (auto& v : t) v = round_to<T>(rng.uniform(lo, hi));
}

/// t[i] = round_to<T>(N(mean, std^2)) in row-major order.
template <Scalar T>
void normal_(Tensor<T>& t, Rng& rng, double mean, double stddev) {
  for (auto& v : t) v = round_to<T>(rng.normal(mean, stddev));
}

template <Scalar T>
void xavier_uniform_(Tensor<T>& w, Rng& rng, double gain = 1.0) {
  const Fans f = compute_fans(w.shape());
  const double a = gain * std::sqrt(6.0 / (f.fan_in + f.fan_out));
  uniform_(w, rng, -a, a);
}

template <Scalar T>
void xavier_normal_(Tensor<T>& w, Rng& rng, double gain = 1.0) {
  const Fans f = compute_fans(w.shape());
  normal_(w, rng, 0.0, gain * std::sqrt(2.0 / (f.fan_in + f.fan_out)));
}

/// He uniform: bound = gain * sqrt(3 / fan_in); gain sqrt(2) suits ReLU.
template <Scalar T>
void kaiming_uniform_(Tensor<T>& w, Rng& rng, double gain = std::sqrt(2.0)) {
  const Fans f = compute_fans(w.shape());
  const double b = gain * std::sqrt(3.0 / f.fan_in);
  uniform_(w, rng, -b, b);
}

/// He normal: std = gain / sqrt(fan_in).
template <Scalar T>
void kaiming_normal_(Tensor<T>& w, Rng& rng, double gain = std::sqrt(2.0)) {
  const Fans f = compute_fans(w.shape());
  normal_(w, rng, 0.0, gain / std::sqrt(f.fan_in));
}

/// Fill a Dense/Conv2D weight (and its bias, when given) with the chosen scheme: weight
/// first, then bias, from the same generator.
template <Scalar T>
void init_weight_and_bias(Init init, Tensor<T>& weight, Tensor<T>* bias, Rng& rng) {
  const Fans f = compute_fans(weight.shape());
  switch (init) {
    case Init::Default: {
      kaiming_uniform_(weight, rng, std::sqrt(1.0 / 3.0));  // = U(+-1/sqrt(fan_in))
      if (bias) {
        const double b = f.fan_in > 0 ? 1.0 / std::sqrt(f.fan_in) : 0.0;
        uniform_(*bias, rng, -b, b);
      }
      return;
    }
    case Init::XavierUniform:
      xavier_uniform_(weight, rng);
      break;
    case Init::XavierNormal:
      xavier_normal_(weight, rng);
      break;
    case Init::KaimingUniform:
      kaiming_uniform_(weight, rng);
      break;
    case Init::KaimingNormal:
      kaiming_normal_(weight, rng);
      break;
  }
  if (bias) bias->zero();
}

}  // namespace pure16::nn
