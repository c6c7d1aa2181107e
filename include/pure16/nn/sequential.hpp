// pure16/nn/sequential.hpp — Sequential<T>: a chain of layers, the model type of pure16.
//
// Contract:
//  * Sequential<T>(spec, input_shape) builds a model from a type-free description
//    (nn/spec.hpp) with shape inference; the same spec gives the same network in every T.
//  * add() appends a layer; the layer's index in the chain is its PyTorch Sequential
//    index, so state names are "<index>.<name>" ("0.weight", "3.running_mean", ...).
//  * forward(x, mode) runs every layer; backward(dy) runs them in reverse and leaves each
//    parameter's grad set for the last batch; it returns dL/dx only after
//    set_input_grad(true) (otherwise the first layer skips that work, as PyTorch does for
//    inputs that need no gradient, and backward returns an empty tensor). forward_trace() returns
//    every layer's output.
//  * init(seed) fills every parameter from one Rng seeded with `seed`, layer by layer, so a
//    Sequential<half> and a Sequential<float> with the same layers and seed start from the
//    same weights up to rounding.
//  * cast<U>() builds the twin model in scalar type U from the layer specs and copies every
//    parameter and buffer, rounded to nearest-even.
//  * An error raised inside a layer's forward or backward is rethrown with the layer's index
//    and type in front of its message ("layer 3 (Dense): ..."), same exception class for
//    pure16::InvalidArgument and pure16::LogicError.
//  * summary() prints one Keras-like row per layer (index, layer, per-sample output shape,
//    parameter count, bytes in T) and the totals.
#pragma once

#include <cstddef>
#include <iomanip>
#include <memory>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/nn/factory.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/spec.hpp>
#include <pure16/tensor.hpp>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pure16::nn {

/// A named view of a model's state tensor, PyTorch state_dict style.
template <Scalar T>
struct NamedTensor {
  std::string name;  // "<index>.<weight|bias|running_mean|running_var>"
  Tensor<T>* tensor;
  bool trainable;  // parameter (true) or buffer (false)
};

template <Scalar T>
class Sequential {
 public:
  using scalar_type = T;

  Sequential() = default;
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;

  /// The network `spec` for per-sample inputs of `input_shape` ({784}, {3, 32, 32}, ...),
  /// sizes inferred layer by layer; parameters are zero until init() or a load.
  Sequential(const Spec& spec, Shape input_shape) {
    for (auto& l : resolve(spec, input_shape)) add(make_layer<T>(l));
    input_shape_ = std::move(input_shape);
  }

  /// Append a layer; returns it.
  Layer<T>& add(std::unique_ptr<Layer<T>> layer) {
    if (!layer) throw pure16::InvalidArgument("pure16::Sequential::add: null layer");
    layer->set_accumulate(accumulate_);
    if (layers_.empty()) layer->set_needs_input_grad(input_grad_);
    layers_.push_back(std::move(layer));
    return *layers_.back();
  }
  /// Construct and append a layer of type L<T>: model.add<Dense>(784, 512).
  template <template <class> class L, class... Args>
  L<T>& add(Args&&... args) {
    auto p = std::make_unique<L<T>>(std::forward<Args>(args)...);
    L<T>& ref = *p;
    add(std::move(p));
    return ref;
  }

  std::size_t size() const { return layers_.size(); }
  Layer<T>& operator[](std::size_t i) { return *layers_.at(i); }
  const Layer<T>& operator[](std::size_t i) const { return *layers_.at(i); }

