// pure16/optim/detail.hpp — plumbing shared by pure16's optimizers: the parameter list,
// its validation, state tensors in T, and the rounding of the new weights.
//
// Contract: ParamOptimizer<T> keeps the parameter pointers (non-null, value and grad of
// equal shape, checked at construction and at each step), allocates zero state tensors
// shaped like each parameter, names them "<param index>.<slot>", and stores the new
// weights with store_weights() under the optimizer's Rounding:
//  * NearestEven: w = round(w_new).
//  * Stochastic (16-bit T): w = stochastic_round(w_new) from a seeded StochasticRounder
//    whose state is a checkpointed scalar ("rounder_state"). For float/double T: nearest.
//  * Compensated (Kahan summation, any T): a state slot "<i>.compensation" in T holds c,
//    the part of past updates that rounding dropped. With u = w_new - w (in acc_t<T>):
//        y = u + c;   w' = round(w + y);   c' = round(y - (w' - w))
//    so an update far below half an ulp of w accumulates in c until it moves w. It costs
//    2 bytes per parameter (16-bit T) and stays pure 16-bit: c is stored in T.
// Moments and other state always round to nearest.
#pragma once

#include <cmath>
#include <cstdint>
#include <exception>
#include <pure16/error.hpp>
#include <pure16/ops.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/parameter.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::optim {

template <Scalar T>
class ParamOptimizer : public Optimizer<T> {
 public:
  using Acc = acc_t<T>;

  double lr() const override { return lr_; }
  void set_lr(double lr) override {
    check_nonneg(lr, "learning rate");
    lr_ = lr;
  }

  std::vector<StateTensor<T>> state() override {
    std::vector<StateTensor<T>> out;
    for (std::size_t i = 0; i < params_.size(); ++i)
      for (auto& s : slots_) out.push_back({std::to_string(i) + "." + s.first, &s.second[i]});
    return out;
  }

  Scalars scalars() const override { return {{"rounder_state", std::to_string(rounder_.state())}}; }
  void restore_scalars(const Scalars& s) override {
    const auto it = s.find("rounder_state");
    if (it == s.end()) throw pure16::InvalidArgument(who() + ": no scalar 'rounder_state'");
    std::size_t pos = 0;
    unsigned long long v = 0;
    try {
      if (!it->second.empty() && it->second[0] != '-') v = std::stoull(it->second, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    if (pos == 0 || pos != it->second.size()) {
      throw pure16::InvalidArgument(who() + ": scalar 'rounder_state' = '" + it->second +
                                    "' is not an unsigned integer");
    }
    rounder_.set_state(v);
  }

  std::string precision_label() const override {
    std::string l(scalar_traits<T>::name);
    if (rounding_ == Rounding::Stochastic && scalar_traits<T>::is_16bit) l += "+stochastic";
    if (rounding_ == Rounding::Compensated) l += "+compensated";
    return l;
  }

  /// Stochastic-rounding generator state, for checkpoints that resume bit-identically.
  std::uint64_t rounder_state() const { return rounder_.state(); }
  void set_rounder_state(std::uint64_t s) { rounder_.set_state(s); }
  Rounding rounding() const { return rounding_; }

  const std::vector<Parameter<T>*>& params() const { return params_; }

 protected:
  ParamOptimizer(std::string label, std::vector<Parameter<T>*> params, double lr, Rounding rounding,
                 std::uint64_t seed)
      : who_(std::move(label)), params_(std::move(params)), rounding_(rounding), rounder_(seed) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i])
        throw pure16::InvalidArgument(who() + ": parameter " + std::to_string(i) + " is null");
      if (params_[i]->value.shape() != params_[i]->grad.shape()) {
        throw pure16::InvalidArgument(who() + ": parameter " + std::to_string(i) + " (" +
                                      params_[i]->name + ") has value " +
                                      shape_str(params_[i]->value.shape()) + " but grad " +
                                      shape_str(params_[i]->grad.shape()));
      }
    }
    set_lr(lr);
    if (rounding_ == Rounding::Compensated) comp_ = add_slot("compensation");
  }

  const std::string& who() const { return who_; }

  /// Adds a state slot: one zero tensor in T per parameter; returns its index.
  std::size_t add_slot(const std::string& name) {
    std::vector<Tensor<T>> ts;
    for (auto* p : params_) ts.emplace_back(p->value.shape());
    slots_.emplace_back(name, std::move(ts));
    return slots_.size() - 1;
  }
  Tensor<T>& slot(std::size_t s, std::size_t i) { return slots_[s].second[i]; }

  void check_step(std::size_t i) const {
    if (params_[i]->value.shape() != params_[i]->grad.shape() ||
        params_[i]->value.size() != slots_size(i)) {
      throw pure16::LogicError(who() + ": parameter " + std::to_string(i) + " (" +
                               params_[i]->name + ") changed shape since construction");
    }
  }

  /// True when store_weights draws from the stochastic-rounding generator: its calls must
  /// then come in element order (one sequence per step), so the step stays on one thread.
  bool draws_random_bits() const {
    return rounding_ == Rounding::Stochastic && scalar_traits<T>::is_16bit;
  }

  /// Store the n new weights `src` (in acc_t<T>) of parameter i from element k0 on, under
  /// the optimizer's Rounding (see the header comment); n <= kChunk.
  void store_weights(std::size_t i, std::size_t k0, const Acc* src, std::size_t n) {
    T* dst = params_[i]->value.data() + k0;
    if (draws_random_bits()) {
      std::uint32_t r[kChunk];  // the generator's sequence first, then the roundings
      for (std::size_t k = 0; k < n; ++k) r[k] = rounder_.next_bits();
      for (std::size_t k = 0; k < n; ++k)
        dst[k] = round_stochastic<T>(static_cast<float>(src[k]), r[k]);
    } else if (rounding_ == Rounding::Compensated) {
      T* cp = slot(comp_, i).data() + k0;
      Acc old[kChunk], y[kChunk], s[kChunk] = {};  // {}: GCC cannot see the loop fills s
      widen(dst, old, n);
      widen(cp, y, n);
      for (std::size_t k = 0; k < n; ++k) {
        y[k] += src[k] - old[k];  // the update plus what earlier roundings dropped
        s[k] = old[k] + y[k];
      }
      narrow(s, dst, n);
      widen(dst, s, n);
      for (std::size_t k = 0; k < n; ++k) y[k] -= s[k] - old[k];  // what this rounding dropped
      narrow(y, cp, n);
    } else {
      narrow(src, dst, n);
    }
  }

  void check_nonneg(double v, const char* what) const {
    if (!std::isfinite(v) || v < 0) {
      throw pure16::InvalidArgument(who() + ": " + what + " " + std::to_string(v) +
                                    " must be finite and >= 0");
    }
  }
  void check_unit(double v, const char* what) const {
    if (!std::isfinite(v) || v < 0 || v >= 1) {
      throw pure16::InvalidArgument(who() + ": " + what + " " + std::to_string(v) +
                                    " must be in [0, 1)");
    }
  }

  std::string who_;
  std::vector<Parameter<T>*> params_;
  double lr_ = 0;
  Rounding rounding_;
  StochasticRounder rounder_;

 private:
  std::size_t comp_ = 0;
  std::size_t slots_size(std::size_t i) const {
    return slots_.empty() ? params_[i]->value.size() : slots_.front().second[i].size();
  }
  std::vector<std::pair<std::string, std::vector<Tensor<T>>>> slots_;
};

}  // namespace pure16::optim
