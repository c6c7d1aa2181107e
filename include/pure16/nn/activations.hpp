// pure16/nn/activations.hpp — element-wise activations: ReLU, LeakyReLU, Tanh, Sigmoid.
//
// Contract:
//  * Any input shape; the output has the same shape.
//  * Each element is loaded from T, computed in acc_t<T> and rounded once to T; the
//    backward pass likewise (dx = dy * f'(.) in acc_t<T>, one rounding).
//  * ReLU and LeakyReLU keep the forward input; Tanh and Sigmoid keep the output, from
//    which their derivatives 1 - y^2 and y (1 - y) are formed.
//  * Sigmoid is evaluated as 1/(1+exp(-x)) for x >= 0 and exp(x)/(1+exp(x)) otherwise, so
//    it never overflows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <pure16/error.hpp>
#include <pure16/kernels/parallel.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/ops.hpp>
#include <string>

namespace pure16::nn {

/// Shared plumbing of the element-wise activations: Derived supplies
///  static const char* kName, Acc f(Acc x) const, and Acc df(Acc x, Acc y) const
/// (derivative from the input x or the output y; kKeepInput says which is cached).
template <Scalar T, class Derived>
class Elementwise : public Layer<T> {
 public:
  using Acc = acc_t<T>;
  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    Tensor<T> y(x.shape(), uninitialized);  // every chunk narrowed below
    const auto& d = static_cast<const Derived&>(*this);
    const T* xp = x.data();
    T* yp = y.data();
    const std::size_t n = x.size();
    kernels::parallel_for((n + kChunk - 1) / kChunk, n, [&](std::size_t b) {
      Acc buf[kChunk];
      const std::size_t i0 = b * kChunk, c = std::min(kChunk, n - i0);
      widen(xp + i0, buf, c);
      for (std::size_t i = 0; i < c; ++i) buf[i] = d.f(buf[i]);
      narrow(buf, yp + i0, c);
    });
    if (mode == Mode::Train) {
      cached_ = Derived::kKeepInput ? x : y;
    } else {
      cached_ = Tensor<T>();
    }
    has_cache_ = mode == Mode::Train;
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (!has_cache_) {
      throw pure16::LogicError(std::string("pure16::nn::") + Derived::kName +
                               "::backward without a Mode::Train forward");
    }
    if (dy.shape() != cached_.shape()) {
      throw pure16::InvalidArgument(std::string("pure16::nn::") + Derived::kName +
                                    "::backward: gradient shape " + shape_str(dy.shape()) +
                                    " does not match " + shape_str(cached_.shape()));
    }
    const auto& d = static_cast<const Derived&>(*this);
    Tensor<T> dx(dy.shape(), uninitialized);  // every chunk narrowed below
    const T* c = cached_.data();
    const T* g = dy.data();
    T* o = dx.data();
    const std::size_t n = dy.size();
    kernels::parallel_for((n + kChunk - 1) / kChunk, n, [&](std::size_t b) {
      Acc cb[kChunk], gb[kChunk];
      const std::size_t i0 = b * kChunk, m = std::min(kChunk, n - i0);
      widen(c + i0, cb, m);
      widen(g + i0, gb, m);
      for (std::size_t i = 0; i < m; ++i) gb[i] *= d.df(cb[i]);
      narrow(gb, o + i0, m);
    });
    return dx;
  }

  LayerSpec spec() const override { return {Derived::kName, {}}; }

 protected:
  Tensor<T> cached_;
  bool has_cache_ = false;
};

template <Scalar T>
class ReLU : public Elementwise<T, ReLU<T>> {
 public:
  using Acc = acc_t<T>;
  static constexpr const char* kName = "ReLU";
  static constexpr bool kKeepInput = true;
  Acc f(Acc x) const { return x > Acc(0) ? x : Acc(0); }
  Acc df(Acc x) const { return x > Acc(0) ? Acc(1) : Acc(0); }
};

template <Scalar T>
class LeakyReLU : public Elementwise<T, LeakyReLU<T>> {
 public:
  using Acc = acc_t<T>;
  static constexpr const char* kName = "LeakyReLU";
  static constexpr bool kKeepInput = true;
  explicit LeakyReLU(double slope = 0.01) : slope_(slope), s_(static_cast<Acc>(slope)) {}
  double slope() const { return slope_; }
  Acc f(Acc x) const { return x > Acc(0) ? x : s_ * x; }
  Acc df(Acc x) const { return x > Acc(0) ? Acc(1) : s_; }
  LayerSpec spec() const override { return {kName, {{"slope", slope_}}}; }

 private:
  double slope_;
  Acc s_;
};

template <Scalar T>
class Tanh : public Elementwise<T, Tanh<T>> {
 public:
  using Acc = acc_t<T>;
  static constexpr const char* kName = "Tanh";
  static constexpr bool kKeepInput = false;
  Acc f(Acc x) const { return std::tanh(x); }
  Acc df(Acc y) const { return Acc(1) - y * y; }
};

template <Scalar T>
class Sigmoid : public Elementwise<T, Sigmoid<T>> {
 public:
  using Acc = acc_t<T>;
  static constexpr const char* kName = "Sigmoid";
  static constexpr bool kKeepInput = false;
  Acc f(Acc x) const {
    if (x >= Acc(0)) return Acc(1) / (Acc(1) + std::exp(-x));
    const Acc e = std::exp(x);
    return e / (Acc(1) + e);
  }
  Acc df(Acc y) const { return y * (Acc(1) - y); }
};

}  // namespace pure16::nn
