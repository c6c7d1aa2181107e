// pure16/nn/flatten.hpp — Flatten<T>: [N, d1, d2, ...] -> [N, d1*d2*...] (PyTorch
// nn.Flatten with start_dim 1). Forward and backward are views sharing storage; no
// arithmetic, no rounding.
#pragma once

#include <pure16/error.hpp>
#include <pure16/nn/layer.hpp>

namespace pure16::nn {

template <Scalar T>
class Flatten : public Layer<T> {
 public:
  LayerSpec spec() const override { return {"Flatten", {}}; }

  Tensor<T> forward(const Tensor<T>& x, Mode /*mode*/) override {
    if (x.ndim() < 1) throw pure16::InvalidArgument("pure16::nn::Flatten: scalar input");
    in_shape_ = x.shape();
    const std::size_t n = x.dim(0);
    return x.reshape({n, n ? x.size() / n : 0});
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    if (dy.size() != shape_size(in_shape_)) {
      throw pure16::InvalidArgument("pure16::nn::Flatten::backward: gradient " +
                                    shape_str(dy.shape()) + " does not match input " +
                                    shape_str(in_shape_));
    }
    return dy.reshape(in_shape_);
  }

 private:
  Shape in_shape_{0};
};

}  // namespace pure16::nn
