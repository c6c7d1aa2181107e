// pure16/nn/nn.hpp — umbrella header of pure16's neural-network layer: layers, losses,
// initializers, Sequential, the factory and the non-finite guard.
#pragma once

#include <pure16/nn/activations.hpp>
#include <pure16/nn/batchnorm.hpp>
#include <pure16/nn/conv2d.hpp>
#include <pure16/nn/dense.hpp>
#include <pure16/nn/dropout.hpp>
#include <pure16/nn/factory.hpp>
#include <pure16/nn/flatten.hpp>
#include <pure16/nn/guard.hpp>
#include <pure16/nn/init.hpp>
#include <pure16/nn/layer.hpp>
#include <pure16/nn/loss.hpp>
#include <pure16/nn/ops.hpp>
#include <pure16/nn/pooling.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/nn/spec.hpp>
#include <pure16/nn/zoo.hpp>
