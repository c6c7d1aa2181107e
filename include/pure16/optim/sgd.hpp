// pure16/optim/sgd.hpp — stochastic gradient descent with momentum, Nesterov momentum and
// L2 weight decay (PyTorch torch.optim.SGD semantics, dampening 0).
//
// Contract, per element, computed in acc_t<T> from the stored T values:
//    d = g + weight_decay * w
//    b = momentum * b + d                  (state "<i>.momentum_buffer", in T; momentum > 0)
//    d = nesterov ? d + momentum * b : b   (momentum > 0)
//    w = w - lr * d
//  Each stored value (b, w) is rounded once to T; w under `rounding` (nearest, stochastic
//  for 16-bit T seeded by `seed`, or compensated; see optim/detail.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <pure16/error.hpp>
#include <pure16/kernels/parallel.hpp>
#include <pure16/optim/detail.hpp>
#include <pure16/optim/epsilon.hpp>
#include <string>
#include <vector>

namespace pure16::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  Rounding rounding = Rounding::NearestEven;
  std::uint64_t seed = 0x5eed;
};

template <Scalar T>
class SGD : public ParamOptimizer<T> {
 public:
  using Acc = acc_t<T>;
  SGD(std::vector<Parameter<T>*> params, SGDOptions o = {})
      : ParamOptimizer<T>("pure16::optim::SGD", std::move(params), o.lr, o.rounding, o.seed),
        o_(o) {
    require_finite_in<T>(
        this->who(), {{"lr", o.lr}, {"momentum", o.momentum}, {"weight_decay", o.weight_decay}});
    this->check_nonneg(o.momentum, "momentum");
    this->check_nonneg(o.weight_decay, "weight_decay");
    if (o.nesterov && o.momentum <= 0) {
      throw pure16::InvalidArgument(this->who() + ": Nesterov momentum requires momentum > 0");
    }
    if (o.momentum > 0) buf_ = this->add_slot("momentum_buffer");
  }

  std::string name() const override { return "SGD"; }
  const SGDOptions& options() const { return o_; }

  std::unique_ptr<Optimizer<float>> fp32_twin(std::vector<Parameter<float>*> ps) const override {
    SGDOptions o = o_;
    o.lr = this->lr_;
    o.rounding = Rounding::NearestEven;
    return std::make_unique<SGD<float>>(std::move(ps), o);
  }

  void step() override {
    const Acc lr = static_cast<Acc>(this->lr_);
    const Acc mom = static_cast<Acc>(o_.momentum);
    const Acc wd = static_cast<Acc>(o_.weight_decay);
    const bool use_mom = o_.momentum > 0;
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      this->check_step(i);
      auto& p = *this->params_[i];
      T* w = p.value.data();
      const T* g = p.grad.data();
      T* b = use_mom ? this->slot(buf_, i).data() : nullptr;
      const std::size_t n = p.value.size();
      const auto chunk = [&](std::size_t j) {
        const std::size_t k0 = j * kChunk, c = std::min(kChunk, n - k0);
        Acc wf[kChunk], gf[kChunk], bf[kChunk];
        widen(w + k0, wf, c);
        widen(g + k0, gf, c);
        if (use_mom) widen(b + k0, bf, c);
        if (!use_mom)
          update<false, false>(wf, gf, bf, c, lr, mom, wd);
        else if (o_.nesterov)
          update<true, true>(wf, gf, bf, c, lr, mom, wd);
        else
          update<true, false>(wf, gf, bf, c, lr, mom, wd);
        if (use_mom) narrow(bf, b + k0, c);
        this->store_weights(i, k0, wf, c);
      };
      const std::size_t chunks = (n + kChunk - 1) / kChunk;
      if (this->draws_random_bits()) {  // one generator, consumed in element order
        for (std::size_t j = 0; j < chunks; ++j) chunk(j);
      } else {  // element-wise: chunks over the threads, the same values for any count
        kernels::parallel_for(chunks, n, chunk);
      }
    }
    ++this->steps_;
  }

 private:
  // One chunk of the contract above, the momentum/Nesterov choice out of the loop so that the
  // compiler vectorizes it (a per-element branch kept it scalar: 16 % of an MLP step).
  template <bool Momentum, bool Nesterov>
  static void update(Acc* __restrict wf, const Acc* __restrict gf, Acc* __restrict bf,
                     std::size_t c, Acc lr, Acc mom, Acc wd) {
    for (std::size_t k = 0; k < c; ++k) {
      Acc d = gf[k] + wd * wf[k];
      if constexpr (Momentum) {
        bf[k] = mom * bf[k] + d;
        d = Nesterov ? d + mom * bf[k] : bf[k];
      }
      wf[k] -= lr * d;
    }
  }

  SGDOptions o_;
  std::size_t buf_ = 0;
};

}  // namespace pure16::optim
