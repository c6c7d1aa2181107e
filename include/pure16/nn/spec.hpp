// pure16/nn/spec.hpp — a network described once, without a scalar type, with shape inference.
//
//   using namespace pure16::nn;
//   Spec net = {conv2d(32, {.kernel = 3, .padding = 1}), relu(), max_pool2d(2),
//               flatten(), dense(128), relu(), dense(10)};
//   Sequential<half> m16(net, {3, 32, 32});   // the same network in fp16 ...
//   Sequential<float> m32(net, {3, 32, 32});  // ... and in fp32
//
// Contract:
//  * A Spec is a list of layer descriptions (LayerSpec) in which the sizes that follow from
//    the previous layer's output — Dense "in", Conv2D "in_channels", BatchNorm
//    "num_features" — are left out. resolve(spec, input_shape) fills them in from the
//    per-sample input shape (without the batch dimension: {784}, {1, 28, 28}, {3, 32, 32})
//    and returns complete LayerSpecs, the ones nn/factory.hpp builds in any scalar type.
//    A size given explicitly is kept and checked against the inferred one.
//  * output_shape(layer, in) is the per-sample output shape of one complete layer; every
//    mismatch (a Dense after an image without flatten(), a kernel larger than its padded
//    input, a channel count that disagrees) throws pure16::InvalidArgument naming the
//    layer's index, its type and both shapes.
//  * The builder functions take the common argument positionally and the rest as named
//    options (designated initializers), so that `Conv2D(3, 32, 3, 1, 1)`'s five integers
//    cannot be swapped silently.
#pragma once

#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/nn/init.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/tensor.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::nn {

/// A network described once, independent of the scalar type.
class Spec {
 public:
  Spec() = default;
  Spec(std::initializer_list<LayerSpec> layers) : layers_(layers) {}
  explicit Spec(std::vector<LayerSpec> layers) : layers_(std::move(layers)) {}

  /// Append one layer (or every layer of another Spec).
  Spec& add(LayerSpec layer) {
    layers_.push_back(std::move(layer));
    return *this;
  }
  Spec& add(const Spec& more) {
    layers_.insert(layers_.end(), more.layers_.begin(), more.layers_.end());
    return *this;
  }

  const std::vector<LayerSpec>& layers() const { return layers_; }
  std::size_t size() const { return layers_.size(); }
  bool operator==(const Spec&) const = default;

 private:
  std::vector<LayerSpec> layers_;
};

// ---- builders --------------------------------------------------------------------------

struct DenseOptions {
  bool bias = true;
  Init init = Init::Default;
};
/// Fully connected layer with `out` features; its input size comes from the previous layer.
inline LayerSpec dense(std::size_t out, DenseOptions o = {}) {
  LayerSpec s{"Dense", {{"out", double(out)}, {"bias", o.bias ? 1.0 : 0.0}}};
  if (o.init != Init::Default) s.args["init"] = static_cast<double>(o.init);
  return s;
}

struct Conv2DOptions {
  std::size_t kernel = 3;
  std::size_t stride = 1;
  std::size_t padding = 0;
  bool bias = true;
  Init init = Init::Default;
};
/// 2-D convolution to `out_channels` channels; input channels come from the previous layer.
inline LayerSpec conv2d(std::size_t out_channels, Conv2DOptions o = {}) {
  LayerSpec s{"Conv2D",
              {{"out_channels", double(out_channels)},
               {"kernel", double(o.kernel)},
               {"stride", double(o.stride)},
               {"padding", double(o.padding)},
               {"bias", o.bias ? 1.0 : 0.0}}};
  if (o.init != Init::Default) s.args["init"] = static_cast<double>(o.init);
  return s;
}

struct PoolOptions {
  std::size_t stride = 0;  // 0: the kernel size (non-overlapping windows)
};
inline LayerSpec max_pool2d(std::size_t kernel, PoolOptions o = {}) {
  return {"MaxPool2D",
          {{"kernel", double(kernel)}, {"stride", double(o.stride ? o.stride : kernel)}}};
}
inline LayerSpec avg_pool2d(std::size_t kernel, PoolOptions o = {}) {
  return {"AvgPool2D",
          {{"kernel", double(kernel)}, {"stride", double(o.stride ? o.stride : kernel)}}};
}

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
};
/// Batch normalization over the channels of the previous layer's output.
inline LayerSpec batch_norm(BatchNormOptions o = {}) {
  return {"BatchNorm", {{"eps", o.eps}, {"momentum", o.momentum}}};
}

inline LayerSpec flatten() {
  return {"Flatten", {}};
}
inline LayerSpec relu() {
  return {"ReLU", {}};
}
inline LayerSpec tanh() {
  return {"Tanh", {}};
}
inline LayerSpec sigmoid() {
  return {"Sigmoid", {}};
}
inline LayerSpec leaky_relu(double slope = 0.01) {
  return {"LeakyReLU", {{"slope", slope}}};
}
inline LayerSpec dropout(double p = 0.5) {
  return {"Dropout", {{"p", p}}};
}

// ---- shape inference -------------------------------------------------------------------

