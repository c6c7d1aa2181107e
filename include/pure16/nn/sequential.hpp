// pure16/nn/sequential.hpp — Sequential<T>: a chain of layers, the model type of pure16.
//
// Contract:
//  * add() appends a layer; the layer's index in the chain is its PyTorch Sequential
//    index, so state names are "<index>.<name>" ("0.weight", "3.running_mean", ...).
//  * forward(x, mode) runs every layer; backward(dy) runs them in reverse and leaves each
//    parameter's grad set for the last batch. forward_trace() returns every layer's output.
//  * init(seed) fills every parameter from one Rng seeded with `seed`, layer by layer, so a
//    Sequential<half> and a Sequential<float> with the same layers and seed start from the
//    same weights up to rounding.
//  * cast<U>() builds the twin model in scalar type U from the layer specs and copies every
//    parameter and buffer, rounded to nearest-even.
#pragma once

#include <cstddef>
#include <memory>
#include <pure16/error.hpp>
#include <pure16/nn/factory.hpp>
#include <pure16/nn/layer.hpp>
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

  /// Append a layer; returns it.
  Layer<T>& add(std::unique_ptr<Layer<T>> layer) {
    if (!layer) throw pure16::InvalidArgument("pure16::Sequential::add: null layer");
    layer->set_accumulate(accumulate_);
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
    for (auto& l : layers_) h = l->forward(h, mode);
    return h;
  }

  /// Outputs of every layer for input x (element i is the output of layer i).
  std::vector<Tensor<T>> forward_trace(const Tensor<T>& x, Mode mode = Mode::Eval) {
    std::vector<Tensor<T>> outs;
    outs.reserve(layers_.size());
    Tensor<T> h = x;
    for (auto& l : layers_) {
      h = l->forward(h, mode);
      outs.push_back(h);
    }
    return outs;
  }

  Tensor<T> backward(const Tensor<T>& grad_out) {
    Tensor<T> g = grad_out;
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) g = (*it)->backward(g);
    return g;
  }

  std::vector<Parameter<T>*> parameters() {
    std::vector<Parameter<T>*> ps;
    for (auto& l : layers_)
      for (auto* p : l->parameters()) ps.push_back(p);
    return ps;
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
  std::size_t parameter_count() {
    std::size_t n = 0;
    for (auto* p : parameters()) n += p->value.size();
    return n;
  }
  /// Bytes of the model's state (parameters and buffers) in T: the size of its weights.
  std::size_t model_bytes() {
    std::size_t n = 0;
    for (auto& t : state()) n += t.tensor->bytes();
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

  /// One line per layer: index, type, arguments, parameter count.
  std::string summary() const {
    std::ostringstream os;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      auto s = layers_[i]->spec();
      os << i << ": " << s.type;
      for (auto& [k, v] : s.args) os << ' ' << k << '=' << v;
      os << '\n';
    }
    return os.str();
  }

 private:
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  Accumulate accumulate_ = Accumulate::Float;
};

}  // namespace pure16::nn
