// pure16/nn/layer.hpp — the layer interface every pure16 layer implements.
//
// Contract:
//  * A Layer<T> keeps all its state in T: parameters, their gradients, cached activations
//    and buffers (e.g. batch-norm running statistics).
//  * forward(x, mode) caches what backward needs (in Mode::Train; Eval may skip caching).
//  * backward(dy) returns dL/dx (an empty tensor when needs_input_grad() is false: the
//    layer then skips that computation, e.g. as the first layer, whose input is data) and
//    OVERWRITES each parameter's grad with dL/dparam for
//    the batch of the last forward (it does not accumulate across calls).
//  * spec() describes the layer (type name + numeric hyper-parameters) so that a layer of
//    another scalar type can be rebuilt from it (nn/factory.hpp) — this is how
//    Sequential<T>::cast<U>() and weights files rebuild a model.
//  * Parameter and buffer names follow PyTorch ("weight", "bias", "running_mean",
//    "running_var"), and tensor layouts too (Linear weight [out, in], Conv2d weight
//    [out, in, kh, kw]), so that state moves to and from torch.nn.Sequential.
#pragma once

#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/parameter.hpp>
#include <pure16/random.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::nn {

enum class Mode { Train, Eval };

/// A trainable tensor and its gradient (pure16/parameter.hpp).
using pure16::Parameter;

/// A named non-trainable state tensor (e.g. "running_mean").
template <Scalar T>
struct Buffer {
  std::string name;
  Tensor<T>* value;
};

/// Type name and numeric hyper-parameters of a layer, independent of its scalar type.
struct LayerSpec {
  std::string type;                    // "Dense", "Conv2D", "ReLU", ...
  std::map<std::string, double> args;  // "in", "out", "kernel", "stride", ...

  double get(const std::string& key) const {
    auto it = args.find(key);
    if (it == args.end()) {
      throw pure16::InvalidArgument("pure16: layer spec '" + type + "' has no argument '" + key +
                                    "'");
    }
    return it->second;
  }
  double get(const std::string& key, double fallback) const {
    auto it = args.find(key);
    return it == args.end() ? fallback : it->second;
  }
  bool operator==(const LayerSpec&) const = default;
};

namespace detail {
/// A non-negative integer argument of a spec (required when no fallback is given); the
/// one check of size arguments, used by the factory and by shape inference (nn/spec.hpp).
inline std::size_t spec_size(const LayerSpec& s, const std::string& key, bool positive = true) {
  const double v = s.get(key);
  if (!std::isfinite(v) || v < (positive ? 1 : 0) || v != std::floor(v) || v > 1e15) {
    throw pure16::InvalidArgument("pure16: layer spec '" + s.type + "' argument '" + key +
                                  "' = " + std::to_string(v) + " is not a valid " +
                                  (positive ? "positive" : "non-negative") + " integer");
  }
  return static_cast<std::size_t>(v);
}
inline std::size_t spec_size(const LayerSpec& s, const std::string& key, double fallback,
                             bool positive) {
  if (!s.args.count(key)) return static_cast<std::size_t>(fallback);
  return spec_size(s, key, positive);
}
}  // namespace detail

template <Scalar T>
class Layer {
 public:
  virtual ~Layer() = default;

  virtual LayerSpec spec() const = 0;
  virtual Tensor<T> forward(const Tensor<T>& x, Mode mode) = 0;
  virtual Tensor<T> backward(const Tensor<T>& grad_out) = 0;

  virtual std::vector<Parameter<T>*> parameters() { return {}; }
  virtual std::vector<Buffer<T>> buffers() { return {}; }

  /// Fill parameters from `rng` (computed in double, rounded once to T), so that layers of
  /// different scalar types fed the same generator state get the same values up to rounding.
  virtual void reset_parameters(Rng& /*rng*/) {}

  /// Reduction policy for the layer's dot products and sums.
  virtual void set_accumulate(Accumulate a) { accumulate_ = a; }
  Accumulate accumulate() const { return accumulate_; }

  /// Seed of any randomness the layer uses while training (dropout masks).
  virtual void set_seed(std::uint64_t /*seed*/) {}
  /// State of that randomness, for checkpoints that resume bit-identically.
  virtual std::optional<Rng::State> rng_state() const { return std::nullopt; }
  virtual void set_rng_state(const Rng::State& /*state*/) {}

  std::string type() const { return spec().type; }

  /// Whether backward() must compute dL/dx (default true). Sequential turns it off for its
  /// first layer unless asked for the input gradient (PyTorch skips it the same way).
  void set_needs_input_grad(bool on) { needs_input_grad_ = on; }
  bool needs_input_grad() const { return needs_input_grad_; }

 protected:
  Accumulate accumulate_ = Accumulate::Float;
  bool needs_input_grad_ = true;
};

}  // namespace pure16::nn