namespace detail {

inline std::string layer_label(std::size_t index, const LayerSpec& l) {
  return "layer " + std::to_string(index) + " (" + l.type + ")";
}

[[noreturn]] inline void shape_fail(std::size_t index, const LayerSpec& l, const Shape& in,
                                    const std::string& why) {
  throw pure16::InvalidArgument("pure16::nn: " + layer_label(index, l) + " with input shape " +
                                shape_str(in) + ": " + why);
}

/// A size argument (detail::spec_size), required unless `fallback` is given; errors name the
/// layer's index and type.
inline std::size_t size_arg(std::size_t index, const LayerSpec& l, const std::string& key,
                            std::optional<double> fallback, bool allow_zero = false) {
  try {
    return fallback ? spec_size(l, key, *fallback, !allow_zero) : spec_size(l, key, !allow_zero);
  } catch (const pure16::InvalidArgument& e) {
    throw pure16::InvalidArgument("pure16::nn: " + layer_label(index, l) + ": " + e.what());
  }
}

/// Fill `key` with `inferred`, or check an explicit value against it.
inline void infer_arg(std::size_t index, LayerSpec& l, const Shape& in, const std::string& key,
                      std::size_t inferred) {
  auto it = l.args.find(key);
  if (it == l.args.end()) {
    l.args[key] = double(inferred);
  } else if (size_arg(index, l, key, std::nullopt) != inferred) {
    shape_fail(index, l, in,
               "'" + key + "' is " + std::to_string(size_arg(index, l, key, std::nullopt)) +
                   " but the input has " + std::to_string(inferred));
  }
}

inline std::size_t window_out(std::size_t index, const LayerSpec& l, const Shape& in, std::size_t n,
                              std::size_t kernel, std::size_t stride, std::size_t padding) {
  if (n + 2 * padding < kernel) {
    shape_fail(index, l, in,
               "kernel " + std::to_string(kernel) + " is larger than the padded input " +
                   std::to_string(n + 2 * padding));
  }
  return (n + 2 * padding - kernel) / stride + 1;
}

/// Complete `l` from the per-sample input shape and return its per-sample output shape.
inline Shape infer(std::size_t index, LayerSpec& l, const Shape& in) {
  const std::string& t = l.type;
  auto need_image = [&] {
    if (in.size() != 3) shape_fail(index, l, in, "expects a [C, H, W] image per sample");
  };
  if (t == "Dense") {
    if (in.size() != 1) {
      shape_fail(index, l, in, "expects a vector per sample (add flatten() before it)");
    }
    infer_arg(index, l, in, "in", in[0]);
    return {size_arg(index, l, "out", std::nullopt)};
  }
  if (t == "Conv2D") {
    need_image();
    infer_arg(index, l, in, "in_channels", in[0]);
    const std::size_t k = size_arg(index, l, "kernel", std::nullopt),
                      s = size_arg(index, l, "stride", 1),
                      p = size_arg(index, l, "padding", 0, true);
    return {size_arg(index, l, "out_channels", std::nullopt),
            window_out(index, l, in, in[1], k, s, p), window_out(index, l, in, in[2], k, s, p)};
  }
  if (t == "MaxPool2D" || t == "AvgPool2D") {
    need_image();
    const std::size_t k = size_arg(index, l, "kernel", std::nullopt);
    const std::size_t s = size_arg(index, l, "stride", double(k));
    return {in[0], window_out(index, l, in, in[1], k, s, 0),
            window_out(index, l, in, in[2], k, s, 0)};
  }
  if (t == "BatchNorm") {
    if (in.size() != 1 && in.size() != 3) {
      shape_fail(index, l, in, "expects [C] or [C, H, W] per sample");
    }
    infer_arg(index, l, in, "num_features", in[0]);
    return in;
  }
  if (t == "Flatten") return {shape_size(in)};
  if (t == "ReLU" || t == "Tanh" || t == "Sigmoid" || t == "LeakyReLU" || t == "Dropout") {
    return in;
  }
  throw pure16::InvalidArgument("pure16::nn: " + layer_label(index, l) +
                                " is an unknown layer type");
}

}  // namespace detail

/// Per-sample output shape of a complete layer description (the `index` names it in errors).
inline Shape output_shape(const LayerSpec& layer, const Shape& in, std::size_t index = 0) {
  LayerSpec l = layer;
  return detail::infer(index, l, in);
}

/// The complete layer specs of `spec` for per-sample inputs of shape `input_shape`.
inline std::vector<LayerSpec> resolve(const Spec& spec, const Shape& input_shape) {
  if (input_shape.empty() || shape_size(input_shape) == 0) {
    throw pure16::InvalidArgument("pure16::nn: input shape " + shape_str(input_shape) +
                                  " is empty");
  }
  std::vector<LayerSpec> out = spec.layers();
  Shape s = input_shape;
  for (std::size_t i = 0; i < out.size(); ++i) s = detail::infer(i, out[i], s);
  return out;
}

/// Per-sample output shape of every layer of `spec` (element i: the output of layer i).
inline std::vector<Shape> layer_shapes(const Spec& spec, const Shape& input_shape) {
  std::vector<LayerSpec> ls = spec.layers();
  std::vector<Shape> shapes;
  Shape s = input_shape;
  for (std::size_t i = 0; i < ls.size(); ++i) shapes.push_back(s = detail::infer(i, ls[i], s));
  return shapes;
}

}  // namespace pure16::nn
