// pure16/optim/rmsprop.hpp — RMSProp (PyTorch torch.optim.RMSprop semantics).
//
// Contract, per element, computed in acc_t<T> from the stored T values:
//    d  = g + weight_decay * w
//    s  = alpha * s + (1 - alpha) * d * d          (state "<i>.square_avg")
//    a  = centered ? alpha * a + (1 - alpha) * d   (state "<i>.grad_avg")
//    den = sqrt(centered ? max(s - a*a, 0) : s) + eps
//    b  = momentum * b + d / den ; w = w - lr * b  (momentum > 0, state "<i>.momentum_buffer")
//    w  = w - lr * d / den                         (momentum == 0)
//  d*d is formed in acc_t<T> (no fp16 overflow for |d| > 256); 1 - alpha is formed in
//  acc_t<T>. Each stored value is rounded once to T; the update uses the unrounded new
//  moments (a fused kernel). eps is checked by checked_epsilon<T> and used as rounded to T.
//  The new weight is stored under `rounding` (see optim/detail.hpp).
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

struct RMSPropOptions {
  double lr = 0.01;
  double alpha = 0.99;
  std::optional<double> eps = std::nullopt;  // default_epsilon<T>() when unset
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool allow_subnormal_eps = false;
  bool centered = false;
  Rounding rounding = Rounding::NearestEven;
  std::uint64_t seed = 0x5eed;
};

template <Scalar T>
class RMSProp : public ParamOptimizer<T> {
 public:
  using Acc = acc_t<T>;
  RMSProp(std::vector<Parameter<T>*> params, RMSPropOptions o = {})
      : ParamOptimizer<T>("pure16::optim::RMSProp", std::move(params), o.lr, o.rounding, o.seed),
        o_(o),
        eps_(checked_epsilon<T>(o.eps.value_or(default_epsilon<T>()), o.allow_subnormal_eps,
                                "pure16::optim::RMSProp")) {
    require_finite_in<T>(this->who(), {{"lr", o.lr},
                                       {"alpha", o.alpha},
                                       {"momentum", o.momentum},
                                       {"weight_decay", o.weight_decay}});
    this->check_unit(o.alpha, "alpha");
    this->check_nonneg(o.momentum, "momentum");
    this->check_nonneg(o.weight_decay, "weight_decay");
    sq_ = this->add_slot("square_avg");
    if (o.momentum > 0) buf_ = this->add_slot("momentum_buffer");
    if (o.centered) avg_ = this->add_slot("grad_avg");
  }

  std::string name() const override { return "RMSProp"; }
  const RMSPropOptions& options() const { return o_; }

  std::unique_ptr<Optimizer<float>> fp32_twin(std::vector<Parameter<float>*> ps) const override {
    RMSPropOptions o = o_;
    o.lr = this->lr_;
    o.rounding = Rounding::NearestEven;
    return std::make_unique<RMSProp<float>>(std::move(ps), o);
  }
  /// The epsilon in use, as rounded to T.
  T epsilon() const { return eps_; }

  void step() override {
    const Acc lr = static_cast<Acc>(this->lr_);
    const Acc alpha = static_cast<Acc>(o_.alpha);
    const Acc one_m_alpha = Acc(1) - alpha;
    const Acc mom = static_cast<Acc>(o_.momentum);
    const Acc wd = static_cast<Acc>(o_.weight_decay);
    const Acc eps = static_cast<Acc>(eps_);
    const bool use_mom = o_.momentum > 0;
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      this->check_step(i);
      auto& p = *this->params_[i];
      T* w = p.value.data();
      const T* g = p.grad.data();
      T* s = this->slot(sq_, i).data();
      T* b = use_mom ? this->slot(buf_, i).data() : nullptr;
      T* a = o_.centered ? this->slot(avg_, i).data() : nullptr;
      const std::size_t n = p.value.size();
      Acc wf[kChunk], gf[kChunk], sf[kChunk], bf[kChunk], af[kChunk];
      for (std::size_t k0 = 0; k0 < n; k0 += kChunk) {
        const std::size_t c = std::min(kChunk, n - k0);
        widen(w + k0, wf, c);
        widen(g + k0, gf, c);
        widen(s + k0, sf, c);
        if (use_mom) widen(b + k0, bf, c);
        if (o_.centered) widen(a + k0, af, c);
        for (std::size_t k = 0; k < c; ++k) {
          const Acc d = gf[k] + wd * wf[k];
          sf[k] = alpha * sf[k] + one_m_alpha * d * d;
          Acc var = sf[k];
          if (o_.centered) {
            af[k] = alpha * af[k] + one_m_alpha * d;
            var = std::max(sf[k] - af[k] * af[k], Acc(0));
          }
          const Acc den = std::sqrt(var) + eps;
          Acc upd = d / den;
          if (use_mom) {
            upd = mom * bf[k] + upd;
            bf[k] = upd;
          }
          wf[k] -= lr * upd;
        }
        narrow(sf, s + k0, c);
        if (use_mom) narrow(bf, b + k0, c);
        if (o_.centered) narrow(af, a + k0, c);
        this->store_weights(i, k0, wf, c);
      }
    }
    ++this->steps_;
  }

 private:
  RMSPropOptions o_;
  T eps_;
  std::size_t sq_ = 0, buf_ = 0, avg_ = 0;
};

}  // namespace pure16::optim
