// pure16/optim/optim.hpp — umbrella header of pure16's optimizers: SGD, RMSProp, Adam,
// AdamW, the epsilon policy, mixed precision and optim::make (an optimizer by name).
#pragma once

#include <pure16/optim/adam.hpp>
#include <pure16/optim/epsilon.hpp>
#include <pure16/optim/make.hpp>
#include <pure16/optim/mixed.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/optim/rmsprop.hpp>
#include <pure16/optim/sgd.hpp>
