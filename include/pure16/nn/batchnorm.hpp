// pure16/nn/batchnorm.hpp — BatchNorm<T>: batch normalization over [N, C] (BatchNorm1d) and
// [N, C, H, W] (BatchNorm2d) inputs, PyTorch semantics, stable in pure fp16.
//
// Contract:
//  * Parameters "weight" (gamma, init 1) and "bias" (beta, init 0), buffers "running_mean"
//    (init 0) and "running_var" (init 1), all [C] in T.
//  * Mode::Train normalizes with the batch statistics of each channel over the N (and H, W)
//    positions: y = gamma (x - mean) / sqrt(var + eps) + beta with the biased variance, and
//    updates running = (1 - momentum) running + momentum * stat with the unbiased variance
//    (M / (M - 1) var). Mode::Eval normalizes with the running statistics.
//  * Statistics are computed stably in any scalar type and both Accumulate policies:
//      mean: the values are shifted by the channel's first value K and the shifted values
//            averaged with MeanReducer into m (Float: sum in acc_t<T>; Native: a running
//            mean rounded to T at every step, which stays within the data's range). The
//            mean is the pair (K, m); deviations are (x - K) - m formed in acc_t<T>, so a
//            large mean (1000 with std 0.1) is never rounded to T before subtraction.
//      var:  a second pass averages ((x - mean) / S)^2 with S the power of two at or above
//            max |x - mean|, so every term and the running mean lie in [0, 1]; then
//            var = avg * S^2 in acc_t<T>. The variance is a mean of squares, never negative,
//            and no square of a large fp16 value is ever formed in T, so activations up to
//            the fp16 range (e.g. 60000) cannot overflow it.
//    std = sqrt(var + eps) is formed in acc_t<T> (eps is not rounded to T: 1e-5 would be a
//    fp16 subnormal) and kept, rounded to T, for the backward pass with x_hat in T. The
//    standard deviation, unlike its inverse, stays a normal fp16 number for every variance
//    of fp16 data (sqrt(1e-5) <= std <= 65504), so its rounding costs one unit roundoff.
//  * A running_var beyond T's range rounds to infinity, as storing it in T must.
//  * Backward (after a Mode::Train forward): with g = dy, sums over each channel under the
//    policy, dbeta = sum g, dgamma = sum g x_hat,
//    dx = gamma / std (g - dbeta / M - x_hat dgamma / M), one rounding per element.
//  * Train mode needs more than one value per channel (M > 1), as PyTorch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <pure16/error.hpp>
#include <pure16/kernels/parallel.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/ops.hpp>
#include <pure16/ops.hpp>
#include <string>
#include <vector>

namespace pure16::nn {

template <Scalar T>
class BatchNorm : public Layer<T> {
 public:
  using Acc = acc_t<T>;
  explicit BatchNorm(std::size_t num_features, double eps = 1e-5, double momentum = 0.1)
      : c_(num_features), eps_(eps), momentum_(momentum) {
    if (c_ == 0) throw pure16::InvalidArgument("pure16::nn::BatchNorm: num_features must be > 0");
    if (!(eps > 0) || !std::isfinite(eps)) {
      throw pure16::InvalidArgument("pure16::nn::BatchNorm: eps " + std::to_string(eps) +
                                    " must be finite and positive");
    }
    if (!(momentum >= 0 && momentum <= 1)) {
      throw pure16::InvalidArgument("pure16::nn::BatchNorm: momentum " + std::to_string(momentum) +
                                    " is outside [0, 1]");
    }
    weight_ = {"weight", Tensor<T>({c_}), Tensor<T>({c_})};
    bias_ = {"bias", Tensor<T>({c_}), Tensor<T>({c_})};
    running_mean_ = Tensor<T>({c_});
    running_var_ = Tensor<T>({c_});
    reset_state();
  }

