// examples/optimizer.hpp — the optimizer an example's options name.
#pragma once

#include <memory>
#include <pure16/error.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/optim/optim.hpp>
#include <string>

#include "cli.hpp"

namespace examples {

/// The optimizer `name` over the model's parameters.
template <pure16::Scalar T>
std::unique_ptr<pure16::optim::Optimizer<T>> make_optimizer(pure16::nn::Sequential<T>& model,
                                                            const Options& o) {
  namespace optim = pure16::optim;
  const std::string& n = o.optimizer;
  if (n == "sgd" || n == "momentum" || n == "nesterov") {
    optim::SGDOptions so;
    so.lr = o.lr;
    so.momentum = n == "sgd" ? 0.0 : o.momentum;
    so.nesterov = n == "nesterov";
    so.weight_decay = o.weight_decay;
    return std::make_unique<optim::SGD<T>>(model.parameters(), so);
  }
  if (n == "adam") {
    optim::AdamOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    return std::make_unique<optim::Adam<T>>(model.parameters(), ao);
  }
  if (n == "adamw") {
    optim::AdamWOptions ao;  // decoupled weight decay, 0.01 unless --weight-decay is given
    ao.lr = o.lr;
    if (o.weight_decay > 0) ao.weight_decay = o.weight_decay;
    return std::make_unique<optim::AdamW<T>>(model.parameters(), ao);
  }
  if (n == "rmsprop") {
    optim::RMSPropOptions ro;
    ro.lr = o.lr;
    ro.weight_decay = o.weight_decay;
    return std::make_unique<optim::RMSProp<T>>(model.parameters(), ro);
  }
  throw pure16::InvalidArgument("unknown optimizer '" + n + "'");
}

}  // namespace examples
