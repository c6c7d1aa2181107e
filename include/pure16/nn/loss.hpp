// pure16/nn/loss.hpp — losses with their gradients, and row-wise helpers on logits.
//
// Contract:
//  * softmax_cross_entropy(logits [N, C], labels) returns the mean loss over the batch (a
//    double, for logging) and grad = (softmax(logits) - onehot(labels)) / N in T, fused:
//    per row m = max(logits) (exact in T), e_j = exp(x_j - m) formed in acc_t<T>, and
//    s = sum_j e_j under the Accumulate policy (Native: e_j rounded to T and the sum
//    rounded to T after each addition). loss_i = m + log(s) - x_label, grad_ij =
//    grad_scale * (e_j / s - [j == label]) / N rounded once to T (grad_scale = 1 unless a
//    loss scaler asks for more, see optim/mixed.hpp; the loss value is never scaled). Since x_j - m
//    <= 0 and s >= 1, no step overflows or divides by zero: loss and gradient are finite for finite
//    logits in every scalar type (e.g. fp16 logits of +-60000).
//  * softmax(logits) returns the probabilities [N, C] in T, same scheme.
//  * mse(pred, target) returns mean((pred - target)^2) over all elements and grad =
//    grad_scale * 2 (pred - target) / numel, each element rounded once to T.
//  * The loss value is reduced in double: it is a logging value, not part of the training
//    arithmetic, which is the gradient.
//  * argmax_rows(t [N, C]) gives the index of the largest value in each row (the first on
//    ties; a NaN counts as largest).
//  Bad shapes and labels outside [0, C) throw pure16::InvalidArgument naming them.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <pure16/error.hpp>
#include <pure16/nn/ops.hpp>
#include <pure16/tensor.hpp>
#include <span>
#include <string>
#include <vector>

namespace pure16::nn {

template <Scalar T>
struct LossOutput {
  double loss;     // mean loss over the batch
  Tensor<T> grad;  // dLoss/dInput, same shape as the input
};

namespace detail {
template <Scalar T>
void check_logits(const Tensor<T>& logits, const char* who) {
  if (logits.ndim() != 2 || logits.dim(1) == 0) {
    throw pure16::InvalidArgument(std::string("pure16::nn::") + who +
                                  ": expected logits [N, C] with C > 0, got " +
                                  shape_str(logits.shape()));
  }
}

/// Row max (in acc_t) and the policy-reduced sum of exp(x - max); e[j] receives the
/// exponentials as used in the sum (rounded to T under Native).
template <Scalar T>
void row_softmax_parts(const T* x, std::size_t c, Accumulate acc, acc_t<T>* e, acc_t<T>& m,
                       acc_t<T>& s) {
  using Acc = acc_t<T>;
  m = load(x[0]);
  for (std::size_t j = 1; j < c; ++j) {
    const Acc v = load(x[j]);
    if (v > m || std::isnan(v)) m = v;
  }
  Reducer<T> r(acc);
  const bool native = acc == Accumulate::Native;
  for (std::size_t j = 0; j < c; ++j) {
    Acc v = std::exp(load(x[j]) - m);
    if (native) v = through<T>(v);
    e[j] = v;
    r.add(v);
  }
  s = r.value();
}
}  // namespace detail

template <Scalar T>
LossOutput<T> softmax_cross_entropy(const Tensor<T>& logits, std::span<const std::int32_t> labels,
                                    Accumulate acc = Accumulate::Float, double grad_scale = 1.0) {
  using Acc = acc_t<T>;
  detail::check_logits(logits, "softmax_cross_entropy");
  const std::size_t n = logits.dim(0), c = logits.dim(1);
  if (labels.size() != n) {
    throw pure16::InvalidArgument(
        "pure16::nn::softmax_cross_entropy: " + std::to_string(labels.size()) + " labels for " +
        std::to_string(n) + " rows of logits");
  }
  LossOutput<T> out{0.0, Tensor<T>(logits.shape())};
  std::vector<Acc> e(c);
  const Acc inv_n = static_cast<Acc>(grad_scale) / static_cast<Acc>(n);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t y = labels[i];
    if (y < 0 || static_cast<std::size_t>(y) >= c) {
      throw pure16::InvalidArgument("pure16::nn::softmax_cross_entropy: label " +
                                    std::to_string(y) + " of row " + std::to_string(i) +
                                    " is outside [0, " + std::to_string(c) + ")");
    }
    const T* x = logits.data() + i * c;
    Acc m, s;
    detail::row_softmax_parts(x, c, acc, e.data(), m, s);
    const Acc lse = m + std::log(s);
    total += static_cast<double>(lse - load(x[y]));
    T* g = out.grad.data() + i * c;
    for (std::size_t j = 0; j < c; ++j) {
      const Acc p = e[j] / s;
      g[j] = store<T>((p - (static_cast<std::size_t>(y) == j ? Acc(1) : Acc(0))) * inv_n);
    }
  }
  out.loss = n ? total / static_cast<double>(n) : 0.0;
  return out;
}

