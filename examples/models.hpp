// examples/models.hpp — the networks pure16's examples train, each described once as a
// function over the scalar type, so that every example (and precision_report) builds the
// very same model in fp16, bf16, fp32 or fp64.
#pragma once

#include <pure16/nn/nn.hpp>

namespace examples {

/// 784-512-512-10 ReLU MLP (MNIST, Fashion-MNIST); input [N, 784].
template <class T>
void build_mnist_mlp(pure16::nn::Sequential<T>& m) {
  using namespace pure16::nn;
  m.template add<Dense>(784, 512);
  m.template add<ReLU>();
  m.template add<Dense>(512, 512);
  m.template add<ReLU>();
  m.template add<Dense>(512, 10);
}

/// Small CIFAR-10 CNN: three blocks of 3x3 conv ('same' padding; 32, 64, 64 channels) +
/// ReLU + maxpool 2, then dense 128 ReLU, dense 10; input [N, 3, 32, 32].
template <class T>
void build_cifar_small_cnn(pure16::nn::Sequential<T>& m) {
  using namespace pure16::nn;
  m.template add<Conv2D>(3, 32, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(2);
  m.template add<Conv2D>(32, 64, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(2);
  m.template add<Conv2D>(64, 64, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(2);
  m.template add<Flatten>();
  m.template add<Dense>(1024, 128);
  m.template add<ReLU>();
  m.template add<Dense>(128, 10);
}

}  // namespace examples
