// pure16/nn/conv2d.hpp — Conv2D<T>: 2-d convolution (cross-correlation, as PyTorch Conv2d)
// over NCHW tensors, by im2col + GEMM.
//
// Contract:
//  * Input [N, C, H, W], output [N, O, OH, OW] with OH = (H + 2p - k) / s + 1 (floor), same
//    for OW; zero padding p, stride s, square kernel k. Weight [O, C, k, k], bias [O]
//    (PyTorch layout and names).
//  * Forward: the whole batch is unfolded into col [C*k*k, N*OH*OW] (kept in T for the
//    backward pass) and multiplied by the weight in one GEMM whose output is preloaded with
//    the bias, so every output is rounded to T once.
//  * Backward: dW = dY' col^T is one GEMM over the whole batch (N*OH*OW is its reduction
//    dimension, so the weight gradient is rounded once), db = row sums of dY', and
//    dcol = W^T dY' is folded back (col2im) with overlapping contributions summed under the
//    Accumulate policy and rounded once per input element.
//  * With needs_input_grad() false (a model's first layer) backward skips dcol and col2im.
//  * im2col, col2im and the layout copies run on OpenMP's threads (kernels::parallel_for).
//  * reset_parameters uses the layer's Init (Init::Default = PyTorch's default).
#pragma once

#include <algorithm>
#include <cstddef>
#include <pure16/error.hpp>
#include <pure16/kernels/gemm.hpp>
#include <pure16/kernels/parallel.hpp>
#include <pure16/nn/init.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/ops.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::nn {

