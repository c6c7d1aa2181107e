// pure16/train/loss.hpp — the loss a training loop minimizes, with the metric that fits it.
//
// Contract:
//  * Loss<T> wraps a loss function of nn/loss.hpp's shape — output [N, ...] and targets in,
//    nn::LossOutput<T> (mean loss as a double, dLoss/dOutput in T) out — with what fit()
//    needs to know about it:
//      name            for logs ("softmax_cross_entropy", "mse", ...);
//      classification  true: accuracy (argmax of the output against the label) is reported;
//                      false (regression): no accuracy, only the loss;
//      values          true: the targets are the data set's real-valued targets
//                      (Dataset::set_targets), false: its integer labels.
//  * compute(output, targets, acc, grad_scale) returns the loss and grad_scale * dLoss/dOutput
//    (grad_scale is the loss scale of mixed precision, 1 otherwise). The built-in losses fold
//    the scale in before rounding the gradient to T once; a user loss gets its gradient
//    multiplied by grad_scale afterwards (exact for a power of two that does not overflow).
//  * cross_entropy<T>() (the default of fit), mse<T>(), and label_loss / value_loss to wrap
//    any user function f(output, labels) or f(output, target tensor).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <pure16/nn/loss.hpp>
#include <pure16/ops.hpp>
#include <pure16/tensor.hpp>
#include <span>
#include <string>
#include <utility>

namespace pure16::train {

/// A batch's targets: labels (classification) or a tensor of values (regression).
template <Scalar T>
struct Targets {
  std::span<const std::int32_t> labels;
  const Tensor<T>* values = nullptr;
};

template <Scalar T>
struct Loss {
  std::string name;
  bool classification = true;
  bool values = false;
  std::function<nn::LossOutput<T>(const Tensor<T>&, const Targets<T>&, Accumulate, double)> compute;
};

namespace detail {
/// grad *= s (in acc_t<T>, rounded once), for user losses under loss scaling.
template <Scalar T>
void scale_grad(Tensor<T>& g, double s) {
  if (s == 1.0) return;
  using Acc = acc_t<T>;
  const Acc f = static_cast<Acc>(s);
  Acc buf[kChunk];
  for (std::size_t k0 = 0; k0 < g.size(); k0 += kChunk) {
    const std::size_t c = std::min(kChunk, g.size() - k0);
    widen(g.data() + k0, buf, c);
    for (std::size_t k = 0; k < c; ++k) buf[k] *= f;
    narrow(buf, g.data() + k0, c);
  }
}
template <Scalar T>
const Tensor<T>& need_values(const Targets<T>& t, const std::string& name) {
  if (!t.values)
    throw pure16::InvalidArgument("pure16::train: loss '" + name + "' needs real-valued targets");
  return *t.values;
}
}  // namespace detail

/// Softmax cross-entropy over class labels (nn::softmax_cross_entropy); reports accuracy.
template <Scalar T>
Loss<T> cross_entropy() {
  return {"softmax_cross_entropy", true, false,
          [](const Tensor<T>& out, const Targets<T>& t, Accumulate acc, double s) {
            return nn::softmax_cross_entropy<T>(out, t.labels, acc, s);
          }};
}

/// Mean squared error against the data set's real-valued targets (nn::mse); no accuracy.
template <Scalar T>
Loss<T> mse() {
  return {"mse", false, true, [](const Tensor<T>& out, const Targets<T>& t, Accumulate, double s) {
            return nn::mse<T>(out, detail::need_values(t, "mse"), s);
          }};
}

/// A user loss f(output, labels) -> nn::LossOutput<T>.
template <Scalar T, class F>
Loss<T> label_loss(std::string name, F f, bool classification = true) {
  return {std::move(name), classification, false,
          [f = std::move(f)](const Tensor<T>& out, const Targets<T>& t, Accumulate, double s) {
            nn::LossOutput<T> r = f(out, t.labels);
            detail::scale_grad(r.grad, s);
            return r;
          }};
}

/// A user loss f(output, target values) -> nn::LossOutput<T> (regression; no accuracy).
template <Scalar T, class F>
Loss<T> value_loss(std::string name, F f) {
  Loss<T> l{std::move(name), false, true, {}};
  l.compute = [f = std::move(f), n = l.name](const Tensor<T>& out, const Targets<T>& t, Accumulate,
                                             double s) {
    nn::LossOutput<T> r = f(out, detail::need_values(t, n));
    detail::scale_grad(r.grad, s);
    return r;
  };
  return l;
}

}  // namespace pure16::train
