// pure16/nn/dropout.hpp — Dropout<T>(p): inverted dropout.
//
// Contract:
//  * Mode::Train: each element is zeroed with probability p (a draw from the layer's own
//    pure16::Rng: element i is dropped when uniform() < p) and the kept ones are multiplied by
//    1/(1-p) in acc_t<T> and rounded once to T; backward applies the same mask and scale.
//    p = 1 zeroes everything.
//  * Mode::Eval: the identity (the input is returned as is); backward then passes the
//    gradient through.
//  * set_seed(s) reseeds the mask generator (Sequential::init does it per layer);
//    rng_state()/set_rng_state() save and restore it so that a resumed run draws the same
//    masks.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/ops.hpp>
#include <pure16/random.hpp>
#include <string>
#include <vector>

namespace pure16::nn {

template <Scalar T>
class Dropout : public Layer<T> {
 public:
  explicit Dropout(double p = 0.5) : p_(p), rng_(0xD50F) {
    if (!(p >= 0.0 && p <= 1.0)) {
      throw pure16::InvalidArgument("pure16::nn::Dropout: probability " + std::to_string(p) +
                                    " is outside [0, 1]");
    }
  }
  double p() const { return p_; }

  LayerSpec spec() const override { return {"Dropout", {{"p", p_}}}; }

  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    using Acc = acc_t<T>;
    shape_ = x.shape();
    if (mode == Mode::Eval || p_ == 0.0) {
      mask_.clear();
      masked_ = false;
      return x;
    }
    masked_ = true;
    const Acc scale = p_ < 1.0 ? static_cast<Acc>(1.0 / (1.0 - p_)) : Acc(0);
    scale_ = scale;
    Tensor<T> y(x.shape());
    mask_.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const bool keep = !(rng_.uniform() < p_);
      mask_[i] = keep;
      y[i] = keep ? store<T>(load(x[i]) * scale) : T(0);
    }
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (dy.shape() != shape_) {
      throw pure16::InvalidArgument("pure16::nn::Dropout::backward: gradient " +
                                    shape_str(dy.shape()) + " does not match " + shape_str(shape_));
    }
    if (!masked_) return dy;
    Tensor<T> dx(dy.shape());
    for (std::size_t i = 0; i < dy.size(); ++i)
      dx[i] = mask_[i] ? store<T>(load(dy[i]) * scale_) : T(0);
    return dx;
  }

  void set_seed(std::uint64_t seed) override { rng_.seed(seed); }
  std::optional<Rng::State> rng_state() const override { return rng_.state(); }
  void set_rng_state(const Rng::State& s) override { rng_.set_state(s); }

  /// The mask of the last training forward (1 = kept).
  const std::vector<std::uint8_t>& mask() const { return mask_; }

 private:
  double p_;
  Rng rng_;
  std::vector<std::uint8_t> mask_;
  acc_t<T> scale_ = 1;
  bool masked_ = false;
  Shape shape_{0};
};

}  // namespace pure16::nn
