// pure16/parameter.hpp — a trainable tensor and its gradient, the unit optimizers update.
//
// Contract: value and grad have the same shape and the model's scalar type T; name is the
// PyTorch parameter name within its layer ("weight", "bias"). Layers own their Parameters;
// optimizers hold pointers to them (stable for the layer's lifetime).
#pragma once

#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <string>

namespace pure16 {

template <Scalar T>
struct Parameter {
  std::string name;  // "weight" or "bias" (PyTorch names)
  Tensor<T> value;
  Tensor<T> grad;
};

}  // namespace pure16
