// pure16/nn/factory.hpp — rebuild a layer of any scalar type from its LayerSpec.
#pragma once

#include <memory>
#include <pure16/nn/layer.hpp>
#include <stdexcept>

namespace pure16::nn {

template <Scalar T>
std::unique_ptr<Layer<T>> make_layer(const LayerSpec& spec) {
  throw std::invalid_argument("pure16: unknown layer type '" + spec.type + "'");
}

}  // namespace pure16::nn
