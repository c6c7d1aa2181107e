// pure16/optim/detail.hpp — plumbing shared by pure16's optimizers: the parameter list,
// its validation, state tensors in T, and the (optionally stochastic) rounding of updates.
//
// Contract: ParamOptimizer<T> keeps the parameter pointers (non-null, value and grad of
// equal shape, checked at construction and at each step), allocates zero state tensors
// shaped like each parameter, names them "<param index>.<slot>", and rounds the new
// weight with round_weight() (nearest-even, or stochastic from a seeded
// StochasticRounder when Rounding::Stochastic is chosen; moments always round to nearest).
#pragma once

#include <cmath>
#include <cstdint>
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

  /// The new weight rounded to T: stochastically for 16-bit T when asked, else nearest.
  T round_weight(Acc w) {
    if (rounding_ == Rounding::Stochastic && scalar_traits<T>::is_16bit)
      return rounder_.round<T>(static_cast<float>(w));
    return round_to<T>(w);
  }
  /// round_weight over a block of n new weights.
  void store_weights(const Acc* src, T* dst, std::size_t n) {
    if (rounding_ == Rounding::Stochastic && scalar_traits<T>::is_16bit) {
      for (std::size_t k = 0; k < n; ++k) dst[k] = round_weight(src[k]);
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
  std::size_t slots_size(std::size_t i) const {
    return slots_.empty() ? params_[i]->value.size() : slots_.front().second[i].size();
  }
  std::vector<std::pair<std::string, std::vector<Tensor<T>>>> slots_;
};

}  // namespace pure16::optim
