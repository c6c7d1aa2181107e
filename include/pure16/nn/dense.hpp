// pure16/nn/dense.hpp — Dense<T>: a fully connected layer, y = x W^T + b.
//
// Contract:
//  * Input [N, in], output [N, out]; weight [out, in] and bias [out] (PyTorch Linear layout,
//    names "weight" and "bias").
//  * Forward is one GEMM with the bias preloaded into the output (beta = 1), so each output
//    is rounded to T once. Backward: dx = dy W, dW = dy^T x (one GEMM each, the batch is the
//    reduction dimension), db = column sums of dy; all under the layer's Accumulate policy.
//  * reset_parameters uses the layer's Init (Init::Default = PyTorch's default, see init.hpp).
//  * The forward input is kept by reference (a Tensor alias) until backward.
#pragma once

#include <cstddef>
#include <pure16/error.hpp>
#include <pure16/kernels/gemm.hpp>
#include <pure16/nn/init.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/ops.hpp>
#include <string>
#include <vector>

namespace pure16::nn {

template <Scalar T>
class Dense : public Layer<T> {
 public:
  Dense(std::size_t in, std::size_t out, bool bias = true, Init init = Init::Default)
      : in_(in), out_(out), has_bias_(bias), init_(init) {
    if (in == 0 || out == 0) {
      throw pure16::InvalidArgument("pure16::nn::Dense: in and out must be positive (got in=" +
                                    std::to_string(in) + ", out=" + std::to_string(out) + ")");
    }
    weight_ = {"weight", Tensor<T>({out, in}), Tensor<T>({out, in})};
    if (has_bias_) bias_ = {"bias", Tensor<T>({out}), Tensor<T>({out})};
  }

  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }
  bool has_bias() const { return has_bias_; }
  Init init() const { return init_; }
  void set_init(Init i) { init_ = i; }
  Parameter<T>& weight() { return weight_; }
  Parameter<T>& bias() {
    if (!has_bias_) throw pure16::LogicError("pure16::nn::Dense: layer has no bias");
    return bias_;
  }

  LayerSpec spec() const override {
    LayerSpec s{"Dense",
                {{"in", double(in_)}, {"out", double(out_)}, {"bias", has_bias_ ? 1.0 : 0.0}}};
    if (init_ != Init::Default) s.args["init"] = static_cast<double>(init_);
    return s;
  }

  Tensor<T> forward(const Tensor<T>& x, Mode mode) override {
    if (x.ndim() != 2 || x.dim(1) != in_) {
      throw pure16::InvalidArgument("pure16::nn::Dense(" + std::to_string(in_) + "->" +
                                    std::to_string(out_) + "): expected input [N, " +
                                    std::to_string(in_) + "], got " + shape_str(x.shape()));
    }
    const std::size_t n = x.dim(0);
    Tensor<T> y({n, out_}, uninitialized);  // the bias, or a GEMM with beta = 0
    if (has_bias_) {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < out_; ++j) y[i * out_ + j] = bias_.value[j];
    }
    kernels::gemm<T>(kernels::Trans::No, kernels::Trans::Yes, n, out_, in_, acc_t<T>(1), x.data(),
                     in_, weight_.value.data(), in_, has_bias_ ? acc_t<T>(1) : acc_t<T>(0),
                     y.data(), out_, kernels::GemmOptions{this->accumulate_});
    if (mode == Mode::Train)
      x_ = x;
    else
      x_ = Tensor<T>();
    return y;
  }

  Tensor<T> backward(const Tensor<T>& dy) override {
    const std::size_t n = x_.ndim() == 2 ? x_.dim(0) : 0;
    if (x_.ndim() != 2) {
      throw pure16::LogicError("pure16::nn::Dense::backward without a Mode::Train forward");
    }
    if (dy.ndim() != 2 || dy.dim(0) != n || dy.dim(1) != out_) {
      throw pure16::InvalidArgument("pure16::nn::Dense::backward: expected gradient [" +
                                    std::to_string(n) + ", " + std::to_string(out_) + "], got " +
                                    shape_str(dy.shape()));
    }
    const kernels::GemmOptions opt{this->accumulate_};
    Tensor<T> dx;
    if (this->needs_input_grad_) {
      dx = Tensor<T>({n, in_}, uninitialized);  // GEMM with beta = 0
      kernels::gemm<T>(kernels::Trans::No, kernels::Trans::No, n, in_, out_, acc_t<T>(1), dy.data(),
                       out_, weight_.value.data(), in_, acc_t<T>(0), dx.data(), in_, opt);
    }
    kernels::gemm<T>(kernels::Trans::Yes, kernels::Trans::No, out_, in_, n, acc_t<T>(1), dy.data(),
                     out_, x_.data(), in_, acc_t<T>(0), weight_.grad.data(), in_, opt);
    if (has_bias_) column_sums(dy.data(), n, out_, bias_.grad.data(), this->accumulate_);
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
  std::size_t in_, out_;
  bool has_bias_;
  Init init_;
  Parameter<T> weight_, bias_;
  Tensor<T> x_;
};

}  // namespace pure16::nn