/// Output size of a sliding window: floor((in + 2 pad - k) / stride) + 1 (in + 2 pad >= k).
inline std::size_t window_out(std::size_t in, std::size_t k, std::size_t stride, std::size_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

template <Scalar T>
class Conv2D : public Layer<T> {
 public:
  Conv2D(std::size_t in_channels, std::size_t out_channels, std::size_t kernel,
         std::size_t stride = 1, std::size_t padding = 0, bool bias = true,
         Init init = Init::Default)
      : c_(in_channels),
        o_(out_channels),
        k_(kernel),
        s_(stride),
        p_(padding),
        has_bias_(bias),
        init_(init) {
    if (c_ == 0 || o_ == 0 || k_ == 0 || s_ == 0) {
      throw pure16::InvalidArgument(
          "pure16::nn::Conv2D: in_channels, out_channels, kernel and stride must be positive "
          "(got " +
          std::to_string(c_) + ", " + std::to_string(o_) + ", " + std::to_string(k_) + ", " +
          std::to_string(s_) + ")");
    }
    weight_ = {"weight", Tensor<T>({o_, c_, k_, k_}), Tensor<T>({o_, c_, k_, k_})};
    if (has_bias_) bias_ = {"bias", Tensor<T>({o_}), Tensor<T>({o_})};
  }

  std::size_t in_channels() const { return c_; }
  std::size_t out_channels() const { return o_; }
  std::size_t kernel() const { return k_; }
  std::size_t stride() const { return s_; }
  std::size_t padding() const { return p_; }
  bool has_bias() const { return has_bias_; }
  Init init() const { return init_; }
  void set_init(Init i) { init_ = i; }
  Parameter<T>& weight() { return weight_; }
  Parameter<T>& bias() {
    if (!has_bias_) throw pure16::LogicError("pure16::nn::Conv2D: layer has no bias");
    return bias_;
  }

  LayerSpec spec() const override {
    LayerSpec s{"Conv2D",
                {{"in_channels", double(c_)},
                 {"out_channels", double(o_)},
                 {"kernel", double(k_)},
                 {"stride", double(s_)},
                 {"padding", double(p_)},
                 {"bias", has_bias_ ? 1.0 : 0.0}}};
    if (init_ != Init::Default) s.args["init"] = static_cast<double>(init_);
    return s;
  }

  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    if (x.ndim() != 4 || x.dim(1) != c_ || x.dim(2) + 2 * p_ < k_ || x.dim(3) + 2 * p_ < k_) {
      throw pure16::InvalidArgument(
          "pure16::nn::Conv2D(" + std::to_string(c_) + "->" + std::to_string(o_) +
          ", k=" + std::to_string(k_) + ", p=" + std::to_string(p_) + "): expected input [N, " +
          std::to_string(c_) + ", H, W] with H, W >= " +
          std::to_string(k_ > 2 * p_ ? k_ - 2 * p_ : 1) + ", got " + shape_str(x.shape()));
    }
    n_ = x.dim(0);
    h_ = x.dim(2);
    w_ = x.dim(3);
    oh_ = window_out(h_, k_, s_, p_);
    ow_ = window_out(w_, k_, s_, p_);
    const std::size_t ckk = c_ * k_ * k_, L = oh_ * ow_;
    // Training keeps the whole im2col matrix for backward. Inference builds it for a group
    // of images at a time (about kInferColumns elements), so that a large evaluation batch
    // (1000 CIFAR-10 images: 147 MiB in fp16 for the second conv of the small CNN) never
    // holds it whole; every output element is the same sum either way.
    const std::size_t group =
        mode == Mode::Train ? n_ : std::clamp<std::size_t>(kInferColumns / (ckk * L), 1, n_);
    Tensor<T> y({n_, o_, oh_, ow_}, uninitialized);  // every element written below
    Tensor<T> col, yp;
    for (std::size_t n0 = 0; n0 < n_; n0 += group) {
      const std::size_t gn = std::min(group, n_ - n0), cols = gn * L;
      if (col.size() != ckk * cols) {
        col = Tensor<T>({ckk, cols}, uninitialized);  // im2col writes every element
        yp = Tensor<T>({o_, cols}, uninitialized);    // [O, gn*L]: bias, or beta = 0
      }
      im2col(x.data(), col.data(), n0, gn);
      if (has_bias_)
        kernels::parallel_for(o_, o_ * cols, [&](std::size_t o) {
          std::fill(yp.data() + o * cols, yp.data() + (o + 1) * cols, bias_.value[o]);
        });
      kernels::gemm<T>(kernels::Trans::No, kernels::Trans::No, o_, cols, ckk, acc_t<T>(1),
                       weight_.value.data(), ckk, col.data(), cols,
                       has_bias_ ? acc_t<T>(1) : acc_t<T>(0), yp.data(), cols,
                       kernels::GemmOptions{this->accumulate_});
      kernels::parallel_for(o_, o_ * cols, [&](std::size_t o) {
        for (std::size_t n = 0; n < gn; ++n)
          std::copy(yp.data() + o * cols + n * L, yp.data() + o * cols + (n + 1) * L,
                    y.data() + ((n0 + n) * o_ + o) * L);
      });
    }
    col_ = mode == Mode::Train ? std::move(col) : Tensor<T>();
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (col_.ndim() != 2) {
      throw pure16::LogicError("pure16::nn::Conv2D::backward without a Mode::Train forward");
    }
    const Shape expect{n_, o_, oh_, ow_};
    if (dy.shape() != expect) {
      throw pure16::InvalidArgument("pure16::nn::Conv2D::backward: expected gradient " +
                                    shape_str(expect) + ", got " + shape_str(dy.shape()));
    }
    const std::size_t ckk = c_ * k_ * k_, L = oh_ * ow_, cols = n_ * L;
    const kernels::GemmOptions opt{this->accumulate_};
    Tensor<T> dyp({o_, cols}, uninitialized);  // a permutation of dy
    kernels::parallel_for(o_, o_ * cols, [&](std::size_t o) {
      for (std::size_t n = 0; n < n_; ++n)
        std::copy(dy.data() + (n * o_ + o) * L, dy.data() + (n * o_ + o + 1) * L,
                  dyp.data() + o * cols + n * L);
    });
    kernels::gemm<T>(kernels::Trans::No, kernels::Trans::Yes, o_, ckk, cols, acc_t<T>(1),
                     dyp.data(), cols, col_.data(), cols, acc_t<T>(0), weight_.grad.data(), ckk,
                     opt);
    if (has_bias_)
      kernels::parallel_for(o_, o_ * cols, [&](std::size_t o) {
        row_sums(dyp.data() + o * cols, 1, cols, bias_.grad.data() + o, this->accumulate_);
      });
    if (!this->needs_input_grad_) return Tensor<T>();  // first layer: dL/dx not needed
    Tensor<T> dcol({ckk, cols}, uninitialized);        // GEMM with beta = 0
    kernels::gemm<T>(kernels::Trans::Yes, kernels::Trans::No, ckk, cols, o_, acc_t<T>(1),
                     weight_.value.data(), ckk, dyp.data(), cols, acc_t<T>(0), dcol.data(), cols,
                     opt);
    Tensor<T> dx({n_, c_, h_, w_}, uninitialized);  // col2im writes every image and channel
    col2im(dcol.data(), dx.data());
    return dx;
  }

  std::vector<Parameter<T>*> parameters() override {
    if (has_bias_) return {&weight_, &bias_};
    return {&weight_};
  }

  void reset_parameters(Rng& rng) override {
    init_weight_and_bias(init_, weight_.value, has_bias_ ? &bias_.value : nullptr, rng);
  }

 private:
  // Valid output columns [lo, hi) of kernel column j: 0 <= ox*s + j - p < w.
  void valid_range(std::size_t j, std::size_t extent, std::size_t out, std::size_t& lo,
                   std::size_t& hi) const {
    lo = p_ > j ? (p_ - j + s_ - 1) / s_ : 0;
    hi = extent + p_ > j ? std::min(out, (extent + p_ - j - 1) / s_ + 1) : 0;
    if (hi < lo) hi = lo;
  }

  // Images [n0, n0 + count) of x:
  // col[(c*k + i)*k + j][n*L + oy*ow + ox] = x[n0 + n, c, oy*s + i - p, ox*s + j - p] (0 outside).
  void im2col(const T* x, T* col, std::size_t n0, std::size_t count) const {
    const std::size_t L = oh_ * ow_, cols = count * L, kk = k_ * k_;
    kernels::parallel_for(c_ * kk, c_ * kk * cols, [&](std::size_t r) {
      const std::size_t c = r / kk, i = (r % kk) / k_, j = r % k_;
      T* row = col + r * cols;
      std::size_t lo, hi;
      valid_range(j, w_, ow_, lo, hi);
      for (std::size_t n = 0; n < count; ++n) {
        const T* img = x + ((n0 + n) * c_ + c) * h_ * w_;
        T* out = row + n * L;
        for (std::size_t oy = 0; oy < oh_; ++oy) {
          const std::ptrdiff_t iy = std::ptrdiff_t(oy * s_ + i) - std::ptrdiff_t(p_);
          T* o = out + oy * ow_;
          if (iy < 0 || iy >= std::ptrdiff_t(h_)) {
            std::fill(o, o + ow_, T(0));
            continue;
          }
          std::fill(o, o + lo, T(0));
          std::fill(o + hi, o + ow_, T(0));
          if (lo == hi) continue;
          const T* src = img + std::size_t(iy) * w_ + (lo * s_ + j - p_);
          if (s_ == 1) {
            std::copy(src, src + (hi - lo), o + lo);
          } else {
            for (std::size_t ox = lo; ox < hi; ++ox) o[ox] = src[(ox - lo) * s_];
          }
        }
      }
    });
  }

  // dx[n, c, y, x] = sum of the dcol entries that im2col read from (n, c, y, x), summed
  // under the Accumulate policy in a per-image accumulator and rounded once.
  void col2im(const T* dcol, T* dx) const {
    using Acc = acc_t<T>;
    const std::size_t L = oh_ * ow_, cols = n_ * L, hw = h_ * w_;
    const bool native = this->accumulate_ == Accumulate::Native;
    kernels::parallel_for(n_, n_ * c_ * k_ * k_ * L, [&](std::size_t n) {
      thread_local std::vector<Acc> acc, row;
      acc.resize(hw);
      row.resize(L);
      for (std::size_t c = 0; c < c_; ++c) {
        std::fill(acc.begin(), acc.end(), Acc(0));
        for (std::size_t i = 0; i < k_; ++i)
          for (std::size_t j = 0; j < k_; ++j) {
            widen(dcol + ((c * k_ + i) * k_ + j) * cols + n * L, row.data(), L);
            std::size_t lo, hi;
            valid_range(j, w_, ow_, lo, hi);
            if (lo == hi) continue;
            for (std::size_t oy = 0; oy < oh_; ++oy) {
              const std::ptrdiff_t iy = std::ptrdiff_t(oy * s_ + i) - std::ptrdiff_t(p_);
              if (iy < 0 || iy >= std::ptrdiff_t(h_)) continue;
              Acc* a = acc.data() + std::size_t(iy) * w_ + (lo * s_ + j - p_);
              const Acc* r = row.data() + oy * ow_;
              if (native) {
                for (std::size_t ox = lo; ox < hi; ++ox) {
                  Acc& d = a[(ox - lo) * s_];
                  d = through<T>(d + r[ox]);
                }
              } else {
                for (std::size_t ox = lo; ox < hi; ++ox) a[(ox - lo) * s_] += r[ox];
              }
            }
          }
        narrow(acc.data(), dx + (n * c_ + c) * hw, hw);
      }
    });
  }

  // Elements of one inference im2col group (4 MiB in fp16, 8 MiB in fp32).
  static constexpr std::size_t kInferColumns = std::size_t(1) << 21;

  std::size_t c_, o_, k_, s_, p_;
  bool has_bias_;
  Init init_;
  Parameter<T> weight_, bias_;
  Tensor<T> col_;
  std::size_t n_ = 0, h_ = 0, w_ = 0, oh_ = 0, ow_ = 0;
};

}  // namespace pure16::nn
