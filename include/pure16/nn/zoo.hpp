// pure16/nn/zoo.hpp — the reference networks of pure16's examples, benchmarks and studies,
// each described once as a type-free nn::Spec with its input shape.
//
// Contract: every function returns a Network {name, description, spec, input_shape};
// `Sequential<T>(net.spec, net.input_shape)` builds it in any scalar type. The networks:
//  * mnist_mlp      784-512-512-10 ReLU MLP (the research's "DNN"); input {784}.
//  * lenet          LeNet-style CNN: conv 5x5 6 pad 2, ReLU, maxpool 2, conv 5x5 16, ReLU,
//                   maxpool 2, dense 120 ReLU, dense 84 ReLU, dense 10; input {1, 28, 28}.
//  * cifar_small_cnn  three blocks of 3x3 conv ('same' padding; 32, 64, 64 channels)
//                   [+ BatchNorm] + ReLU + maxpool 2, then dense 128 ReLU, dense 10;
//                   input {3, 32, 32}.
//  * cifar_alexnet  the CIFAR-10 AlexNet variant of the published pure 16-bit training code:
//                   conv 64 stride 2, maxpool 2, conv 96, maxpool 3/2, conv 256, conv 256,
//                   conv 512, maxpool 3/2, dense 4096 tanh, dropout 0.5, dense 4096 tanh,
//                   dropout 0.5, dense 10 (3x3 convolutions, 'same' padding, ReLU; 'valid'
//                   pooling: 32 -> 16 -> 8 -> 3 -> 1, so the flattened size is 512);
//                   input {3, 32, 32}.
//  * mnist_autoencoder  784-256-64-256-784 (ReLU, sigmoid output) for MSE reconstruction.
#pragma once

#include <pure16/nn/spec.hpp>
#include <pure16/tensor.hpp>
#include <string>

namespace pure16::nn::zoo {

struct Network {
  std::string name;         // "mnist_mlp", "lenet", ...
  std::string description;  // one line for tables and reports
  Spec spec;
  Shape input_shape;  // per sample, without the batch dimension
};

inline Network mnist_mlp() {
  return {"mnist_mlp",
          "784-512-512-10 ReLU MLP",
          {dense(512), relu(), dense(512), relu(), dense(10)},
          {784}};
}

inline Network lenet() {
  return {"lenet",
          "LeNet-style CNN (6c5-p2-16c5-p2-120-84-10)",
          {conv2d(6, {.kernel = 5, .padding = 2}), relu(), max_pool2d(2), conv2d(16, {.kernel = 5}),
           relu(), max_pool2d(2), flatten(), dense(120), relu(), dense(84), relu(), dense(10)},
          {1, 28, 28}};
}

struct SmallCnnOptions {
  bool batch_norm = false;  // BatchNorm after each convolution (before its ReLU)
};
inline Network cifar_small_cnn(SmallCnnOptions o = {}) {
  Spec s;
  for (std::size_t channels : {32, 64, 64}) {
    s.add(conv2d(channels, {.kernel = 3, .padding = 1}));
    if (o.batch_norm) s.add(batch_norm());
    s.add(relu()).add(max_pool2d(2));
  }
  s.add(flatten()).add(dense(128)).add(relu()).add(dense(10));
  return {o.batch_norm ? "cifar_small_cnn_bn" : "cifar_small_cnn",
          o.batch_norm ? "small CNN with BatchNorm (c32-bn-p2-c64-bn-p2-c64-bn-p2-128-10)"
                       : "small CNN (c32-p2-c64-p2-c64-p2-128-10)",
          s,
          {3, 32, 32}};
}

inline Network cifar_alexnet() {
  return {"cifar_alexnet",
          "AlexNet variant (c64s2-p2-c96-p3s2-c256-c256-c512-p3s2-4096t-4096t-10, dropout 0.5)",
          {conv2d(64, {.kernel = 3, .stride = 2, .padding = 1}),
           relu(),
           max_pool2d(2),
           conv2d(96, {.kernel = 3, .padding = 1}),
           relu(),
           max_pool2d(3, {.stride = 2}),
           conv2d(256, {.kernel = 3, .padding = 1}),
           relu(),
           conv2d(256, {.kernel = 3, .padding = 1}),
           relu(),
           conv2d(512, {.kernel = 3, .padding = 1}),
           relu(),
           max_pool2d(3, {.stride = 2}),
           flatten(),
           dense(4096),
           tanh(),
           dropout(0.5),
           dense(4096),
           tanh(),
           dropout(0.5),
           dense(10)},
          {3, 32, 32}};
}

inline Network mnist_autoencoder() {
  return {"mnist_autoencoder",
          "784-256-64-256-784 autoencoder (ReLU, sigmoid output)",
          {dense(256), relu(), dense(64), relu(), dense(256), relu(), dense(784), sigmoid()},
          {784}};
}

}  // namespace pure16::nn::zoo
