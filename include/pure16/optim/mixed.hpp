// pure16/optim/mixed.hpp — mixed precision: fp32 master weights and fp32 optimizer state
// behind a 16-bit model, with dynamic loss scaling. NOT pure 16-bit; it is the baseline
// that pure 16-bit training is compared against, built the way Keras' mixed_float16
// (LossScaleOptimizer) and torch.autocast + GradScaler do it.
//
// Contract:
//  * MixedPrecision<T> (T a 16-bit type) keeps, per model parameter, a master copy in fp32
//    (value and grad) initialised from the model's values (exactly: every T is a float),
//    and an inner fp32 optimizer over the masters (SGD<float>, Adam<float>, ... built by the
//    caller's factory, e.g. optim::make). Its state is the inner optimizer's, in fp32.
//  * Loss scaling: loss_scale() = S is the factor the training loop multiplies
//    dLoss/dOutput by before backward (train::fit does, in float before the gradient is
//    rounded to T), so small gradients stay representable in T. step():
//      1. unscale: master.grad = float(grad_T) * (1 / S) (exact while S is a power of two,
//         as with the default factors);
//      2. if any master grad is Inf/NaN: S *= backoff_factor, the growth tracker is reset,
//         the step is skipped (no update, step count unchanged; last_step_skipped() true);
//      3. else the inner optimizer steps on the masters, the model's values are refreshed
//         as round-to-nearest(master) in T, and after growth_interval consecutive clean
//         steps S *= growth_factor (never beyond FLT_MAX) and the tracker is reset.
//    Defaults as PyTorch's GradScaler: S = 2^16, backoff 0.5, growth 2, interval 2000.
//    With dynamic = false, S stays init_scale (non-finite steps are still skipped).
//  * precision_label() is "mixed(<T>/fp32)", e.g. "mixed(fp16/fp32)". master_bytes() is
//    4 bytes per parameter; fp32_state() names the masters "<i>.master" and the inner
//    state "<i>.<slot>"; scalars() hold the scale, the growth tracker and the skip count
//    (and the inner optimizer's, prefixed "master."). Checkpoints through io/checkpoint.hpp
//    resume bit-identically.
//  * If the model's values are changed behind the optimizer's back (e.g. weights loaded
//    after construction), call sync_from_model() to re-read the masters.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <pure16/error.hpp>
#include <pure16/ops.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/parameter.hpp>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace pure16::optim {

struct LossScaleOptions {
  bool dynamic = true;
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
};

template <Scalar T>
class MixedPrecision : public Optimizer<T> {
 public:
  using InnerFactory =
      std::function<std::unique_ptr<Optimizer<float>>(std::vector<Parameter<float>*>)>;

