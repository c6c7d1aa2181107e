// pure16/nn/pooling.hpp — MaxPool2D<T> and AvgPool2D<T> over NCHW tensors (no padding).
//
// Contract:
//  * Input [N, C, H, W] with H, W >= kernel; output [N, C, OH, OW], OH = floor((H - k)/s)
//    + 1 (PyTorch, ceil_mode false), same for OW; stride defaults to the kernel size.
//  * MaxPool2D: each output is the window's largest element (exact, no rounding; a NaN in
//    the window wins); backward routes each gradient to the (first) arg-max position.
//  * AvgPool2D: the window sum is reduced under the Accumulate policy, multiplied by
//    1/(k*k) in acc_t<T> and rounded once. Backward spreads dy/(k*k) over the window.
//  * With stride < kernel windows overlap; an input position's gradient contributions are
//    summed under the Accumulate policy and rounded once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <pure16/error.hpp>
#include <pure16/kernels/parallel.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/ops.hpp>
#include <string>
#include <vector>

namespace pure16::nn {

namespace detail {
/// Geometry and argument checks shared by the two pooling layers.
struct PoolGeometry {
  std::size_t n = 0, c = 0, h = 0, w = 0, oh = 0, ow = 0;
};

inline PoolGeometry pool_geometry(const Shape& s, std::size_t k, std::size_t stride,
                                  const char* who) {
  if (s.size() != 4 || s[2] < k || s[3] < k) {
    throw pure16::InvalidArgument(
        std::string("pure16::nn::") + who + "(kernel=" + std::to_string(k) +
        "): expected input [N, C, H, W] with H, W >= " + std::to_string(k) + ", got " +
        shape_str(s));
  }
  return {s[0], s[1], s[2], s[3], (s[2] - k) / stride + 1, (s[3] - k) / stride + 1};
}

inline void check_pool_args(std::size_t k, std::size_t s, const char* who) {
  if (k == 0 || s == 0) {
    throw pure16::InvalidArgument(std::string("pure16::nn::") + who +
                                  ": kernel and stride must be positive (got " + std::to_string(k) +
                                  ", " + std::to_string(s) + ")");
  }
}
}  // namespace detail

template <Scalar T>
class MaxPool2D : public Layer<T> {
 public:
  explicit MaxPool2D(std::size_t kernel, std::size_t stride = 0)
      : k_(kernel), s_(stride ? stride : kernel) {
    detail::check_pool_args(k_, s_, "MaxPool2D");
  }
  std::size_t kernel() const { return k_; }
  std::size_t stride() const { return s_; }

  LayerSpec spec() const override {
    return {"MaxPool2D", {{"kernel", double(k_)}, {"stride", double(s_)}}};
  }

  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    g_ = detail::pool_geometry(x.shape(), k_, s_, "MaxPool2D");
    Tensor<T> y({g_.n, g_.c, g_.oh, g_.ow}, uninitialized);  // every window writes its output
    const bool train = mode == Mode::Train;
    arg_.resize(train ? y.size() : 0);  // every window writes its index
    const std::size_t hw = g_.h * g_.w, ohw = g_.oh * g_.ow;
    kernels::parallel_for(g_.n * g_.c, g_.n * g_.c * hw, [&](std::size_t nc) {
      thread_local std::vector<acc_t<T>> win;
      win.resize(hw);
      widen(x.data() + nc * hw, win.data(), hw);
      if (k_ == 2 && s_ == 2) {  // the common 2x2/2 window, without the general loop's branches
        pool2x2(win.data(), x.data() + nc * hw, y.data() + nc * ohw,
                train ? arg_.data() + nc * ohw : nullptr);
        return;
      }
      for (std::size_t oy = 0; oy < g_.oh; ++oy)
        for (std::size_t ox = 0; ox < g_.ow; ++ox) {
          std::size_t best = oy * s_ * g_.w + ox * s_;
          acc_t<T> bv = win[best];
          for (std::size_t i = 0; i < k_ && !std::isnan(bv); ++i) {
            const acc_t<T>* r = win.data() + (oy * s_ + i) * g_.w + ox * s_;
            for (std::size_t j = 0; j < k_; ++j) {
              if (r[j] > bv || std::isnan(r[j])) {
                bv = r[j];
                best = (oy * s_ + i) * g_.w + ox * s_ + j;
                if (std::isnan(bv)) break;
              }
            }
          }
          const std::size_t o = nc * ohw + oy * g_.ow + ox;
          y[o] = x[nc * hw + best];
          if (train) arg_[o] = static_cast<std::uint32_t>(best);
        }
    });
    has_cache_ = train;
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (!has_cache_) {
      throw pure16::LogicError("pure16::nn::MaxPool2D::backward without a Mode::Train forward");
    }
    const Shape expect{g_.n, g_.c, g_.oh, g_.ow};
    if (dy.shape() != expect) {
      throw pure16::InvalidArgument("pure16::nn::MaxPool2D::backward: expected gradient " +
                                    shape_str(expect) + ", got " + shape_str(dy.shape()));
    }
    using Acc = acc_t<T>;
    Tensor<T> dx({g_.n, g_.c, g_.h, g_.w}, uninitialized);  // each plane narrowed whole below
    const std::size_t hw = g_.h * g_.w, ohw = g_.oh * g_.ow;
    const bool native = this->accumulate_ == Accumulate::Native;
    kernels::parallel_for(g_.n * g_.c, g_.n * g_.c * hw, [&](std::size_t nc) {
      thread_local std::vector<Acc> acc, g;
      acc.assign(hw, Acc(0));
      g.resize(ohw);
      widen(dy.data() + nc * ohw, g.data(), ohw);
      const std::uint32_t* arg = arg_.data() + nc * ohw;
      for (std::size_t o = 0; o < ohw; ++o) {
        Acc& a = acc[arg[o]];
        a += g[o];
        if (native) a = through<T>(a);
      }
      narrow(acc.data(), dx.data() + nc * hw, hw);
    });
    return dx;
  }