template <Scalar T>
LossOutput<T> softmax_cross_entropy(const Tensor<T>& logits,
                                    const std::vector<std::int32_t>& labels,
                                    Accumulate acc = Accumulate::Float, double grad_scale = 1.0) {
  return softmax_cross_entropy(logits, std::span<const std::int32_t>(labels), acc, grad_scale);
}

/// Row-wise softmax probabilities in T.
template <Scalar T>
Tensor<T> softmax(const Tensor<T>& logits, Accumulate acc = Accumulate::Float) {
  using Acc = acc_t<T>;
  detail::check_logits(logits, "softmax");
  const std::size_t n = logits.dim(0), c = logits.dim(1);
  Tensor<T> p(logits.shape());
  std::vector<Acc> e(c);
  for (std::size_t i = 0; i < n; ++i) {
    Acc m, s;
    detail::row_softmax_parts(logits.data() + i * c, c, acc, e.data(), m, s);
    for (std::size_t j = 0; j < c; ++j) p[i * c + j] = store<T>(e[j] / s);
  }
  return p;
}

/// Mean squared error over all elements.
template <Scalar T>
LossOutput<T> mse(const Tensor<T>& pred, const Tensor<T>& target, double grad_scale = 1.0) {
  using Acc = acc_t<T>;
  if (pred.shape() != target.shape()) {
    throw pure16::InvalidArgument("pure16::nn::mse: prediction " + shape_str(pred.shape()) +
                                  " and target " + shape_str(target.shape()) + " differ in shape");
  }
  LossOutput<T> out{0.0, Tensor<T>(pred.shape())};
  const std::size_t n = pred.size();
  if (n == 0) return out;
  const Acc scale = static_cast<Acc>(2 * grad_scale) / static_cast<Acc>(n);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Acc d = load(pred[i]) - load(target[i]);
    total += static_cast<double>(d) * static_cast<double>(d);
    out.grad[i] = store<T>(d * scale);
  }
  out.loss = total / static_cast<double>(n);
  return out;
}

/// Index of the largest value of each row of a [N, C] tensor.
template <Scalar T>
std::vector<std::int32_t> argmax_rows(const Tensor<T>& t) {
  detail::check_logits(t, "argmax_rows");
  const std::size_t n = t.dim(0), c = t.dim(1);
  std::vector<std::int32_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const T* x = t.data() + i * c;
    std::size_t best = 0;
    double bv = static_cast<double>(x[0]);
    for (std::size_t j = 1; j < c && !std::isnan(bv); ++j) {
      const double v = static_cast<double>(x[j]);
      if (v > bv || std::isnan(v)) {
        bv = v;
        best = j;
      }
    }
    out[i] = static_cast<std::int32_t>(best);
  }
  return out;
}

}  // namespace pure16::nn