  MixedPrecision(std::vector<Parameter<T>*> params, const InnerFactory& make_inner,
                 LossScaleOptions ls = {})
      : params_(std::move(params)), ls_(ls), scale_(ls.init_scale) {
    const std::string who = "pure16::optim::MixedPrecision";
    if (!scalar_traits<T>::is_16bit) {
      throw pure16::InvalidArgument(who + ": mixed precision keeps fp32 masters behind a 16-bit " +
                                    "model; the model is " + std::string(scalar_traits<T>::name));
    }
    auto positive = [&](double v, const char* what) {
      if (!std::isfinite(v) || v <= 0 || v > std::numeric_limits<float>::max())
        throw pure16::InvalidArgument(who + ": " + what + " " + std::to_string(v) +
                                      " must be finite and > 0");
    };
    positive(ls.init_scale, "init_scale");
    positive(ls.growth_factor, "growth_factor");
    positive(ls.backoff_factor, "backoff_factor");
    if (ls.growth_factor < 1 || ls.backoff_factor >= 1)
      throw pure16::InvalidArgument(who + ": needs growth_factor >= 1 and backoff_factor < 1");
    if (ls.growth_interval < 1)
      throw pure16::InvalidArgument(who + ": growth_interval must be >= 1");
    masters_.reserve(params_.size());
    std::vector<Parameter<float>*> ptrs;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i])
        throw pure16::InvalidArgument(who + ": parameter " + std::to_string(i) + " is null");
      const Shape& s = params_[i]->value.shape();
      if (params_[i]->grad.shape() != s)
        throw pure16::InvalidArgument(who + ": parameter " + std::to_string(i) + " (" +
                                      params_[i]->name + ") has value and grad of different shape");
      masters_.push_back(Parameter<float>{params_[i]->name, Tensor<float>(s), Tensor<float>(s)});
    }
    for (auto& m : masters_) ptrs.push_back(&m);
    sync_from_model();
    inner_ = make_inner(std::move(ptrs));
    if (!inner_) throw pure16::InvalidArgument(who + ": no inner fp32 optimizer");
  }

  void step() override {
    skipped_ = false;
    const float inv = static_cast<float>(1.0 / scale_);
    bool finite = true;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto& p = *params_[i];
      auto& m = masters_[i];
      if (p.value.shape() != m.value.shape() || p.grad.shape() != m.value.shape())
        throw pure16::LogicError("pure16::optim::MixedPrecision: parameter " + std::to_string(i) +
                                 " (" + p.name + ") changed shape since construction");
      const std::size_t n = p.grad.size();
      float* g = m.grad.data();
      to_f32(p.grad.data(), g, n);
      unsigned bad = 0;
      constexpr float big = std::numeric_limits<float>::max();
      for (std::size_t k = 0; k < n; ++k) {
        g[k] *= inv;
        bad |= unsigned(!(std::fabs(g[k]) <= big));
      }
      finite = finite && bad == 0;
    }
    if (!finite) {
      scale_ *= ls_.dynamic ? ls_.backoff_factor : 1.0;
      tracker_ = 0;
      skipped_ = true;
      ++skipped_total_;
      return;
    }
    inner_->step();
    for (std::size_t i = 0; i < params_.size(); ++i)
      from_f32(masters_[i].value.data(), params_[i]->value.data(), masters_[i].value.size());
    if (ls_.dynamic && ++tracker_ >= ls_.growth_interval) {
      if (scale_ * ls_.growth_factor <= std::numeric_limits<float>::max())
        scale_ *= ls_.growth_factor;
      tracker_ = 0;
    }
  }

  /// Re-read the masters from the model's values.
  void sync_from_model() {
    for (std::size_t i = 0; i < params_.size(); ++i)
      to_f32(params_[i]->value.data(), masters_[i].value.data(), masters_[i].value.size());
  }

  std::string name() const override { return inner_->name(); }
  double lr() const override { return inner_->lr(); }
  void set_lr(double lr) override { inner_->set_lr(lr); }
  std::int64_t steps() const override { return inner_->steps(); }
  void set_steps(std::int64_t s) override { inner_->set_steps(s); }

  std::vector<StateTensor<float>> fp32_state() override {
    std::vector<StateTensor<float>> out;
    for (std::size_t i = 0; i < masters_.size(); ++i)
      out.push_back({std::to_string(i) + ".master", &masters_[i].value});
    for (auto& s : inner_->state()) out.push_back(s);
    return out;
  }

  Scalars scalars() const override {
    Scalars s{{"loss_scale", exact(scale_)},
              {"growth_tracker", std::to_string(tracker_)},
              {"skipped_steps", std::to_string(skipped_total_)}};
    for (const auto& [k, v] : inner_->scalars()) s["master." + k] = v;
    return s;
  }
  void restore_scalars(const Scalars& s) override {
    const double scale = parse<double>(s, "loss_scale");
    if (!std::isfinite(scale) || scale <= 0)
      throw pure16::InvalidArgument("pure16::optim::MixedPrecision: loss_scale is not > 0");
    const auto tracker = parse<std::int64_t>(s, "growth_tracker");
    const auto skipped = parse<std::int64_t>(s, "skipped_steps");
    Scalars inner;
    for (const auto& [k, v] : s)
      if (k.starts_with("master.")) inner[k.substr(7)] = v;
    inner_->restore_scalars(inner);
    scale_ = scale;
    tracker_ = tracker;
    skipped_total_ = skipped;
  }

  std::string precision_label() const override {
    return "mixed(" + std::string(scalar_traits<T>::name) + "/fp32)";
  }
  std::size_t master_bytes() const override {
    std::size_t n = 0;
    for (const auto& m : masters_) n += m.value.size() * sizeof(float);
    return n;
  }
  double loss_scale() const override { return scale_; }
  bool checks_gradients() const override { return true; }
  bool last_step_skipped() const override { return skipped_; }

  std::unique_ptr<Optimizer<float>> fp32_twin(std::vector<Parameter<float>*> ps) const override {
    return inner_->fp32_twin(std::move(ps));
  }

  /// Clean steps since the scale last changed; steps skipped over the run.
  std::int64_t growth_tracker() const { return tracker_; }
  std::int64_t skipped_steps() const { return skipped_total_; }
  const LossScaleOptions& loss_scale_options() const { return ls_; }
  Optimizer<float>& inner() { return *inner_; }
  const std::vector<Parameter<float>>& masters() const { return masters_; }

 private:
  // T <-> float in bulk (kernels::convert for the 16-bit types; a plain loop otherwise,
  // which only a rejected T would reach).
  static void to_f32(const T* src, float* dst, std::size_t n) {
    if constexpr (std::is_same_v<acc_t<T>, float>) {
      widen(src, dst, n);
    } else {
      for (std::size_t k = 0; k < n; ++k) dst[k] = static_cast<float>(src[k]);
    }
  }
  static void from_f32(const float* src, T* dst, std::size_t n) {
    if constexpr (std::is_same_v<acc_t<T>, float>) {
      narrow(src, dst, n);
    } else {
      for (std::size_t k = 0; k < n; ++k) dst[k] = static_cast<T>(src[k]);
    }
  }
  static std::string exact(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  }
  template <class V>
  static V parse(const Scalars& s, const std::string& key) {
    const auto it = s.find(key);
    if (it == s.end())
      throw pure16::InvalidArgument("pure16::optim::MixedPrecision: no scalar '" + key + "'");
    V v{};
    const char* b = it->second.data();
    const char* e = b + it->second.size();
    const auto r = std::from_chars(b, e, v);
    if (r.ec != std::errc() || r.ptr != e || b == e)
      throw pure16::InvalidArgument("pure16::optim::MixedPrecision: scalar '" + key + "' = '" +
                                    it->second + "' is not a number");
    return v;
  }

  std::vector<Parameter<T>*> params_;
  std::vector<Parameter<float>> masters_;
  std::unique_ptr<Optimizer<float>> inner_;
  LossScaleOptions ls_;
  double scale_;
  std::int64_t tracker_ = 0;
  std::int64_t skipped_total_ = 0;
  bool skipped_ = false;
};

}  // namespace pure16::optim
