// pure16/optim/optim.hpp — umbrella header of pure16's optimizers: SGD, RMSProp, Adam,
// AdamW, and the epsilon policy.
#pragma once

#include <pure16/optim/adam.hpp>
#include <pure16/optim/epsilon.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/optim/rmsprop.hpp>
#include <pure16/optim/sgd.hpp>