  Tensor<T> forward(const Tensor<T>& x, Mode mode = Mode::Eval) {
    Tensor<T> h = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = in_layer(i, "forward", [&] { return layers_[i]->forward(h, mode); });
    }
    return h;
  }

  /// Outputs of every layer for input x (element i is the output of layer i).
  std::vector<Tensor<T>> forward_trace(const Tensor<T>& x, Mode mode = Mode::Eval) {
    std::vector<Tensor<T>> outs;
    outs.reserve(layers_.size());
    Tensor<T> h = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = in_layer(i, "forward", [&] { return layers_[i]->forward(h, mode); });
      outs.push_back(h);
    }
    return outs;
  }

  /// Whether backward() returns dL/dx (default false: the first layer skips computing the
  /// gradient of the data, and backward() returns an empty tensor).
  void set_input_grad(bool on) {
    input_grad_ = on;
    if (!layers_.empty()) layers_.front()->set_needs_input_grad(on);
  }
  bool input_grad() const { return input_grad_; }

  Tensor<T> backward(const Tensor<T>& grad_out) {
    Tensor<T> g = grad_out;
    for (std::size_t i = layers_.size(); i-- > 0;) {
      g = in_layer(i, "backward", [&] { return layers_[i]->backward(g); });
    }
    return g;
  }

  std::vector<Parameter<T>*> parameters() {
    std::vector<Parameter<T>*> ps;
    for (auto& l : layers_)
      for (auto* p : l->parameters()) ps.push_back(p);
    return ps;
  }
  std::vector<const Parameter<T>*> parameters() const {
    auto ps = const_cast<Sequential*>(this)->parameters();
    return {ps.begin(), ps.end()};
  }

  /// Every parameter and buffer under its PyTorch state_dict name, in layer order.
  std::vector<NamedTensor<T>> state() {
    std::vector<NamedTensor<T>> out;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const std::string prefix = std::to_string(i) + ".";
      for (auto* p : layers_[i]->parameters()) out.push_back({prefix + p->name, &p->value, true});
      for (auto& b : layers_[i]->buffers()) out.push_back({prefix + b.name, b.value, false});
    }
    return out;
  }

  /// Per-sample input shape, when the model was built from a Spec or given one.
  const std::optional<Shape>& input_shape() const { return input_shape_; }
  void set_input_shape(Shape s) { input_shape_ = std::move(s); }

  void zero_grad() {
    for (auto* p : parameters()) p->grad.zero();
  }

  void init(std::uint64_t seed) {
    Rng rng(seed);
    for (auto& l : layers_) l->reset_parameters(rng);
    for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i]->set_seed(seed * 1000003u + i);
  }

  void set_accumulate(Accumulate a) {
    accumulate_ = a;
    for (auto& l : layers_) l->set_accumulate(a);
  }
  Accumulate accumulate() const { return accumulate_; }

  /// Number of trainable scalars.
  std::size_t parameter_count() const {
    std::size_t n = 0;
    for (auto* p : parameters()) n += p->value.size();
    return n;
  }
  /// Bytes of the model's state (parameters and buffers) in T: the size of its weights.
  std::size_t model_bytes() const {
    std::size_t n = 0;
    for (auto& t : const_cast<Sequential*>(this)->state()) n += t.tensor->bytes();
    return n;
  }

  std::vector<LayerSpec> specs() const {
    std::vector<LayerSpec> s;
    for (auto& l : layers_) s.push_back(l->spec());
    return s;
  }

  /// Build a model from layer specs (parameters zero until init() or a load).
  static Sequential from_specs(const std::vector<LayerSpec>& specs) {
    Sequential m;
    for (auto& s : specs) m.add(make_layer<T>(s));
    return m;
  }

  /// The twin model in scalar type U, weights and buffers rounded to nearest-even.
  template <Scalar U>
  Sequential<U> cast() {
    Sequential<U> m = Sequential<U>::from_specs(specs());
    m.set_accumulate(accumulate_);
    m.set_input_grad(input_grad_);
    if (input_shape_) m.set_input_shape(*input_shape_);
    auto src = state();
    auto dst = m.state();
    for (std::size_t i = 0; i < src.size(); ++i) {
      if (dst[i].tensor->shape() != src[i].tensor->shape()) {
        throw pure16::LogicError("pure16::Sequential::cast: shape mismatch for " + src[i].name);
      }
      dst[i].tensor->copy_from(pure16::cast<U>(*src[i].tensor));
    }
    return m;
  }

  /// Keras-like table: one row per layer (index, layer, per-sample output shape, trainable
  /// parameters, bytes of parameters and buffers in T), then the totals. Output shapes
  /// come from the model's input shape (a Spec-built model knows it; a Dense first layer
  /// implies it); without one they print as "?".
  std::string summary() const { return summary(input_shape_); }
  std::string summary(const std::optional<Shape>& input) const {
    std::optional<Shape> in = input;
    if (!in && !layers_.empty() && layers_.front()->spec().type == "Dense") {
      in = Shape{static_cast<std::size_t>(layers_.front()->spec().get("in"))};
    }
    std::vector<std::string> shapes(layers_.size(), "?");
    if (in) {
      Shape s = *in;
      for (std::size_t i = 0; i < layers_.size(); ++i) {
        s = output_shape(layers_[i]->spec(), s, i);
        shapes[i] = shape_str(s);
      }
    }
    std::ostringstream os;
    const std::string dtype(scalar_traits<T>::name);
    os << std::left << std::setw(4) << "#" << std::setw(40) << "layer" << std::setw(18)
       << "output shape" << std::right << std::setw(12) << "params" << std::setw(14)
       << ("bytes " + dtype) << '\n';
    std::size_t total_params = 0, total_bytes = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      auto& l = *layers_[i];
      std::size_t params = 0, bytes = 0;
      for (auto* p : l.parameters()) {
        params += p->value.size();
        bytes += p->value.bytes();
      }
      for (auto& b : l.buffers()) bytes += b.value->bytes();
      total_params += params;
      total_bytes += bytes;
      os << std::left << std::setw(4) << i << std::setw(40) << describe(l.spec()) << std::setw(18)
         << shapes[i] << std::right << std::setw(12) << params << std::setw(14) << bytes << '\n';
    }
    os << "input " << (in ? shape_str(*in) : std::string("?")) << ", " << layers_.size()
       << " layers, " << total_params << " trainable parameters, " << total_bytes
       << " bytes of weights in " << dtype << '\n';
    return os.str();
  }

  /// A one-line description of a layer spec: "Dense(784 -> 512)", "Conv2D(3 -> 32, 3x3, ...)".
  static std::string describe(const LayerSpec& s) {
    auto n = [&](const char* k) { return std::to_string(static_cast<long long>(s.get(k))); };
    std::ostringstream os;
    os << s.type;
    if (s.type == "Dense") {
      os << '(' << n("in") << " -> " << n("out") << (s.get("bias", 1) ? "" : ", no bias") << ')';
    } else if (s.type == "Conv2D") {
      os << '(' << n("in_channels") << " -> " << n("out_channels") << ", " << n("kernel") << 'x'
         << n("kernel");
      if (s.get("stride", 1) != 1) os << ", stride " << n("stride");
      if (s.get("padding", 0) != 0) os << ", pad " << n("padding");
      os << (s.get("bias", 1) ? "" : ", no bias") << ')';
    } else if (s.type == "MaxPool2D" || s.type == "AvgPool2D") {
      os << '(' << n("kernel");
      if (s.get("stride", s.get("kernel")) != s.get("kernel")) os << ", stride " << n("stride");
      os << ')';
    } else if (s.type == "BatchNorm") {
      os << '(' << n("num_features") << ')';
    } else if (!s.args.empty()) {
      os << '(';
      bool first = true;
      for (auto& [k, v] : s.args) {
        os << (first ? "" : ", ") << k << '=' << v;
        first = false;
      }
      os << ')';
    }
    return os.str();
  }

 private:
  /// Run f() for layer i; errors come out with the layer's index and type in front.
  template <class F>
  Tensor<T> in_layer(std::size_t i, const char* pass, F&& f) {
    try {
      return f();
    } catch (const pure16::InvalidArgument& e) {
      throw pure16::InvalidArgument(where(i, pass) + e.what());
    } catch (const pure16::LogicError& e) {
      throw pure16::LogicError(where(i, pass) + e.what());
    }
  }
  std::string where(std::size_t i, const char* pass) const {
    return "layer " + std::to_string(i) + " (" + layers_[i]->type() + ") " + pass + ": ";
  }

  std::vector<std::unique_ptr<Layer<T>>> layers_;
  Accumulate accumulate_ = Accumulate::Float;
  bool input_grad_ = false;
  std::optional<Shape> input_shape_;
};

}  // namespace pure16::nn