 private:
  // One image of a 2x2 stride-2 max pool: the same choice as the general loop (the first
  // NaN in scan order, else the first largest value). Windows without NaN (the predictable
  // case) take the max and the index of its first occurrence without data-dependent branches.
  void pool2x2(const acc_t<T>* win, const T* x, T* y, std::uint32_t* arg) const {
    using Acc = acc_t<T>;
    const std::size_t w = g_.w;
    for (std::size_t oy = 0; oy < g_.oh; ++oy) {
      const Acc* r0 = win + 2 * oy * w;
      const Acc* r1 = r0 + w;
      const std::uint32_t base = static_cast<std::uint32_t>(2 * oy * w);
      for (std::size_t ox = 0; ox < g_.ow; ++ox) {
        const Acc a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        const std::uint32_t p0 = base + static_cast<std::uint32_t>(2 * ox);
        const std::uint32_t p2 = p0 + static_cast<std::uint32_t>(w);
        std::uint32_t bi;
        if ((a == a) & (b == b) & (c == c) & (d == d)) {
          const Acc m = std::max(std::max(a, b), std::max(c, d));
          const std::uint32_t na = a != m, nb = b != m, nc = c != m;
          // first of a, b, c, d equal to m: offsets 0, 1, w, w + 1
          bi = p0 + (na & (1 - nb)) + (na & nb) * (static_cast<std::uint32_t>(w) + nc);
        } else {
          bi = a != a ? p0 : b != b ? p0 + 1 : c != c ? p2 : p2 + 1;
        }
        y[oy * g_.ow + ox] = x[bi];
        if (arg) arg[oy * g_.ow + ox] = bi;
      }
    }
  }

  std::size_t k_, s_;
  detail::PoolGeometry g_;
  std::vector<std::uint32_t> arg_;  // per output: flat index of the max within its image
  bool has_cache_ = false;
};

template <Scalar T>
class AvgPool2D : public Layer<T> {
 public:
  explicit AvgPool2D(std::size_t kernel, std::size_t stride = 0)
      : k_(kernel), s_(stride ? stride : kernel) {
    detail::check_pool_args(k_, s_, "AvgPool2D");
  }
  std::size_t kernel() const { return k_; }
  std::size_t stride() const { return s_; }

  LayerSpec spec() const override {
    return {"AvgPool2D", {{"kernel", double(k_)}, {"stride", double(s_)}}};
  }

  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    using Acc = acc_t<T>;
    g_ = detail::pool_geometry(x.shape(), k_, s_, "AvgPool2D");
    Tensor<T> y({g_.n, g_.c, g_.oh, g_.ow});
    const Acc inv = Acc(1) / static_cast<Acc>(k_ * k_);
    const std::size_t hw = g_.h * g_.w, ohw = g_.oh * g_.ow;
    for (std::size_t nc = 0; nc < g_.n * g_.c; ++nc) {
      const T* img = x.data() + nc * hw;
      for (std::size_t oy = 0; oy < g_.oh; ++oy)
        for (std::size_t ox = 0; ox < g_.ow; ++ox) {
          Reducer<T> r(this->accumulate_);
          for (std::size_t i = 0; i < k_; ++i)
            for (std::size_t j = 0; j < k_; ++j)
              r.add(load(img[(oy * s_ + i) * g_.w + ox * s_ + j]));
          y[nc * ohw + oy * g_.ow + ox] = store<T>(r.value() * inv);
        }
    }
    has_cache_ = mode == Mode::Train;
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (!has_cache_) {
      throw pure16::LogicError("pure16::nn::AvgPool2D::backward without a Mode::Train forward");
    }
    const Shape expect{g_.n, g_.c, g_.oh, g_.ow};
    if (dy.shape() != expect) {
      throw pure16::InvalidArgument("pure16::nn::AvgPool2D::backward: expected gradient " +
                                    shape_str(expect) + ", got " + shape_str(dy.shape()));
    }
    using Acc = acc_t<T>;
    const Acc inv = Acc(1) / static_cast<Acc>(k_ * k_);
    Tensor<T> dx({g_.n, g_.c, g_.h, g_.w});
    const std::size_t hw = g_.h * g_.w, ohw = g_.oh * g_.ow;
    const bool native = this->accumulate_ == Accumulate::Native;
    std::vector<Acc> acc(hw);
    for (std::size_t nc = 0; nc < g_.n * g_.c; ++nc) {
      std::fill(acc.begin(), acc.end(), Acc(0));
      for (std::size_t oy = 0; oy < g_.oh; ++oy)
        for (std::size_t ox = 0; ox < g_.ow; ++ox) {
          const Acc v = load(dy[nc * ohw + oy * g_.ow + ox]) * inv;
          for (std::size_t i = 0; i < k_; ++i)
            for (std::size_t j = 0; j < k_; ++j) {
              Acc& a = acc[(oy * s_ + i) * g_.w + ox * s_ + j];
              a += v;
              if (native) a = through<T>(a);
            }
        }
      T* out = dx.data() + nc * hw;
      for (std::size_t q = 0; q < hw; ++q) out[q] = store<T>(acc[q]);
    }
    return dx;
  }

 private:
  std::size_t k_, s_;
  detail::PoolGeometry g_;
  bool has_cache_ = false;
};

}  // namespace pure16::nn