  std::size_t num_features() const { return c_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  Parameter<T>& weight() { return weight_; }
  Parameter<T>& bias() { return bias_; }
  Tensor<T>& running_mean() { return running_mean_; }
  Tensor<T>& running_var() { return running_var_; }

  LayerSpec spec() const override {
    return {"BatchNorm", {{"num_features", double(c_)}, {"eps", eps_}, {"momentum", momentum_}}};
  }

  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    if ((x.ndim() != 2 && x.ndim() != 4) || x.dim(1) != c_) {
      throw pure16::InvalidArgument("pure16::nn::BatchNorm(" + std::to_string(c_) +
                                    "): expected input [N, " + std::to_string(c_) + "] or [N, " +
                                    std::to_string(c_) + ", H, W], got " + shape_str(x.shape()));
    }
    n_ = x.dim(0);
    hw_ = x.ndim() == 4 ? x.dim(2) * x.dim(3) : 1;
    const std::size_t m = n_ * hw_;
    Tensor<T> y(x.shape());
    const Acc eps = static_cast<Acc>(eps_);
    if (mode == Mode::Eval) {
      kernels::parallel_for(c_, x.size(), [&](std::size_t c) {
        const Acc mean = load(running_mean_[c]);
        const Acc inv = Acc(1) / std::sqrt(load(running_var_[c]) + eps);
        const Acc g = load(weight_.value[c]) * inv, b = load(bias_.value[c]);
        std::vector<Acc> buf(hw_);
        for_rows(c, [&](std::size_t base) {
          widen(x.data() + base, buf.data(), hw_);
          for (Acc& v : buf) v = g * (v - mean) + b;
          narrow(buf.data(), y.data() + base, hw_);
        });
      });
      xhat_ = Tensor<T>();
      trained_ = false;
      return y;
    }
    if (m < 2) {
      throw pure16::InvalidArgument(
          "pure16::nn::BatchNorm: training needs more than one value "
          "per channel, got input " +
          shape_str(x.shape()));
    }
    const Acc mom = static_cast<Acc>(momentum_);
    xhat_ = Tensor<T>(x.shape());
    trained_ = true;
    std_ = Tensor<T>({c_});
    kernels::parallel_for(c_, x.size(), [&](std::size_t c) {
      // mean: shifted by the first value k, averaged under the policy. The mean is kept
      // as the pair (k, m) — both values of T under Native — and deviations are formed as
      // (x - k) - m, so no rounding of k + m to T ever enters the normalization.
      // Each pass widens one contiguous row (n, c, :) at a time; the per-element
      // arithmetic and the reducers' order are those of an element-by-element loop.
      std::vector<Acc> buf(hw_), out(hw_);
      const auto rows = [&](auto&& f) {
        for_rows(c, [&](std::size_t base) {
          widen(x.data() + base, buf.data(), hw_);
          f(base);
        });
      };
      const Acc k = load(x[c * hw_]);
      MeanReducer<T> mr(this->accumulate_);
      rows([&](std::size_t) {
        for (const Acc v : buf) mr.add(v - k);
      });
      const Acc m_shift = mr.value();
      // variance: mean of squares of the deviations scaled into [-1, 1]
      Acc dmax = 0;
      rows([&](std::size_t) {
        for (const Acc v : buf) dmax = std::max(dmax, std::fabs((v - k) - m_shift));
      });
      int e = 0;
      std::frexp(dmax, &e);
      const Acc s = dmax > Acc(0) ? std::ldexp(Acc(1), e) : Acc(1), inv_s = Acc(1) / s;
      MeanReducer<T> vr(this->accumulate_);
      rows([&](std::size_t) {
        for (const Acc v : buf) {
          const Acc d = ((v - k) - m_shift) * inv_s;
          vr.add(d * d);
        }
      });
      const Acc var = vr.value() * s * s;
      const T std_t = store<T>(std::sqrt(var + eps));
      std_[c] = std_t;
      const Acc inv = Acc(1) / load(std_t);
      const Acc g = load(weight_.value[c]), b = load(bias_.value[c]);
      rows([&](std::size_t base) {
        for (std::size_t q = 0; q < hw_; ++q) buf[q] = ((buf[q] - k) - m_shift) * inv;
        narrow(buf.data(), xhat_.data() + base, hw_);
        for (std::size_t q = 0; q < hw_; ++q) out[q] = g * buf[q] + b;
        narrow(out.data(), y.data() + base, hw_);
      });
      const Acc mean = k + m_shift;
      const Acc unbiased = var * (static_cast<Acc>(m) / static_cast<Acc>(m - 1));
      running_mean_[c] = store<T>((Acc(1) - mom) * load(running_mean_[c]) + mom * mean);
      running_var_[c] = store<T>((Acc(1) - mom) * load(running_var_[c]) + mom * unbiased);
    });
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (!trained_) {
      throw pure16::LogicError("pure16::nn::BatchNorm::backward without a Mode::Train forward");
    }
    if (dy.shape() != xhat_.shape()) {
      throw pure16::InvalidArgument("pure16::nn::BatchNorm::backward: gradient " +
                                    shape_str(dy.shape()) + " does not match " +
                                    shape_str(xhat_.shape()));
    }
    const Acc inv_m = Acc(1) / static_cast<Acc>(n_ * hw_);
    Tensor<T> dx(dy.shape());
    kernels::parallel_for(c_, dy.size(), [&](std::size_t c) {
      std::vector<Acc> g(hw_), xh(hw_);
      const auto rows = [&](auto&& f) {
        for_rows(c, [&](std::size_t base) {
          widen(dy.data() + base, g.data(), hw_);
          widen(xhat_.data() + base, xh.data(), hw_);
          f(base);
        });
      };
      Reducer<T> sg(this->accumulate_), sgx(this->accumulate_);
      rows([&](std::size_t) {
        for (std::size_t q = 0; q < hw_; ++q) {
          sg.add(g[q]);
          sgx.add(g[q] * xh[q]);
        }
      });
      bias_.grad[c] = store<T>(sg.value());
      weight_.grad[c] = store<T>(sgx.value());
      const Acc mg = sg.value() * inv_m, mgx = sgx.value() * inv_m;
      const Acc coef = load(weight_.value[c]) / load(std_[c]);
      rows([&](std::size_t base) {
        for (std::size_t q = 0; q < hw_; ++q) g[q] = coef * (g[q] - mg - xh[q] * mgx);
        narrow(g.data(), dx.data() + base, hw_);
      });
    });
    return dx;
  }

  std::vector<Parameter<T>*> parameters() override { return {&weight_, &bias_}; }
  std::vector<Buffer<T>> buffers() override {
    return {{"running_mean", &running_mean_}, {"running_var", &running_var_}};
  }

  void reset_parameters(Rng& /*rng*/) override { reset_state(); }

 private:
  void reset_state() {
    weight_.value.fill(T(1));
    bias_.value.zero();
    running_mean_.zero();
    running_var_.fill(T(1));
  }

  // Calls f(flat index of the row's first element) for every contiguous row (n, c, :) of
  // channel c of the last input (hw_ elements each), in memory order.
  template <class F>
  void for_rows(std::size_t c, F&& f) const {
    for (std::size_t n = 0; n < n_; ++n) f((n * c_ + c) * hw_);
  }

  std::size_t c_;
  double eps_, momentum_;
  Parameter<T> weight_, bias_;
  Tensor<T> running_mean_, running_var_;
  Tensor<T> xhat_, std_;
  std::size_t n_ = 0, hw_ = 0;
  bool trained_ = false;
};

}  // namespace pure16::nn
