// pure16/nn/factory.hpp — rebuild a layer of any scalar type from its LayerSpec.
//
// Contract: make_layer<T>(spec) returns a new layer of spec.type with spec's arguments
// (parameters zero until reset_parameters or a load). It knows every pure16 layer:
//   "Dense"      in, out, [bias=1], [init=0]
//   "Conv2D"     in_channels, out_channels, kernel, [stride=1], [padding=0], [bias=1], [init=0]
//   "MaxPool2D"  kernel, [stride=kernel]         "AvgPool2D"  kernel, [stride=kernel]
//   "Flatten"  "ReLU"  "Tanh"  "Sigmoid"  "LeakyReLU" [slope=0.01]
//   "Dropout"    [p=0.5]
//   "BatchNorm"  num_features, [eps=1e-5], [momentum=0.1]
// An unknown type, a missing required argument, an argument that is not a valid size, or
// sizes whose product overflows throw pure16::InvalidArgument naming the type and argument.
// state_shapes(spec) lists the state tensors (name, shape) make_layer(spec) would allocate,
// parameters then buffers, computed from the spec alone: a file's claimed architecture can
// be checked against the tensors it holds before anything is allocated (io/model_file.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <pure16/error.hpp>
#include <pure16/nn/activations.hpp>
#include <pure16/nn/batchnorm.hpp>
#include <pure16/nn/conv2d.hpp>
#include <pure16/nn/dense.hpp>
#include <pure16/nn/dropout.hpp>
#include <pure16/nn/flatten.hpp>
#include <pure16/nn/init.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/pooling.hpp>
#include <pure16/size.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::nn {

namespace detail {
inline bool spec_flag(const LayerSpec& s, const std::string& key, bool fallback) {
  return s.get(key, fallback ? 1.0 : 0.0) != 0.0;
}
inline Init spec_init(const LayerSpec& s) {
  return init_from_code(s.get("init", 0.0));
}
}  // namespace detail

/// The state tensors of the layer make_layer(spec) builds, without building it.
inline std::vector<std::pair<std::string, Shape>> state_shapes(const LayerSpec& spec) {
  using detail::spec_flag;
  using detail::spec_size;
  const std::string& t = spec.type;
  std::vector<std::pair<std::string, Shape>> out;
  const auto checked = [&](Shape s) {
    checked_product(s, [&] { return "pure16: layer spec '" + t + "' parameter shape"; });
    return s;
  };
  if (t == "Dense") {
    const std::size_t in = spec_size(spec, "in"), o = spec_size(spec, "out");
    out.emplace_back("weight", checked({o, in}));
    if (spec_flag(spec, "bias", true)) out.emplace_back("bias", Shape{o});
  } else if (t == "Conv2D") {
    const std::size_t c = spec_size(spec, "in_channels"), o = spec_size(spec, "out_channels"),
                      k = spec_size(spec, "kernel");
    out.emplace_back("weight", checked({o, c, k, k}));
    if (spec_flag(spec, "bias", true)) out.emplace_back("bias", Shape{o});
  } else if (t == "BatchNorm") {
    const std::size_t f = spec_size(spec, "num_features");
    for (const char* n : {"weight", "bias", "running_mean", "running_var"})
      out.emplace_back(n, Shape{f});
  } else if (t != "MaxPool2D" && t != "AvgPool2D" && t != "Dropout" && t != "Flatten" &&
             t != "ReLU" && t != "Tanh" && t != "Sigmoid" && t != "LeakyReLU") {
    throw pure16::InvalidArgument("pure16: unknown layer type '" + t + "'");
  }
  return out;
}

template <Scalar T>
std::unique_ptr<Layer<T>> make_layer(const LayerSpec& spec) {
  using detail::spec_flag;
  using detail::spec_size;
  const std::string& t = spec.type;
  if (t == "Dense") {
    return std::make_unique<Dense<T>>(spec_size(spec, "in"), spec_size(spec, "out"),
                                      spec_flag(spec, "bias", true), detail::spec_init(spec));
  }
  if (t == "Conv2D") {
    return std::make_unique<Conv2D<T>>(
        spec_size(spec, "in_channels"), spec_size(spec, "out_channels"), spec_size(spec, "kernel"),
        spec_size(spec, "stride", 1, true), spec_size(spec, "padding", 0, false),
        spec_flag(spec, "bias", true), detail::spec_init(spec));
  }
  if (t == "MaxPool2D" || t == "AvgPool2D") {
    const std::size_t k = spec_size(spec, "kernel");
    const std::size_t s = spec_size(spec, "stride", static_cast<double>(k), true);
    if (t == "MaxPool2D") return std::make_unique<MaxPool2D<T>>(k, s);
    return std::make_unique<AvgPool2D<T>>(k, s);
  }
  if (t == "Dropout") return std::make_unique<Dropout<T>>(spec.get("p", 0.5));
  if (t == "BatchNorm") {
    return std::make_unique<BatchNorm<T>>(spec_size(spec, "num_features"), spec.get("eps", 1e-5),
                                          spec.get("momentum", 0.1));
  }
  if (t == "Flatten") return std::make_unique<Flatten<T>>();
  if (t == "ReLU") return std::make_unique<ReLU<T>>();
  if (t == "Tanh") return std::make_unique<Tanh<T>>();
  if (t == "Sigmoid") return std::make_unique<Sigmoid<T>>();
  if (t == "LeakyReLU") return std::make_unique<LeakyReLU<T>>(spec.get("slope", 0.01));
  throw pure16::InvalidArgument("pure16: unknown layer type '" + t + "'");
}

}  // namespace pure16::nn
