// pure16/optim/adam.hpp — Adam (L2 weight decay) and AdamW (decoupled weight decay),
// PyTorch torch.optim.Adam / AdamW semantics.
//
// Contract, per element at step t (1-based), computed in acc_t<T> from the stored T values:
//    d   = g + weight_decay * w                    (Adam; AdamW uses d = g)
//    m   = beta1 * m + (1 - beta1) * d             (state "<i>.exp_avg", in T)
//    v   = beta2 * v + (1 - beta2) * d * d         (state "<i>.exp_avg_sq", in T)
//    w   = w * (1 - lr * weight_decay)             (AdamW only)
//    w   = w - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//  1 - beta1, 1 - beta2 and the bias corrections are formed in acc_t<T> (0.999 is 1.0 in
//  bf16; it is never rounded to T). d * d is formed in acc_t<T>, so a fp16 gradient of 300
//  (whose square 90000 exceeds the fp16 range) updates v to 0.001 * 90000 = 90 without
//  overflow. v itself is stored in T and overflows fp16 only when (1-beta2) d^2 > 65504,
//  i.e. |d| > ~8100 for beta2 = 0.999 in the first step; such a v is +inf and the element's
//  update is then 0, never NaN. Each stored value is rounded once to T; the weight update
//  uses the unrounded new moments (a fused kernel). The new weight is stored under
//  `rounding` (nearest, stochastic or compensated; optim/detail.hpp). eps goes through
//  checked_epsilon<T>.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <pure16/optim/detail.hpp>
#include <pure16/optim/epsilon.hpp>
#include <string>
#include <vector>

namespace pure16::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  std::optional<double> eps = std::nullopt;  // default_epsilon<T>() when unset
  double weight_decay = 0.0;
  bool allow_subnormal_eps = false;
  Rounding rounding = Rounding::NearestEven;
  std::uint64_t seed = 0x5eed;
};

/// AdamW's options: as Adam's, with PyTorch's default decoupled weight decay 0.01.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  std::optional<double> eps = std::nullopt;
  double weight_decay = 0.01;
  bool allow_subnormal_eps = false;
  Rounding rounding = Rounding::NearestEven;
  std::uint64_t seed = 0x5eed;
};

namespace detail {
inline AdamOptions as_adam_options(const AdamWOptions& w) {
  return {w.lr, w.beta1, w.beta2, w.eps, w.weight_decay, w.allow_subnormal_eps, w.rounding, w.seed};
}
inline AdamWOptions as_adamw_options(const AdamOptions& a) {
  return {a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.allow_subnormal_eps, a.rounding, a.seed};
}
}  // namespace detail

template <Scalar T>
class Adam : public ParamOptimizer<T> {
 public:
  using Acc = acc_t<T>;
  Adam(std::vector<Parameter<T>*> params, AdamOptions o = {})
      : Adam("pure16::optim::Adam", std::move(params), o, false) {}

  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return o_; }
  /// The epsilon in use, as rounded to T.
  T epsilon() const { return eps_; }

  /// Adam (or AdamW) in fp32; an unset eps becomes fp32's default epsilon.
  std::unique_ptr<Optimizer<float>> fp32_twin(std::vector<Parameter<float>*> ps) const override;

  void step() override {
    const std::int64_t t = this->steps_ + 1;
    const Acc lr = static_cast<Acc>(this->lr_);
    const Acc b1 = static_cast<Acc>(o_.beta1), b2 = static_cast<Acc>(o_.beta2);
    const Acc one_m_b1 = Acc(1) - b1, one_m_b2 = Acc(1) - b2;
    const Acc bc1 = Acc(1) - std::pow(b1, static_cast<Acc>(t));
    const Acc bc2 = Acc(1) - std::pow(b2, static_cast<Acc>(t));
    const Acc step_size = lr / bc1;
    const Acc inv_sqrt_bc2 = Acc(1) / std::sqrt(bc2);
    const Acc eps = static_cast<Acc>(eps_);
    const Acc wd = static_cast<Acc>(o_.weight_decay);
    const Acc l2 = decoupled_ ? Acc(0) : wd;
    const Acc decay = decoupled_ ? Acc(1) - lr * wd : Acc(1);
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      this->check_step(i);
      auto& p = *this->params_[i];
      T* w = p.value.data();
      const T* g = p.grad.data();
      T* m = this->slot(m_, i).data();
      T* v = this->slot(v_, i).data();
      const std::size_t n = p.value.size();
      Acc wf[kChunk], gf[kChunk], mf[kChunk], vf[kChunk];
      for (std::size_t k0 = 0; k0 < n; k0 += kChunk) {
        const std::size_t c = std::min(kChunk, n - k0);
        widen(w + k0, wf, c);
        widen(g + k0, gf, c);
        widen(m + k0, mf, c);
        widen(v + k0, vf, c);
        for (std::size_t k = 0; k < c; ++k) {
          const Acc d = gf[k] + l2 * wf[k];
          mf[k] = b1 * mf[k] + one_m_b1 * d;
          vf[k] = b2 * vf[k] + one_m_b2 * d * d;
          const Acc den = std::sqrt(vf[k]) * inv_sqrt_bc2 + eps;
          wf[k] = wf[k] * decay - step_size * mf[k] / den;
        }
        narrow(mf, m + k0, c);
        narrow(vf, v + k0, c);
        this->store_weights(i, k0, wf, c);
      }
    }
    ++this->steps_;
  }

 protected:
  Adam(std::string who, std::vector<Parameter<T>*> params, AdamOptions o, bool decoupled)
      : ParamOptimizer<T>(who, std::move(params), o.lr, o.rounding, o.seed),
        o_(o),
        eps_(checked_epsilon<T>(o.eps.value_or(default_epsilon<T>()), o.allow_subnormal_eps, who)),
        decoupled_(decoupled) {
    require_finite_in<T>(
        this->who(),
        {{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"weight_decay", o.weight_decay}});
    this->check_unit(o.beta1, "beta1");
    this->check_unit(o.beta2, "beta2");
    this->check_nonneg(o.weight_decay, "weight_decay");
    m_ = this->add_slot("exp_avg");
    v_ = this->add_slot("exp_avg_sq");
  }

 private:
  AdamOptions o_;
  T eps_;
  bool decoupled_;
  std::size_t m_ = 0, v_ = 0;
};

template <Scalar T>
class AdamW : public Adam<T> {
 public:
  AdamW(std::vector<Parameter<T>*> params, AdamWOptions o = {})
      : Adam<T>("pure16::optim::AdamW", std::move(params), detail::as_adam_options(o), true) {}
};

template <Scalar T>
std::unique_ptr<Optimizer<float>> Adam<T>::fp32_twin(std::vector<Parameter<float>*> ps) const {
  AdamOptions o = o_;
  o.lr = this->lr_;
  o.rounding = Rounding::NearestEven;
  if (decoupled_) return std::make_unique<AdamW<float>>(std::move(ps), detail::as_adamw_options(o));
  return std::make_unique<Adam<float>>(std::move(ps), o);
}

}  // namespace pure16::optim
